"""Which images the map shows: load a dataset split through training.data, subsample it with
a fixed seed, and name the sample for cache keys. Plain functions, no streamlit.

torch (through training.data) is imported only when the files must actually be read: a warm
open finds the sample in the disk cache and never needs it.
"""
from __future__ import annotations

import hashlib

import numpy as np


class DataMissing(Exception):
    """The checkpoint's dataset is not on this machine (message says how to get it)."""


def load_split(dataset: str, root: str, split: str = "test", n: int = 10_000,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, C, H, W) and int labels of `split` ("test" or "train+test"),
    subsampled to at most n points with a fixed seed (the test split first, in order)."""
    from training.data import DatasetUnavailable, load_dataset

    def one(s: str):
        try:
            ds = load_dataset(dataset, root=root, split=s, download=False)
        except DatasetUnavailable as e:
            raise DataMissing(str(e)) from None
        return ds.images.numpy(), ds.labels.numpy().astype(np.int64)

    xs, ys = one("test")
    if split == "train+test" and len(xs) < n:
        xt, yt = one("train")
        rng = np.random.default_rng(seed)
        take = rng.permutation(len(xt))[: n - len(xs)]
        take.sort()
        xs, ys = np.concatenate([xs, xt[take]]), np.concatenate([ys, yt[take]])
    if len(xs) > n:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.permutation(len(xs))[:n])
        xs, ys = xs[idx], ys[idx]
    return np.ascontiguousarray(xs), ys


def data_key(dataset: str, split: str, x: np.ndarray, y: np.ndarray) -> str:
    """Identity of an encoded sample for cache keys: name, split, size and a content hash."""
    fp = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()[:16]
    fy = hashlib.sha256(np.ascontiguousarray(y).tobytes()).hexdigest()[:8]
    return f"{dataset}:{split}:{len(y)}:{fp}{fy}"
