"""Training speed: our trainer's fast path vs the PyTorch examples/vae reference loop.

    python bench/train_speed.py [--epochs 2] [--device auto|cpu|cuda] [--data-root DIR]

Both train the same MLP 784-400-20 VAE on the same MNIST files, batch 128, Adam 1e-3, BCE (sum)
+ KL, on the same device, for the same number of epochs. The reference is pytorch/examples/vae
as written: torchvision MNIST + transforms.ToTensor() + DataLoader(shuffle=True), a .item() per
step, sigmoid + binary_cross_entropy, torch's default thread count. Ours keeps uint8 MNIST on
the device, indexes shuffled batches, uses BCE-with-logits, syncs once per epoch, bf16 autocast on
CUDA, and picks the CPU thread count deliberately. Seconds per epoch are the training loop only
(the test pass is timed separately); test loss is the negative ELBO per test image for both.

Needs only torch + torchvision (+ safetensors/numpy, which the training package uses).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


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


def run_tutorial(root: str, device: torch.device, epochs: int, seed: int):
    from torchvision import datasets, transforms

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
    times, log = [], []
    test_loss = float("nan")
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        train_loss = 0
        for batch_idx, (data, _) in enumerate(train_loader):
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            if batch_idx % 10 == 0:  # the tutorial prints here; we keep the string formatting
                log.append(f"Train Epoch: {epoch} [{batch_idx * len(data)}/"
                           f"{len(train_loader.dataset)}]\tLoss: {loss.item() / len(data):.6f}")
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        model.eval()
        test_loss = 0
        with torch.no_grad():
            for data, _ in test_loader:
                data = data.to(device)
                recon_batch, mu, logvar = model(data)
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
        test_loss /= len(test_loader.dataset)
        print(f"  tutorial epoch {epoch}: {times[-1]:.2f}s  train {train_loss / 60000:.2f}  "
              f"test {test_loss:.2f}", flush=True)
    return times, test_loss


def run_ours(root: str, device: torch.device, epochs: int, seed: int, threads: int,
             compile_: bool):
    from vae_training.checkpoint import load_checkpoint
    from vae_training.train import RunConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        out = train(RunConfig(dataset="mnist", data_root=root, preset="mlp-400-20",
                              epochs=epochs, batch_size=128, lr=1e-3, seed=seed,
                              device=device.type, threads=threads, compile=compile_,
                              out=str(Path(tmp) / "run"), progress=False, images=False,
                              final_eval=False, download=False))
        ck = load_checkpoint(out / "model.safetensors")
    times = [r["seconds"] for r in ck.history]
    return times, ck.history[-1]["test_loss"], torch.get_num_threads()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--data-root", default="../shared/datasets")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0,
                   help="our trainer's CPU threads (0: its default); the tutorial keeps torch's")
    p.add_argument("--tutorial-threads", type=int, default=0,
                   help="CPU threads for the tutorial loop (0: torch's default, as a user gets)")
    p.add_argument("--compile", action="store_true", help="torch.compile our model")
    p.add_argument("--skip-tutorial", action="store_true")
    a = p.parse_args()
    dev = torch.device("cuda" if a.device == "auto" and torch.cuda.is_available()
                       else ("cpu" if a.device == "auto" else a.device))
    if not (Path(a.data_root) / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        print(f"MNIST not found under {a.data_root}/MNIST/raw/", file=sys.stderr)
        return 2
    from vae_training.checkpoint import hardware_string

    if a.tutorial_threads:
        torch.set_num_threads(a.tutorial_threads)
    default_threads = torch.get_num_threads()
    if dev.type == "cuda":
        hw = hardware_string(dev)
    else:
        hw = f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"device: {hw}; torch {torch.__version__}; epochs {a.epochs}; batch 128", flush=True)
    tut_times, tut_test = [float("nan")], float("nan")
    if not a.skip_tutorial:
        print(f"tutorial loop (torch default threads: {default_threads})", flush=True)
        tut_times, tut_test = run_tutorial(a.data_root, dev, a.epochs, a.seed)
    print("our trainer", flush=True)
    our_times, our_test, our_threads = run_ours(a.data_root, dev, a.epochs, a.seed, a.threads,
                                                a.compile)
    # the first epoch includes warm-up (allocator, cuDNN/compile); report mean and best
    tm, om = sum(tut_times) / len(tut_times), sum(our_times) / len(our_times)
    print()
    print(f"{'':22}{'s/epoch (mean)':>16}{'s/epoch (best)':>16}{'test loss':>12}")
    print(f"{'tutorial reference':22}{tm:16.2f}{min(tut_times):16.2f}{tut_test:12.2f}"
          f"   threads {default_threads}")
    print(f"{'ours (fast path)':22}{om:16.2f}{min(our_times):16.2f}{our_test:12.2f}"
          f"   threads {our_threads}")
    print(f"speed-up: {tm / om:.1f}x (mean), {min(tut_times) / min(our_times):.1f}x (best epoch)")
    print(f"hardware: {hw}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
