"""Rankings of what the model gets wrong. Each returns (indices, scores), worst first.

Neighbour figures use scikit-learn's NearestNeighbors on the encoder means (a k-d / ball tree:
k-NN queries only, never an n x n distance matrix)."""
from __future__ import annotations

import numpy as np

from ..lazy_imports import load

K = 10


def top(scores, n: int | None = None, descending: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the n highest (or lowest) scores, ties in index order, and those scores."""
    s = np.asarray(scores, np.float64)
    order = np.argsort(-s if descending else s, kind="stable")[:n]
    return order, s[order]


def knn(points, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """(distances, indices) of each point's k nearest other points, nearest first, Euclidean."""
    # Imported here (off the map's open path), under lazy_imports' lock: this runs in a
    # background job while a page may be importing scikit-learn too.
    NearestNeighbors = load("sklearn.neighbors").NearestNeighbors  # noqa: N806

    pts = np.ascontiguousarray(points, np.float32)
    n = len(pts)
    k = min(k, n - 1)
    if k < 1:
        return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
    dist, idx = NearestNeighbors(n_neighbors=k + 1).fit(pts).kneighbors(pts)
    # Each point is usually its own first hit, but with duplicates it may come later: drop it
    # where it is, else the farthest hit.
    own = idx == np.arange(n)[:, None]
    drop = np.where(own.any(1), own.argmax(1), k)
    keep = np.ones_like(own)
    keep[np.arange(n), drop] = False
    return dist[keep].reshape(n, k).astype(np.float32), idx[keep].reshape(n, k)


def other_label_share(labels, nbr_idx) -> np.ndarray:
    """Per point: the share of its neighbours that carry another label."""
    labels = np.asarray(labels)
    if nbr_idx.shape[1] == 0:
        return np.zeros(len(labels), np.float32)
    return (labels[nbr_idx] != labels[:, None]).mean(1).astype(np.float32)


def kth_distance(nbr_dist) -> np.ndarray:
    """Per point: the distance to its k-th nearest code (large = far from every other code)."""
    if nbr_dist.shape[1] == 0:
        return np.zeros(len(nbr_dist), np.float32)
    return nbr_dist[:, -1].astype(np.float32)


def worst_reconstructions(rec_term, n=None):
    return top(rec_term, n)


def highest_kl(kl, n=None):
    return top(kl, n)


def lowest_elbo(neg_elbo, n=None):
    """Lowest per-point ELBO = highest -ELBO."""
    return top(neg_elbo, n)


def likely_mislabels(mu, labels, k: int = K, n=None):
    _, idx = knn(mu, k)
    return top(other_label_share(labels, idx), n)


def outliers(mu, k: int = K, n=None):
    dist, _ = knn(mu, k)
    return top(kth_distance(dist), n)


# What the rankings page offers: key -> (title, score name, array key in the figures).
RANKINGS = {
    "rec": ("Worst reconstructions", "reconstruction term (nats)", "rec_term"),
    "kl": ("Highest KL", "KL (nats)", "kl"),
    "elbo": ("Lowest ELBO", "-ELBO (nats)", "neg_elbo"),
    "mislabel": ("Likely mislabels", f"share of {K} latent neighbours with another label",
                 "mislabel"),
    "outlier": ("Outliers", f"distance to the {K}th nearest code", "outlier"),
}
