"""Map positions -> latent codes, so any point of the 2-D map can be decoded.

* 2-D latents ("latent" map): the position *is* the latent (identity).
* PCA maps: either the PCA inverse (a point on the plane of the first two principal axes
  through the data mean) or the k-nearest-codes rule below.
* UMAP / t-SNE maps have no inverse: a position maps to the inverse-distance-weighted mean of
  the codes of its k nearest map points (exactly a code when the position is that point's).

`hover_grid` evaluates this on a G x G grid of cell centres over the map's extent; the app
decodes those latents once so the browser can show "decoded at cursor" for empty space with
no server round trip. No streamlit import here.
"""
from __future__ import annotations

import numpy as np

from .lazy_imports import load
from .projections import pca_inverse

EPS = 1e-12


class CursorMapper:
    """Reusable mapper for one map (builds the k-d tree once)."""

    def __init__(self, map_xy: np.ndarray, codes: np.ndarray, method: str = "knn",
                 pca_fit: dict | None = None, k: int = 8):
        self.map_xy = np.asarray(map_xy, np.float64)
        self.codes = np.asarray(codes, np.float32)
        self.method = method
        self.pca_fit = pca_fit
        self.k = max(1, min(int(k), len(self.map_xy)))
        if method == "pca" and pca_fit is None:
            raise ValueError("the PCA inverse needs the PCA fit")
        self._tree = None
        if method == "knn":
            # 0.6 s import: only for maps that need it (lazy_imports: one thread at a time)
            self._tree = load("scipy.spatial").cKDTree(self.map_xy)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        pts = np.asarray(points, np.float64).reshape(-1, 2)
        if self.method == "identity":
            d = self.codes.shape[1]
            return pts[:, :d].astype(np.float32)
        if self.method == "pca":
            return pca_inverse(pts, self.pca_fit)
        dist, idx = self._tree.query(pts, k=self.k)
        dist = dist.reshape(len(pts), -1)
        idx = idx.reshape(len(pts), -1)
        w = 1.0 / np.maximum(dist, EPS) ** 2
        exact = dist[:, 0] <= 1e-9  # on top of a code: that code exactly
        w[exact] = 0.0
        w[exact, 0] = 1.0
        w /= w.sum(1, keepdims=True)
        out = np.einsum("mk,mkd->md", w, self.codes[idx].astype(np.float64)).astype(np.float32)
        out[exact] = self.codes[idx[exact, 0]]
        return out


def latent_at(xy, map_xy: np.ndarray, codes: np.ndarray, method: str = "knn",
              pca_fit: dict | None = None, k: int = 8) -> np.ndarray:
    """Latent (D,) for one map position (x, y)."""
    return CursorMapper(map_xy, codes, method, pca_fit, k)(np.asarray(xy)[None])[0]


def map_extent(map_xy: np.ndarray, pad: float = 0.05, robust: float = 0.0) -> tuple:
    """(x0, x1, y0, y1) around the points, padded by a fraction of the span. robust > 0 uses
    the [robust, 100 - robust] percentiles instead of min/max (outliers do not blow it up)."""
    xy = np.asarray(map_xy, np.float64)
    if robust > 0:
        lo, hi = np.percentile(xy, robust, axis=0), np.percentile(xy, 100 - robust, axis=0)
    else:
        lo, hi = xy.min(0), xy.max(0)
    span = np.maximum(hi - lo, 1e-6)
    lo, hi = lo - pad * span, hi + pad * span
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def grid_centres(extent: tuple, g: int) -> np.ndarray:
    """(G*G, 2) centres of a G x G grid of cells over extent, row-major, row 0 at y max."""
    x0, x1, y0, y1 = extent
    xs = x0 + (np.arange(g) + 0.5) * (x1 - x0) / g
    ys = y1 - (np.arange(g) + 0.5) * (y1 - y0) / g
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], 1)


def hover_grid(map_xy: np.ndarray, codes: np.ndarray, method: str = "knn",
               pca_fit: dict | None = None, g: int = 32, extent: tuple | None = None,
               k: int = 8) -> tuple[np.ndarray, tuple]:
    """Latents (G*G, D) at the cell centres of a G x G grid over the map, and its extent."""
    extent = extent or map_extent(map_xy)
    mapper = CursorMapper(map_xy, codes, method, pca_fit, k)
    return mapper(grid_centres(extent, g)), extent


def latents_to_map(z: np.ndarray, codes: np.ndarray, map_xy: np.ndarray, k: int = 8,
                   tree=None) -> np.ndarray:
    """Approximate map positions of arbitrary latents (e.g. an interpolation path) for maps
    without a forward transform (UMAP / t-SNE): the inverse-distance-weighted map positions
    of the k nearest codes in latent space. Exact for a latent equal to a code."""
    if tree is None:
        tree = load("scipy.spatial").cKDTree(np.asarray(codes, np.float64))
    k = max(1, min(int(k), len(codes)))
    dist, idx = tree.query(np.asarray(z, np.float64).reshape(-1, np.asarray(codes).shape[1]), k=k)
    dist, idx = dist.reshape(len(dist), -1), idx.reshape(len(idx), -1)
    w = 1.0 / np.maximum(dist, EPS) ** 2
    exact = dist[:, 0] <= 1e-9
    w[exact] = 0.0
    w[exact, 0] = 1.0
    w /= w.sum(1, keepdims=True)
    return np.einsum("mk,mkd->md", w, np.asarray(map_xy, np.float64)[idx]).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# decoding the visible window (any pan / zoom): grids on a power-of-two lattice
#
# The browser reports the view it shows; the server decodes a G x G grid over a window that
# contains it. Windows are snapped to a lattice so that nearby views (and every student looking
# at the same place) share one cached decode: per axis, a tile side T = 2**ceil(log2(span)) and
# an origin on a multiple of T / 2, covering [a, a + 1.5 T]. A span in (T/2, T] then holds
# between G/3 and 2G/3 cells, so a view always has >= MIN_VIEW_CELLS cells across at G >= 24.

MIN_VIEW_CELLS = 8  # a grid whose cells are coarser than view / 8 is not good enough (JS too)
EDGE_TOL = 1e-4  # a view this close (fraction of its span) to a grid's edge counts as inside
MAX_COORD = 1e6  # views further out than this are not decoded (a stray pan, not a question)


def parse_view(s) -> tuple[float, float, float, float] | None:
    """'x0,x1,y0,y1' (e.g. the URL's zoom=) -> 4 finite floats with x0<x1, y0<y1, else None."""
    if not isinstance(s, str) or len(s) > 200:
        return None
    try:
        v = tuple(float(p) for p in s.split(","))
    except ValueError:
        return None
    return check_view(v)


def check_view(v) -> tuple[float, float, float, float] | None:
    """A view (x0, x1, y0, y1) if it is 4 finite numbers, ordered, within MAX_COORD."""
    try:
        v = tuple(float(a) for a in v)
    except (TypeError, ValueError):
        return None
    if len(v) != 4 or not all(np.isfinite(v)) or max(abs(a) for a in v) > MAX_COORD:
        return None
    x0, x1, y0, y1 = v
    if not (x1 - x0 > 1e-9 and y1 - y0 > 1e-9):
        return None
    return v


def format_view(v) -> str:
    """The URL form of a view: 4 significant digits relative to its span (parse_view reads it)."""
    x0, x1, y0, y1 = v
    out = []
    for a, span in ((x0, x1 - x0), (x1, x1 - x0), (y0, y1 - y0), (y1, y1 - y0)):
        digits = max(0, 4 - int(np.floor(np.log10(span))) - 1)
        text = f"{a:.{min(digits, 12)}f}"
        if "." in text:  # "2.000" -> "2", "-1.500" -> "-1.5": shorter links, same value
            text = text.rstrip("0").rstrip(".")
        out.append("0" if text in ("-0", "") else text)
    return ",".join(out)


def _axis_window(lo: float, hi: float) -> tuple[int, int]:
    level = int(np.ceil(np.log2(hi - lo)))
    half = 2.0 ** level / 2
    return level, int(np.floor(lo / half))


def window_key(view) -> tuple[int, int, int, int] | None:
    """Lattice key (x level, x index, y level, y index) of the window for a view, or None."""
    v = check_view(view)
    if v is None:
        return None
    return _axis_window(v[0], v[1]) + _axis_window(v[2], v[3])


def window_extent(key) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) of a lattice window key."""
    lx, ix, ly, iy = key
    tx, ty = 2.0 ** lx, 2.0 ** ly
    return (ix * tx / 2, ix * tx / 2 + 1.5 * tx, iy * ty / 2, iy * ty / 2 + 1.5 * ty)


def grid_serves(extent, g: int, view, min_cells: int = MIN_VIEW_CELLS) -> bool:
    """Whether a G x G grid over extent covers view at >= min_cells cells across each axis
    (the browser asks for a window decode when no grid it holds does; latent_map.js mirrors)."""
    x0, x1, y0, y1 = extent
    v0, v1, w0, w1 = view
    ex, ey = (v1 - v0) * EDGE_TOL, (w1 - w0) * EDGE_TOL  # rounding of the view's edges
    inside = x0 <= v0 + ex and v1 <= x1 + ex and y0 <= w0 + ey and w1 <= y1 + ey
    return inside and (x1 - x0) / g * min_cells <= v1 - v0 and (y1 - y0) / g * min_cells <= w1 - w0
