"""Which images the map shows: load a dataset split through vae_training.data, subsample it with
a fixed seed, and name the sample for cache keys. Plain functions, no streamlit.

torch (through vae_training.data) is imported only when the files must actually be read: a warm
open finds the sample in the disk cache and never needs it.
"""
from __future__ import annotations

import hashlib

import numpy as np


class DataMissing(Exception):
    """The checkpoint's dataset is not on this machine. str() is one sentence (what is missing,
    where to put it, how to get it); `details` has the full listing for an expander."""

    def __init__(self, sentence: str, details: str = ""):
        super().__init__(sentence)
        self.details = details


def _code(s: str) -> str:
    """A path or file name as a Markdown code span (pages show the sentence with st.warning)."""
    return "`" + str(s).replace("`", "'") + "`"


def missing_sentence(e, root: str) -> str:
    """One sentence for a teacher from a vae_training.data.DatasetUnavailable: no exception names,
    no command-line flags."""
    where = "pick a data root that has them (Data root, under Data in the sidebar)"
    if getattr(e, "files", ()) and getattr(e, "what", ""):
        files = [_code(f) for f in e.files]
        listed = ", ".join(files[:-1]) + " and " + files[-1] if len(files) > 1 else files[0]
        folder = str(e.folder).rstrip("/\\") + "/"
        return (f"{e.what} are not in {_code(root)}: put {listed} in {_code(folder)}, or {where}, "
                "or run once with internet access to download them.")
    first = str(e).splitlines()[0] if str(e) else "The dataset is not available."
    return f"{first} Put the files there, or {where}."


SPLIT_SIZES = {  # (test, train) images of each split, as torchvision and vae_training.shapes ship them
    "mnist": (10_000, 60_000), "fashion-mnist": (10_000, 60_000), "kmnist": (10_000, 60_000),
    "cifar10": (10_000, 50_000), "shapes": (5_000, 20_000),
    "shapes-rgb": (3_000, 12_000),
}


def split_size(dataset: str, split: str) -> int | None:
    """Images in `split` ("test" or "train+test") of a known dataset; None when unknown
    (image folders, CelebA: only loading them tells)."""
    sizes = SPLIT_SIZES.get(dataset)
    if sizes is None:
        return None
    return sizes[0] if split == "test" else sizes[0] + sizes[1]


def size_options(sizes: list[int], available: int | None) -> list[int]:
    """Choices for "Points on the map": the sizes below what the split has, then its real size
    (a 5,000-image split offers 1,000, 2,000, 5,000, never 10,000)."""
    if not available or available <= 0:
        return list(sizes)
    return [s for s in sizes if s < available] + [int(available)]


def default_size(options: list[int], want: int = 10_000) -> int:
    """The largest option not above `want` (the smallest option if all are)."""
    below = [s for s in options if s <= want]
    return max(below) if below else min(options)


def _pick(one, split: str, n: int, seed: int) -> tuple[np.ndarray, ...]:
    """The sample's rows of the arrays one(s) gives for split s: the test split first, in order,
    topped up from the training split for "train+test", then subsampled to n with a fixed seed."""
    parts = one("test")
    if split == "train+test" and len(parts[0]) < n:
        train = one("train")
        rng = np.random.default_rng(seed)
        take = rng.permutation(len(train[0]))[: n - len(parts[0])]
        take.sort()
        parts = tuple(np.concatenate([a, b[take]]) for a, b in zip(parts, train))
    if len(parts[0]) > n:
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.permutation(len(parts[0]))[:n])
        parts = tuple(a[idx] for a in parts)
    return parts


def load_split(dataset: str, root: str, split: str = "test", n: int = 10_000,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, C, H, W) and int labels of `split` ("test" or "train+test"),
    subsampled to at most n points with a fixed seed (the test split first, in order)."""
    from vae_training.data import DatasetUnavailable, load_dataset

    def one(s: str):
        try:
            ds = load_dataset(dataset, root=root, split=s, download=False)
        except DatasetUnavailable as e:
            raise DataMissing(missing_sentence(e, root), e.details) from None
        return ds.images.numpy(), ds.labels.numpy().astype(np.int64)

    xs, ys = _pick(one, split, n, seed)
    return np.ascontiguousarray(xs), ys


def load_factors(dataset: str, split: str = "test", n: int = 10_000, seed: int = 0):
    """(factors (N, F) float32, names) of the same sample load_split gives, for datasets with
    known generative factors (the built-in shapes sets); None for the others."""
    from vae_training import builtin  # numpy only: no torch on a warm open

    mod = builtin.module(dataset)
    if mod is None:
        return None
    _, f = _pick(mod.load_factors, split, n, seed)
    return np.ascontiguousarray(f, dtype=np.float32), list(mod.FACTOR_NAMES)


def data_key(dataset: str, split: str, x: np.ndarray, y: np.ndarray) -> str:
    """Identity of an encoded sample for cache keys: name, split, size and a content hash."""
    fp = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()[:16]
    fy = hashlib.sha256(np.ascontiguousarray(y).tobytes()).hexdigest()[:8]
    return f"{dataset}:{split}:{len(y)}:{fp}{fy}"
