"""Pixel-space baselines: maps of the images computed from their raw pixels, the question a
tutorial asks when it puts PCA of pixels next to a VAE's latent.

PCA of pixels has a decoder too, its inverse: a 2-D lattice over the PCA plane maps back to
(blurry) images, the pixel-space counterpart of the VAE's manifold grid. UMAP / t-SNE of pixels
go through vae_explorer.projections like any other map (the same seeds and worker).
"""
from __future__ import annotations

import numpy as np

from .. import projections

METHODS = projections.METHODS  # the same three maps as of the codes
CACHE_SHA = "pixels"  # cache.py keys by "sha256": a pixel map belongs to the data sample alone


def flat(images) -> np.ndarray:
    """(N, H, W, C) uint8 -> (N, H*W*C) float32 in [0, 1]."""
    x = np.asarray(images)
    return (x.reshape(len(x), -1).astype(np.float32) / 255.0)


def pca_map(images) -> tuple[np.ndarray, dict]:
    """(xy, fit) of PCA on the pixels; fit as projections.pca_fit (mean, components, ratios)."""
    return projections.pca(flat(images))


def grid_coords(xy, g: int, lo_q: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """The g x g lattice over the central (1 - 2 lo_q) of the map: (u values, v values), v from
    top to bottom (row 0 is the top row, as an image grid reads)."""
    xy = np.asarray(xy, np.float64)
    u = np.linspace(*np.quantile(xy[:, 0], [lo_q, 1 - lo_q]), g)
    v = np.linspace(*np.quantile(xy[:, 1], [lo_q, 1 - lo_q]), g)[::-1]
    return u, v


def pca_grid(fit: dict, u, v, shape_hwc) -> np.ndarray:
    """Images decoded by the PCA inverse at every (u, v) of the lattice, row-major from the top
    left: (len(v) * len(u), H, W, C) uint8 (pixels clipped to [0, 1])."""
    uu, vv = np.meshgrid(np.asarray(u, np.float32), np.asarray(v, np.float32))
    pts = np.stack([uu.ravel(), vv.ravel()], 1)
    x = np.clip(projections.pca_inverse(pts, fit), 0.0, 1.0)
    return np.round(x * 255).astype(np.uint8).reshape(len(pts), *shape_hwc)
