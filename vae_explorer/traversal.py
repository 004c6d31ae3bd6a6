"""Prior samples and per-dimension latent traversals (dimensions ordered by their KL).

No streamlit import here.
"""
from __future__ import annotations

from statistics import NormalDist

import numpy as np


def prior_samples(n: int, latent_dim: int, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
    """(n, D) draws from N(0, temperature^2 I) with a fixed seed."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, latent_dim)) * temperature).astype(np.float32)


def dims_by_kl(kl_per_dim: np.ndarray | None, latent_dim: int) -> list[int]:
    """Dimension indices, highest mean KL first (most informative first). Without KL
    (no data), natural order."""
    if kl_per_dim is None or len(kl_per_dim) != latent_dim:
        return list(range(latent_dim))
    return [int(i) for i in np.argsort(-np.asarray(kl_per_dim), kind="stable")]


def traversal_values(steps: int, span: float = 3.0, quantiles: bool = False) -> np.ndarray:
    """Values from -span to +span (linear), or prior quantiles 1%..99% if quantiles."""
    steps = max(2, int(steps))
    if quantiles:
        nd = NormalDist()
        return np.array([nd.inv_cdf(p) for p in np.linspace(0.01, 0.99, steps)], np.float32)
    return np.linspace(-span, span, steps).astype(np.float32)


def traversal_latents(base: np.ndarray, dims: list[int], values: np.ndarray) -> np.ndarray:
    """(len(dims) * S, D): row r varies dimension dims[r] over values, others at base."""
    base = np.asarray(base, np.float32)
    values = np.asarray(values, np.float32)
    out = np.repeat(base[None], len(dims) * len(values), 0).reshape(len(dims), len(values), -1)
    for r, d in enumerate(dims):
        out[r, :, d] = values
    return out.reshape(-1, base.shape[0])


def active_units(kl_per_dim: np.ndarray | None, threshold: float = 0.01) -> int:
    """Dimensions whose mean KL exceeds threshold nats (a cheap 'active units' proxy)."""
    if kl_per_dim is None:
        return 0
    return int((np.asarray(kl_per_dim) > threshold).sum())
