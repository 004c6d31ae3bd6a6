"""Small data helpers for the training tests: tiny IDX files that torchvision's real loader reads."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parent.parent
SHARED_DATASETS = (REPO / ".." / "shared" / "datasets").resolve()


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> None:
    """Write a uint8 array in the IDX format MNIST uses (magic 0x0800 | ndim)."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    head = struct.pack(">I", 0x0800 | arr.ndim) + b"".join(struct.pack(">I", s) for s in arr.shape)
    data = head + arr.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def make_fake_mnist(root: Path, folder: str = "MNIST", n_train: int = 64, n_test: int = 32,
                    seed: int = 0) -> dict:
    """Tiny MNIST-format files under root/<folder>/raw/ with the names torchvision 0.29 reads."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(root / folder / "raw" / f"{split}-images-idx3-ubyte", imgs)
        write_idx(root / folder / "raw" / f"{split}-labels-idx1-ubyte", labels)
        out[split] = (imgs, labels)
    return out

