"""2-D maps of latent codes: PCA (instant, numpy SVD), UMAP (umap-learn), t-SNE (openTSNE).

Fixed seeds, so the same checkpoint gives the same picture twice. The slow methods run in a
worker process (projection_jobs.py) while the app shows PCA. No streamlit import here.
"""
from __future__ import annotations

import re
from typing import Callable

import numpy as np

from .lazy_imports import load

METHODS = ("pca", "umap", "tsne")
SLOW_METHODS = ("umap", "tsne")
LABELS = {"latent": "latent dims (2-D)", "pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
DEFAULT_SEED = 0

Progress = Callable[[float, str], None]


# ---------------------------------------------------------------------------------------------
# PCA


def pca_fit(x: np.ndarray, n_components: int = 2) -> dict:
    """Principal axes by SVD of the centred data. Signs fixed so each axis's largest-magnitude
    loading is positive (deterministic across runs and machines)."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(0)
    xc = x - mean
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    k = min(n_components, vt.shape[0])
    comps = vt[:k].copy()
    for i in range(k):
        if comps[i, np.argmax(np.abs(comps[i]))] < 0:
            comps[i] = -comps[i]
    var = s ** 2 / max(1, len(x) - 1)
    total = var.sum() if var.sum() > 0 else 1.0
    if k < n_components:  # fewer dims than components: pad with zero axes
        comps = np.vstack([comps, np.zeros((n_components - k, x.shape[1]))])
        var = np.concatenate([var, np.zeros(n_components - k)])
    return {"mean": mean.astype(np.float32), "components": comps.astype(np.float32),
            "explained_variance": var[:n_components].astype(np.float32),
            "explained_ratio": (var[:n_components] / total).astype(np.float32)}


def pca_transform(x: np.ndarray, fit: dict) -> np.ndarray:
    return ((np.asarray(x, np.float32) - fit["mean"]) @ fit["components"].T).astype(np.float32)


def pca_inverse(y: np.ndarray, fit: dict) -> np.ndarray:
    return (np.asarray(y, np.float32) @ fit["components"] + fit["mean"]).astype(np.float32)


def pca(x: np.ndarray) -> tuple[np.ndarray, dict]:
    fit = pca_fit(x, 2)
    return pca_transform(x, fit), fit


# ---------------------------------------------------------------------------------------------
# UMAP / t-SNE (call these in a worker process; they are slow)


class _TqdmSink:
    """File-like object for umap's tqdm bars: turns 'NN%' into progress callbacks."""

    def __init__(self, progress: Progress, lo: float, hi: float):
        self.progress, self.lo, self.hi = progress, lo, hi

    def write(self, s: str) -> int:
        m = re.findall(r"(\d+)%", s)
        if m:
            self.progress(self.lo + (self.hi - self.lo) * int(m[-1]) / 100, "optimising layout")
        return len(s)

    def flush(self) -> None:
        pass


def umap_project(x: np.ndarray, seed: int = DEFAULT_SEED, n_neighbors: int = 15,
                 min_dist: float = 0.1, progress: Progress | None = None,
                 init: np.ndarray | None = None) -> np.ndarray:
    """UMAP of x; `init` (N, 2) starts the layout from another map of the same points (the
    Compare page: B's map from A's, so that both put the same images in the same places)."""
    progress = progress or (lambda f, s: None)
    progress(0.02, "loading umap (first use compiles code, ~1 min)")
    umap = load("umap")  # slow import (numba); it imports scikit-learn: lazy_imports' lock

    # Each worker is a fresh process: pynndescent compiles its numba code again here (15 s with
    # a warm numba cache, 45 s without, on 2 cores), with no progress to report meanwhile.
    progress(0.1, "finding nearest neighbours (compiling numba code first, 15–45 s)")
    n_neighbors = max(2, min(n_neighbors, len(x) - 1))
    start = "spectral" if len(x) > n_neighbors + 2 else "random"
    if init is not None:
        start = _checked_init(init, len(x)).astype(np.float32)
    reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed,
                        n_jobs=1, verbose=True, init=start,
                        tqdm_kwds={"file": _TqdmSink(progress, 0.3, 0.98), "mininterval": 0.5})
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        y = reducer.fit_transform(np.asarray(x, np.float32))
    progress(1.0, "done")
    return np.asarray(y, np.float32)


def tsne_project(x: np.ndarray, seed: int = DEFAULT_SEED, perplexity: float = 30.0,
                 n_iter: int = 500, progress: Progress | None = None,
                 init: np.ndarray | None = None) -> np.ndarray:
    """t-SNE of x; `init` (N, 2) starts from another map of the same points (see umap_project)."""
    progress = progress or (lambda f, s: None)
    progress(0.02, "finding nearest neighbours")
    TSNE = load("openTSNE").TSNE  # noqa: N806  (imports scikit-learn: lazy_imports' lock)

    ee = 250
    total = ee + n_iter
    perplexity = float(min(perplexity, max(2.0, (len(x) - 1) / 3.0)))

    class _CB:
        def __init__(self, offset: int):
            self.offset = offset

        def __call__(self, iteration, error, embedding):
            progress(0.1 + 0.88 * min(1.0, (self.offset + iteration) / total),
                     f"optimising (iteration {self.offset + iteration}/{total})")
            return False

    # Two explicit phases (early exaggeration, then the main run), one callback per phase so
    # the reported iteration count keeps increasing.
    tsne = TSNE(perplexity=perplexity, n_iter=n_iter, early_exaggeration_iter=ee,
                random_state=seed, n_jobs=1, verbose=False)
    start = "pca"  # openTSNE's default
    if init is not None:
        from openTSNE.initialization import rescale  # noqa: PLC0415

        # openTSNE wants a start with std 1e-4 (larger ones converge badly, and it warns)
        start = rescale(_checked_init(init, len(x)).astype(np.float64), target_std=1e-4)
    emb = tsne.prepare_initial(np.asarray(x, np.float32), initialization=start)
    progress(0.1, "early exaggeration")
    emb = emb.optimize(n_iter=ee, exaggeration=12, momentum=0.5, callbacks=[_CB(0)],
                       callbacks_every_iters=25)
    emb = emb.optimize(n_iter=n_iter, momentum=0.8, callbacks=[_CB(ee)], callbacks_every_iters=25)
    progress(1.0, "done")
    return np.asarray(emb, np.float32)


def _checked_init(init, n: int) -> np.ndarray:
    a = np.asarray(init, np.float64)
    if a.shape != (n, 2) or not np.isfinite(a).all():
        raise ValueError(f"an initial layout must be finite (N, 2) = ({n}, 2), got {a.shape}")
    return a


def init_id(init: np.ndarray | None) -> str:
    """A short content hash of an initial layout, for cache and job keys ("" for none): a map
    started from another layout is another map."""
    if init is None:
        return ""
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(init, np.float32).tobytes()).hexdigest()[:20]


def project(x: np.ndarray, method: str, seed: int = DEFAULT_SEED,
            progress: Progress | None = None, init: np.ndarray | None = None) -> np.ndarray:
    """(N, D) -> (N, 2) float32 with the named method. For D <= 2 every method is the identity
    (padded with a zero column for D == 1). `init`: UMAP / t-SNE start from this layout."""
    x = np.asarray(x, np.float32)
    if x.shape[1] <= 2:
        return identity_xy(x)
    if method == "pca":
        return pca(x)[0]
    if method == "umap":
        return umap_project(x, seed=seed, progress=progress, init=init)
    if method == "tsne":
        return tsne_project(x, seed=seed, progress=progress, init=init)
    raise ValueError(f"unknown projection {method!r}; choose from {METHODS}")


def identity_xy(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if x.shape[1] == 2:
        return x.copy()
    return np.concatenate([x, np.zeros((len(x), 2 - x.shape[1]), np.float32)], 1)


def cache_params(method: str, n: int, seed: int, data_key: str, init: np.ndarray | None = None) -> dict:
    """The cache key's parameters; a map started from a given layout also keys by its hash
    (left out otherwise, so the keys of default-started maps, shipped ones too, stay as they were)."""
    p = {"method": method, "n": int(n), "seed": int(seed), "data": data_key, "v": 1}
    if init is not None:
        p["init"] = init_id(init)
    return p
