"""Training speed, side by side: pytorch/examples/vae as written vs our trainer with no flags (bf16
where the CPU has it, the idle cores as threads, fused Adam), each run in a fresh process as a
user runs it (a process's CPU settings and thread pool carry over from one run to the next).

    python bench/train_speed.py [--repeat 3] [--epochs 2] [--only speed,ttq,conv]

speed  MLP 784-400-20, batch 128, Adam 1e-3: per-epoch seconds (training loop only) of the
       tutorial, ours with no flags, and ours with --precision fp32 (same threads), each run
       --repeat times; min / median / max over all epochs; test -ELBO after the same epochs.
ttq    time to quality: wall seconds (set-up, training and the per-epoch test pass) until test
       -ELBO <= --target nats (108), tutorial vs ours with no flags; each run's set-up, train and
       test seconds printed apart.
conv   conv 32-64 / dense 256 / z=16 on dynamically binarised MNIST: ours with no flags vs
       --precision fp32 --threads 1 (the previous defaults).
threads  (not in the default set) ours in bf16 at --threads 1 and --threads 2, MLP (--epochs)
       and conv (1 epoch): the measurements behind the default thread count (vae_training.system).

The load average is printed before and after each part: run it on an idle machine (the figures
of docs/benchmarks.md say which). Needs MNIST under --data-root (torchvision layout).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TORCH_DEFAULT_THREADS = torch.get_num_threads()  # what the tutorial gets, as a user runs it


# --------------------------------------------------------------------------------------------
# the reference: pytorch/examples vae/main.py (network, loss, loops), printing silenced


class TutorialVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def run_tutorial(root: str, device: torch.device, epochs: int, seed: int,
                 target: float | None = None) -> dict:
    """main.py's train(epoch) / test(epoch), timed; stops early once test -ELBO <= target."""
    t_start = time.perf_counter()  # set-up includes the script's imports beyond torch's own
    from torchvision import datasets, transforms

    torch.set_num_threads(TORCH_DEFAULT_THREADS)
    torch.manual_seed(seed)
    kwargs = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    train_loader = torch.utils.data.DataLoader(
        datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor()),
        batch_size=128, shuffle=True, **kwargs)
    test_loader = torch.utils.data.DataLoader(
        datasets.MNIST(root, train=False, transform=transforms.ToTensor()),
        batch_size=128, shuffle=False, **kwargs)
    model = TutorialVAE().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    res = {"times": [], "tests": [], "walls": [], "test_times": [],
           "threads": torch.get_num_threads(), "precision": "fp32",
           "setup": time.perf_counter() - t_start}
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        for batch_idx, (data, _) in enumerate(train_loader):
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            loss.item()  # the tutorial sums loss.item() every step
            optimizer.step()
            if batch_idx % 10 == 0:  # the tutorial prints here; we keep the string formatting
                _ = f"Train Epoch: {epoch} [{batch_idx * len(data)}]\tLoss: {loss.item():.6f}"
        if device.type == "cuda":
            torch.cuda.synchronize()
        res["times"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for data, _ in test_loader:
                data = data.to(device)
                recon_batch, mu, logvar = model(data)
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
        res["tests"].append(test_loss / len(test_loader.dataset))
        res["test_times"].append(time.perf_counter() - t0)
        res["walls"].append(time.perf_counter() - t_start)
        if target is not None and res["tests"][-1] <= target:
            break
    return res


def run_ours(root: str, device: torch.device, epochs: int, seed: int, target: float | None = None,
             **flags) -> dict:
    """Our loop (setup_run / train_one_epoch, as train() runs it) plus the test -ELBO each epoch;
    no checkpoint or PNG writing. flags: RunConfig fields (none: the defaults a user gets)."""
    t_start = time.perf_counter()  # as run_tutorial: our imports count (in a fresh process,
    from vae_training.evaluate import test_elbo  # torch.optim's first Adam imports
    from vae_training.train import RunConfig, setup_run, train_one_epoch  # torch._dynamo, ~1 s)

    over = dict(preset="mlp-400-20")
    over.update(flags)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = RunConfig(dataset="mnist", data_root=root, epochs=epochs, seed=seed,
                        device=device.type, out=str(Path(tmp) / "run"), progress=False,
                        images=False, final_eval=False, download=False, **over)
        run = setup_run(cfg, device, 0, 1)
        res = {"times": [], "tests": [], "walls": [], "test_times": [],
               "threads": torch.get_num_threads(), "precision": run.cfg.precision,
               "setup": time.perf_counter() - t_start}
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            train_one_epoch(run, epoch)
            res["times"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            tm = test_elbo(run.model, run.test_ds.images, run.test_ds.labels, cfg.preprocess,
                           device, seed=seed + 1000, binarize=cfg.binarize)
            run.model.train()
            res["tests"].append(tm["test_loss"])
            res["test_times"].append(time.perf_counter() - t0)
            res["walls"].append(time.perf_counter() - t_start)
            if target is not None and tm["test_loss"] <= target:
                break
    return res


# --------------------------------------------------------------------------------------------
# reporting


def load() -> str:
    try:
        return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "load average n/a"


def fresh(fn, *args, **kw):
    """fn(*args, **kw) in a new Python process: each run starts as a user's would, with torch's
    thread pool and the CPU's per-thread modes (subnormals, vae_training.system) set up by that
    run alone, not inherited from the run before it in the same process."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args, **kw).result()


def spread(xs: list[float]) -> str:
    finite = all(x < float("inf") for x in xs)
    return (f"{min(xs):6.2f} {statistics.median(xs):6.2f} {max(xs):6.2f}"
            + (f"  (sd {statistics.stdev(xs):.2f}, n={len(xs)})" if len(xs) > 1 and finite
               else ""))


def repeated(sides: dict, repeat: int) -> list[dict]:
    """Run each side `repeat` times, interleaved (A B C A B C ...) so that a change of load
    during the benchmark falls on all sides alike; one summary per side."""
    runs: dict[str, list] = {name: [] for name in sides}
    for i in range(repeat):
        for name, fn in sides.items():
            r = fn()
            runs[name].append(r)
            print(f"  {name:28} run {i + 1}: s/epoch " + " ".join(f"{t:.2f}" for t in r["times"])
                  + f"  test -ELBO {r['tests'][-1]:.2f}  ({r['threads']} threads, "
                    f"{r['precision']})", flush=True)
    return [{"name": name, "times": [t for r in rs for t in r["times"]],
             "tests": [r["tests"][-1] for r in rs]} for name, rs in runs.items()]


def table(rows: list[dict], base: dict) -> None:
    print(f"\n  {'':28}{'s/epoch min median max':>22}   test -ELBO (each run), time vs "
          f"{base['name']}")
    bm = statistics.median(base["times"])
    for r in rows:
        ratio = statistics.median(r["times"]) / bm
        print(f"  {r['name']:28}{spread(r['times']):>20}   "
              + " ".join(f"{t:.2f}" for t in r["tests"]) + f"   {ratio:.2f}x the time")


def part_speed(a, dev) -> None:
    print(f"\n== speed: MLP 784-400-20, batch 128, {a.epochs} epochs x {a.repeat} runs; {load()}")
    tut, ours, fp32 = repeated({
        "tutorial (as written)": lambda: fresh(run_tutorial, a.data_root, dev, a.epochs, a.seed),
        "ours (no flags)": lambda: fresh(run_ours, a.data_root, dev, a.epochs, a.seed),
        "ours --precision fp32": lambda: fresh(run_ours, a.data_root, dev, a.epochs, a.seed,
                                               precision="fp32")}, a.repeat)
    table([tut, ours, fp32], tut)
    gap = statistics.median(ours["tests"]) - statistics.median(fp32["tests"])
    print(f"  target: ours <= 1/3 of the tutorial's time; test -ELBO within 0.5 nats of fp32 "
          f"(median difference {gap:+.2f})\n  {load()}")


def phases(r: dict) -> dict:
    """Where a run's wall time went: set-up (data, model, optimizer), the training loops and the
    per-epoch test passes (the rest: bookkeeping between them)."""
    return {"set-up": r["setup"], "train": sum(r["times"]), "test": sum(r["test_times"])}


def part_ttq(a, dev) -> None:
    print(f"\n== time to quality: wall seconds until test -ELBO <= {a.target} (MLP 784-400-20, "
          f"at most {a.max_epochs} epochs); {load()}")
    sides = {"tutorial (as written)": lambda: fresh(run_tutorial, a.data_root, dev,
                                                    a.max_epochs, a.seed, a.target),
             "ours (no flags)": lambda: fresh(run_ours, a.data_root, dev, a.max_epochs, a.seed,
                                              a.target)}
    medians: dict[str, list[float]] = {name: [] for name in sides}
    parts: dict[str, list[dict]] = {name: [] for name in sides}
    for i in range(a.repeat):  # interleaved, as in repeated()
        for name, fn in sides.items():
            r = fn()
            hit = r["tests"][-1] <= a.target
            medians[name].append(r["walls"][-1] if hit else float("inf"))
            ph = phases(r)
            parts[name].append(ph)
            print(f"  {name:28} run {i + 1}: {r['walls'][-1]:7.2f} s wall = "
                  + " + ".join(f"{k} {v:.2f}" for k, v in ph.items())
                  + f" s, {len(r['tests'])} epochs, test -ELBO {r['tests'][-1]:.2f}"
                  + ("" if hit else "  (target not reached)"), flush=True)
    for name, walls in medians.items():
        print(f"  {name:28} wall s min/median/max: {spread(walls)}")
        print(f"  {name:28} median s: " + ", ".join(
            f"{k} {statistics.median(p[k] for p in parts[name]):.2f}" for k in parts[name][0]))
    ours, tut = (statistics.median(medians[k]) for k in ("ours (no flags)",
                                                          "tutorial (as written)"))
    ratio = f"{ours / tut:.2f}" if ours < float("inf") > tut else "n/a (target not reached)"
    print(f"  ours / tutorial (medians): {ratio}; target <= 0.33\n  {load()}")


def part_conv(a, dev) -> None:
    conv = dict(preset="", arch="conv", hidden=[32, 64], dense=256, latent_dim=16,
                binarize="dynamic")
    print(f"\n== conv 32-64 / dense 256 / z=16, binarised MNIST, {a.epochs} epochs x {a.repeat} "
          f"runs; {load()}")
    old, new = repeated({
        "--precision fp32 --threads 1": lambda: fresh(run_ours, a.data_root, dev, a.epochs,
                                                      a.seed, precision="fp32", threads=1,
                                                      **conv),
        "ours (no flags)": lambda: fresh(run_ours, a.data_root, dev, a.epochs, a.seed, **conv)},
        a.repeat)
    table([old, new], old)
    gap = statistics.median(new["tests"]) - statistics.median(old["tests"])
    print(f"  target: no flags <= 1/3 of the fp32/1-thread time; test -ELBO within 0.5 nats "
          f"(median difference {gap:+.2f})\n  {load()}")


def part_threads(a, dev) -> None:
    """The thread policy's evidence: our default (bf16) at 1 and at 2 threads, MLP and conv."""
    conv = dict(preset="", arch="conv", hidden=[32, 64], dense=256, latent_dim=16,
                binarize="dynamic")
    for name, model in (("MLP 784-400-20", {}), ("conv 32-64 / dense 256 / z=16", conv)):
        epochs = a.epochs if not model else 1
        print(f"\n== threads: {name}, bf16, {epochs} epochs x {a.repeat} runs; {load()}")
        one, two = repeated({
            "ours --threads 1": lambda: fresh(run_ours, a.data_root, dev, epochs, a.seed,
                                              threads=1, **model),
            "ours --threads 2": lambda: fresh(run_ours, a.data_root, dev, epochs, a.seed,
                                              threads=2, **model)}, a.repeat)
        table([one, two], one)
    print(f"  {load()}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=2, help="epochs per run (speed, conv)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each side")
    p.add_argument("--only", default="speed,ttq,conv",
                   help="comma-separated parts to run (also: threads, 1 vs 2 threads for ours)")
    p.add_argument("--target", type=float, default=108.0, help="ttq: test -ELBO to reach")
    p.add_argument("--max-epochs", type=int, default=12, help="ttq: give up after this many")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--data-root", default="../shared/datasets")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    from vae_training import system
    from vae_training.checkpoint import hardware_string

    dev = system.pick_device(a.device)
    if not (Path(a.data_root) / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        print(f"MNIST not found under {a.data_root}/MNIST/raw/", file=sys.stderr)
        return 2
    hw = hardware_string(dev) if dev.type == "cuda" else \
        f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"{hw}; torch {torch.__version__}; bf16 natively: {system.bf16_supported(dev)}; "
          f"torch default threads {TORCH_DEFAULT_THREADS}; {load()}", flush=True)
    parts = {"speed": part_speed, "ttq": part_ttq, "conv": part_conv, "threads": part_threads}
    for name in a.only.split(","):
        parts[name.strip()](a, dev)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
