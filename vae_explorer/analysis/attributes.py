"""Attribute vectors: the mean code of group 2 minus the mean code of group 1 is a direction in
the latent space ("add glasses", "make it a circle"); a point moved along it by alpha and decoded
shows what the direction changes. Works for any latent size; for a conditional VAE the class is
passed to the decoder separately, so the same codes apply."""
from __future__ import annotations

import numpy as np


def attribute_vector(codes, group1, group2) -> np.ndarray:
    """mean(codes[group2]) - mean(codes[group1]); groups are index arrays."""
    codes = np.asarray(codes, np.float64)
    g1, g2 = np.asarray(group1, np.int64), np.asarray(group2, np.int64)
    if len(g1) == 0 or len(g2) == 0:
        raise ValueError("both groups need at least one point")
    return (codes[g2].mean(0) - codes[g1].mean(0)).astype(np.float32)


def apply(z, vector, alpha: float) -> np.ndarray:
    return (np.asarray(z, np.float32) + np.float32(alpha) * np.asarray(vector, np.float32))


def filmstrip_latents(z, vector, alphas) -> np.ndarray:
    """(len(alphas), d): z moved by each alpha along the vector."""
    a = np.asarray(alphas, np.float32)[:, None]
    return (np.asarray(z, np.float32)[None] + a * np.asarray(vector, np.float32)[None])


def label_group(labels, label: int) -> np.ndarray:
    return np.flatnonzero(np.asarray(labels) == label)


def read_selection(value, n: int) -> np.ndarray | None:
    """An index list kept in the session by someone else (S1 / S2), checked: distinct ints in
    [0, n). None when absent, empty or not a list of indices."""
    if value is None:
        return None
    try:
        a = np.asarray(list(value))
    except TypeError:
        return None
    if a.ndim != 1 or len(a) == 0 or not np.issubdtype(a.dtype, np.integer):
        return None
    a = np.unique(a)
    return a if a[0] >= 0 and a[-1] < n else None
