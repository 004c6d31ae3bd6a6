"""The files of a run directory besides the checkpoint: metrics.csv, the PNG grids, and the RNG
states that trainer_state.pt keeps for an exact --resume."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import torch

from . import objective
from .config import DataConfig, ModelConfig
from .data import Dataset, to_data_space, to_unit

CSV_FIELDS = ["epoch", "train_loss", "train_recon", "train_kl", "test_loss", "test_recon",
              "test_kl", "seconds", "beta"]


def write_csv(path: Path, history: list[dict]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for row in history:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    os.replace(tmp, path)


@torch.no_grad()
def save_grids(model, test: Dataset, mc: ModelConfig, dc: DataConfig, out: Path, epoch: int,
               device: torch.device, seed: int) -> None:
    from torchvision.utils import save_image

    model = objective.unwrap(model)
    was = model.training
    model.eval()
    cond = mc.num_classes > 0
    x = to_data_space(test.images[:8].to(device), dc.preprocess)
    y = test.labels[:8].to(device) if cond else None
    mu, _ = model.encode(x, y)
    rec = model.mean_image(mu, y)
    grid = torch.cat([to_unit(x, dc.preprocess), to_unit(rec.float(), dc.preprocess)])
    save_image(grid.cpu(), out / f"recon_epoch{epoch:03d}.png", nrow=8, padding=1)
    g = torch.Generator().manual_seed(seed + 7)
    z = torch.randn(64, mc.latent_dim, generator=g).to(device)
    ys = (torch.arange(64) % mc.num_classes).to(device) if cond else None
    s = to_unit(model.mean_image(z, ys).float(), dc.preprocess)
    save_image(s.cpu(), out / f"samples_epoch{epoch:03d}.png", nrow=8, padding=1)
    model.train(was)


def rng_state(batch_gen: torch.Generator, device: torch.device) -> dict:
    st = {"torch": torch.get_rng_state(), "batch_order": batch_gen.get_state()}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state(device)
    return st


def set_rng_state(st: dict, batch_gen: torch.Generator, device: torch.device) -> None:
    torch.set_rng_state(st["torch"])
    batch_gen.set_state(st["batch_order"])
    if device.type == "cuda" and "cuda" in st:
        torch.cuda.set_rng_state(st["cuda"], device)
