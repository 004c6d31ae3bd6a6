"""Where the MLP's bf16 training step stands against its alternatives, alternated in one process.

    python bench/mlp_step.py [--threads 2] [--rounds 8] [--steps 40] [--data-root ../shared/datasets]

MLP 784-400-20, batch 128, fused Adam 1e-3, real MNIST batches; one model + optimizer per variant
(same initial weights), run in turns (A B C A B C ...) so that a change of load falls on all alike:

  math mode   what the trainer does for an MLP on the CPU in bf16: fp32 tensors, oneDNN's bf16
              math mode for the matmuls (vae_training.system.bf16_matmuls), no autocast
  autocast    the previous bf16 step: torch.autocast(bfloat16) around the forward pass
  fp32        --precision fp32

Per variant: CPU ms (time.process_time) and wall ms per step, median [min-max] over the rounds.
Then the data path of one epoch apart from the steps: indexing the uint8 batches (index_select,
as BatchIterator does, against advanced indexing) and converting them to float. The load average
is printed before and after: CPU time moves with what runs on the other cores, so compare only
figures of one run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vae_training import objective, system  # noqa: E402
from vae_training.config import ModelConfig  # noqa: E402
from vae_training.data import load_dataset, to_data_space  # noqa: E402
from vae_training.model import VAE  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def make_step(mode: str, init: dict, batches: list):
    model = VAE(ModelConfig(arch="mlp", image_shape=[1, 28, 28], hidden=[400], latent_dim=20))
    model.load_state_dict(init)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    acc = torch.zeros(3)
    cpu = torch.device("cpu")
    precision = "fp32" if mode == "fp32" else "bf16"
    arch = "mlp" if mode == "math mode" else ""  # "": bf16_kind falls back to autocast

    def run(n: int, start: int) -> None:
        with system.bf16_matmuls(mode == "math mode"):
            for i in range(start, start + n):
                x = to_data_space(batches[i % len(batches)])
                with system.autocast(cpu, precision, arch):
                    r = objective.negative_elbo(model, x, likelihood="bernoulli")
                opt.zero_grad(set_to_none=True)
                r["loss"].backward()
                opt.step()
                acc.add_(torch.stack([r["loss"], r["recon"], r["kl"]]).detach())
        acc.tolist()  # the epoch's host sync
    return run


def fmt(xs: list[float]) -> str:
    return f"{statistics.median(xs):6.2f} [{min(xs):.2f}-{max(xs):.2f}]"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=0, help="0: the trainer's default")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--steps", type=int, default=40, help="steps per variant per round")
    p.add_argument("--data-root", default="../shared/datasets")
    a = p.parse_args()
    threads = system.set_threads(a.threads)
    train = load_dataset("mnist", a.data_root, "train", False)
    perm = torch.randperm(len(train.images), generator=torch.Generator().manual_seed(1))
    nb = max(1, min(200, len(train.images) // 128))  # 200 distinct batches, cycled
    batches = [train.images.index_select(0, perm[i:i + 128]) for i in range(0, 128 * nb, 128)]
    torch.manual_seed(1)
    init = VAE(ModelConfig(arch="mlp", image_shape=[1, 28, 28], hidden=[400],
                           latent_dim=20)).state_dict()
    modes = ("math mode", "autocast", "fp32")
    steps = {m: make_step(m, init, batches) for m in modes}
    print(f"MLP 784-400-20 step, batch 128, {threads} threads, {a.rounds} rounds x {a.steps} "
          f"steps; bf16 natively: {system.cpu_has_bf16()}; {load()}", flush=True)
    for m in modes:
        steps[m](10, 0)  # warm-up
    cpu: dict[str, list[float]] = {m: [] for m in modes}
    wall: dict[str, list[float]] = {m: [] for m in modes}
    for r in range(a.rounds):
        for m in modes:
            c0, w0 = time.process_time(), time.perf_counter()
            steps[m](a.steps, r * a.steps)
            cpu[m].append((time.process_time() - c0) / a.steps * 1e3)
            wall[m].append((time.perf_counter() - w0) / a.steps * 1e3)
    print(f"  {'variant':10}  CPU ms/step median [min-max]   wall ms/step median [min-max]")
    for m in modes:
        print(f"  {m:10}  {fmt(cpu[m]):28}  {fmt(wall[m])}")

    images, n = train.images, len(train.images)
    perm = torch.randperm(n)
    parts = {"x[idx]": lambda i: images[perm[i:i + 128]],
             "index_select": lambda i: images.index_select(0, perm[i:i + 128]),
             "index_select + to float": lambda i: to_data_space(
                 images.index_select(0, perm[i:i + 128]))}
    print(f"  data path, one epoch ({-(-n // 128)} batches), CPU ms median [min-max]:")
    for name, f in parts.items():
        xs = []
        for _ in range(3):
            c0 = time.process_time()
            for i in range(0, n, 128):
                f(i)
            xs.append((time.process_time() - c0) * 1e3)
        print(f"    {name:24} {fmt(xs)}")
    print(f"  {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
