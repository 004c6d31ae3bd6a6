"""Is the 2-D map honest? Per point, the share of its k nearest codes in the full latent space
(Euclidean) that are also among its k nearest points on the map; the map's figure is the mean.

k-NN queries only (scikit-learn trees): `sklearn.manifold.trustworthiness` builds an n x n
distance matrix (~2.4 GB at 10k points) and cannot run at 70k.
"""
from __future__ import annotations

import numpy as np

from .rankings import K, knn


def neighbours_kept(codes, xy, k: int = K, latent_idx: np.ndarray | None = None) -> np.ndarray:
    """Per point, in [0, 1]. latent_idx: the codes' k-NN indices if already known."""
    if latent_idx is None or latent_idx.shape[1] != min(k, len(xy) - 1):
        _, latent_idx = knn(codes, k)
    _, map_idx = knn(np.asarray(xy, np.float32), k)
    if latent_idx.shape[1] == 0:
        return np.ones(len(xy), np.float32)
    # Each row holds distinct indices, so the intersection size is the count of equal pairs:
    # an (n, k, k) boolean array (70k points, k=10: 7 MB), no n x n anything.
    hits = (latent_idx[:, :, None] == map_idx[:, None, :]).sum((1, 2))
    return (hits / latent_idx.shape[1]).astype(np.float32)


def map_figure(per_point) -> float:
    return float(np.mean(per_point)) if len(per_point) else float("nan")
