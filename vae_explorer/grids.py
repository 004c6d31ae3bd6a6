"""Manifold grids: an N x N lattice of latents over a 2-D plane of latent space, decoded and
rendered into one image with axes labelled by latent values.

A plane is origin + u * axis_u + v * axis_v. Planes for higher latents:
  * two chosen dimensions (others at 0 or at a chosen point)      -> dims_plane
  * the first two principal axes of the codes (origin at the mean) -> pca_plane
  * the plane through three chosen points a, b, c: a at (0, 0), b at (1, 0), c at (0, 1)
                                                                   -> three_point_plane
Ranges: prior quantiles (the classic Kingma & Welling grid: equal probability mass per step)
or the data's extent on the plane. No streamlit import here.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .images import labelled_grid, png_bytes


@dataclass
class Plane:
    origin: np.ndarray  # (D,)
    u: np.ndarray  # (D,)
    v: np.ndarray  # (D,)
    u_name: str = "z1"
    v_name: str = "z2"
    prior_ok: bool = True  # do prior quantiles make sense as coordinates on this plane?

    def at(self, uu: np.ndarray, vv: np.ndarray) -> np.ndarray:
        uu, vv = np.asarray(uu, np.float64), np.asarray(vv, np.float64)
        return (self.origin[None].astype(np.float64) + uu[:, None] * self.u[None]
                + vv[:, None] * self.v[None]).astype(np.float32)

    def coords(self, z: np.ndarray) -> np.ndarray:
        """(N, 2) plane coordinates of codes (least-squares projection onto the plane)."""
        basis = np.stack([self.u, self.v], 1).astype(np.float64)  # (D, 2)
        rhs = (np.asarray(z, np.float64) - self.origin).T
        sol, *_ = np.linalg.lstsq(basis, rhs, rcond=None)
        return sol.T.astype(np.float32)


def dims_plane(latent_dim: int, i: int = 0, j: int = 1, base: np.ndarray | None = None) -> Plane:
    if latent_dim < 2:
        raise ValueError("a plane needs at least two latent dimensions")
    if i == j or not (0 <= i < latent_dim and 0 <= j < latent_dim):
        raise ValueError("choose two different dimensions")
    origin = np.zeros(latent_dim, np.float32) if base is None else np.array(base, np.float32)
    origin[[i, j]] = 0.0
    u = np.zeros(latent_dim, np.float32)
    v = np.zeros(latent_dim, np.float32)
    u[i] = 1.0
    v[j] = 1.0
    return Plane(origin, u, v, f"z{i + 1}", f"z{j + 1}", True)


def pca_plane(codes: np.ndarray) -> Plane:
    from .projections import pca_fit

    fit = pca_fit(codes, 2)
    c = fit["components"]
    # Coordinates are in latent units along unit axes: the prior projected on any unit
    # direction is N(0, 1), so prior quantiles still read sensibly (centred on the mean).
    return Plane(fit["mean"].astype(np.float32), c[0], c[1], "PC1", "PC2", True)


def three_point_plane(a, b, c) -> Plane:
    a, b, c = (np.asarray(p, np.float32) for p in (a, b, c))
    u, v = b - a, c - a
    if np.linalg.matrix_rank(np.stack([u, v]).astype(np.float64), tol=1e-6) < 2:
        raise ValueError("the three points are on one line; pick three that span a plane")
    return Plane(a, u, v, "A→B", "A→C", False)


def prior_values(n: int, q: float = 0.05) -> np.ndarray:
    """n values at the prior quantiles q .. 1-q (equal probability mass per step)."""
    nd = NormalDist()
    return np.array([nd.inv_cdf(p) for p in np.linspace(q, 1 - q, n)], np.float32)


def linear_values(lo: float, hi: float, n: int) -> np.ndarray:
    return np.linspace(lo, hi, n).astype(np.float32)


def data_ranges(plane: Plane, codes: np.ndarray, pct: float = 1.0, pad: float = 0.05):
    """((u_lo, u_hi), (v_lo, v_hi)) covering the codes on the plane (robust percentiles)."""
    uv = plane.coords(codes)
    lo, hi = np.percentile(uv, pct, axis=0), np.percentile(uv, 100 - pct, axis=0)
    span = np.maximum(hi - lo, 1e-6)
    lo, hi = lo - pad * span, hi + pad * span
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def grid_latents(plane: Plane, u_vals: np.ndarray, v_vals: np.ndarray) -> np.ndarray:
    """(len(v) * len(u), D) row-major; row 0 is the largest v (top), column 0 the smallest u."""
    u_vals = np.asarray(u_vals)
    v_desc = np.sort(np.asarray(v_vals))[::-1]
    uu, vv = np.meshgrid(u_vals, v_desc)
    return plane.at(uu.ravel(), vv.ravel())


def fmt(v: float) -> str:
    return f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}"


def render(images: np.ndarray, u_vals: np.ndarray, v_vals: np.ndarray, plane: Plane,
           scale: int = 2, font_size: int = 14, max_labels: int = 12) -> np.ndarray:
    """One RGB image of the decoded grid with latent-value tick labels on both axes."""
    nu, nv = len(u_vals), len(v_vals)
    v_desc = np.sort(np.asarray(v_vals))[::-1]
    every_u = max(1, -(-nu // max_labels))
    every_v = max(1, -(-nv // max_labels))
    cols = [fmt(x) if i % every_u == 0 or i == nu - 1 else "" for i, x in enumerate(u_vals)]
    rows = [fmt(x) if i % every_v == 0 or i == nv - 1 else "" for i, x in enumerate(v_desc)]
    return labelled_grid(images, nv, nu, scale=scale, col_labels=cols, row_labels=rows,
                         x_title=plane.u_name, y_title=plane.v_name, font_size=font_size)


def render_png(*args, **kwargs) -> bytes:
    return png_bytes(render(*args, **kwargs))
