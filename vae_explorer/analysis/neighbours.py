"""k nearest neighbours in the full latent space (not on the 2-D map), with scikit-learn.

build() fits once per (checkpoint, data sample, metric) (vae_explorer.compute.neighbour_index caches
it process-wide); query() answers one point. Cosine uses the brute-force search (sklearn's trees
do not support it); at 70,000 x 64 that is one matrix-vector product a query.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..lazy_imports import load

if TYPE_CHECKING:
    from sklearn.neighbors import NearestNeighbors

METRICS = ("euclidean", "cosine")


def build(codes: np.ndarray, metric: str = "euclidean") -> NearestNeighbors:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    # Imported here, under lazy_imports' lock: scikit-learn (with scipy) is ~1.5 s of a warm
    # open's first run, and the map page imports this module before anyone clicks a point.
    nn = load("sklearn.neighbors").NearestNeighbors
    z = np.asarray(codes, np.float32).reshape(len(codes), -1)
    algo = "brute" if metric == "cosine" else "auto"
    return nn(metric=metric, algorithm=algo).fit(z)


def query(index: NearestNeighbors, codes: np.ndarray, i: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances) of the k nearest other points of point i, nearest first."""
    n = index.n_samples_fit_
    k = max(0, min(int(k), n - 1))
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    z = np.asarray(codes, np.float32).reshape(len(codes), -1)[int(i)][None]
    dist, idx = index.kneighbors(z, n_neighbors=k + 1)
    dist, idx = dist[0], idx[0]
    keep = idx != int(i)  # the point itself (ties may put it second, or leave it out)
    return idx[keep][:k].astype(np.int64), dist[keep][:k].astype(np.float32)
