"""Small generated checkpoints for the explorer tests (random weights, no training, no network)."""
from __future__ import annotations

from pathlib import Path

import torch

from vae_training.checkpoint import build_metadata, save_checkpoint
from vae_training.config import DataConfig, ModelConfig, TrainConfig
from vae_training.model import VAE

SHAPE_NAMES = ["square", "circle", "triangle", "cross", "heart", "ring"]


def make_checkpoint(path: Path, latent_dim: int = 2, arch: str = "conv", hidden=(8, 16),
                    num_classes: int = 0, dataset: str = "shapes", seed: int = 0,
                    label_names=None, train: TrainConfig | None = None) -> Path:
    torch.manual_seed(seed)
    mc = ModelConfig(arch=arch, image_shape=[1, 28, 28], latent_dim=latent_dim,
                     hidden=list(hidden), num_classes=num_classes).validate()
    dc = DataConfig(dataset=dataset, image_shape=[1, 28, 28],
                    label_names=list(SHAPE_NAMES if label_names is None else label_names))
    model = VAE(mc)
    history = [{"epoch": 1, "train_loss": 200.0, "test_loss": 190.0, "train_kl": 3.0,
                "test_kl": 3.1, "train_recon": 197.0, "test_recon": 187.0}]
    doc = build_metadata(mc, dc, train or TrainConfig(epochs=1), history=history,
                         metrics={"test_loss": 190.0, "note": "<b>not html</b>"})
    return save_checkpoint(path, model, doc)


def app_env(monkeypatch, ck_dir, tmp_path):
    """Point an AppTest / server at test checkpoints, a fresh cache and a data root that does not
    exist (the tests make their own data). Returns that data root."""
    no_data = tmp_path / "no-data-here"
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(ck_dir))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VAE_DATA_ROOT", str(no_data))
    return no_data

