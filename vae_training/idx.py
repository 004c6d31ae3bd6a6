"""MNIST-format (IDX) files read straight into numpy arrays.

MNIST, Fashion-MNIST and KMNIST ship as four IDX files each (raw/<split>-images-idx3-ubyte,
raw/<split>-labels-idx1-ubyte, or their .gz copies). Reading them here instead of through
torchvision's dataset classes skips importing torchvision.datasets, which is most of the cost of
loading MNIST (0.95-1.1 s -> 0.05-0.17 s for both splits in a fresh process on the loaded 2-core
EPYC, docs/benchmarks.md). vae_training.data keeps torchvision for downloading missing files.

IDX: a 4-byte magic (0, 0, type code, number of dimensions), one big-endian uint32 per
dimension, then the values in C order. These datasets use type 0x08 (unsigned byte) only.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

UBYTE = 0x08
MAX_DIMS = 4


class IdxError(ValueError):
    """A file that is not a well-formed uint8 IDX file."""


def parse_idx(data: bytes | bytearray, name: str = "IDX data") -> np.ndarray:
    """The uint8 array held in an IDX file's bytes (copied into a writable array)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise IdxError(f"{name}: not an IDX file (bad magic number)")
    if data[2] != UBYTE:
        raise IdxError(f"{name}: IDX type 0x{data[2]:02x}, expected 0x08 (unsigned byte)")
    ndim = data[3]
    if not 1 <= ndim <= MAX_DIMS or len(data) < 4 + 4 * ndim:
        raise IdxError(f"{name}: {ndim} dimensions in the header, or the header is cut short")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    start = 4 + 4 * ndim
    size = int(np.prod(shape, dtype=np.int64))
    if len(data) - start != size:
        raise IdxError(f"{name}: the header says {shape} = {size:,} values, the file holds "
                       f"{len(data) - start:,}")
    # np.frombuffer over bytes is read-only; torch.from_numpy wants a writable array
    return np.frombuffer(data, dtype=np.uint8, count=size, offset=start).reshape(shape).copy()


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file, plain or gzip-compressed (by its .gz suffix)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return parse_idx(f.read(), str(path))


def find(raw: str | Path, name: str) -> Path | None:
    """raw/name, else raw/name.gz, else None."""
    for p in (Path(raw) / name, Path(raw) / f"{name}.gz"):
        if p.is_file():
            return p
    return None


def load_split(raw: str | Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(images uint8 (N, H, W), labels uint8 (N,)) of one split ("train" or "test") from an
    MNIST-style raw/ folder, or None when either file is missing. Raises IdxError on a file that
    is there but malformed, or on images and labels that do not match."""
    prefix = "t10k" if split == "test" else "train"
    img_path = find(raw, f"{prefix}-images-idx3-ubyte")
    lab_path = find(raw, f"{prefix}-labels-idx1-ubyte")
    if img_path is None or lab_path is None:
        return None
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise IdxError(f"{img_path} holds {images.shape} and {lab_path} holds {labels.shape}: "
                       f"expected (N, H, W) images and N labels")
    return images, labels
