"""The built-in "shapes-rgb" dataset: seeded 64x64 colour shapes with known factors.

The colour sibling of ``shapes`` (same six shapes, same signed distance functions), at the size
and channel count of the CelebA-style tutorials, with nothing to download. Every image has six
known generative factors, returned as floats in [0, 1] so that latent codes can be scored
against them (mutual information, MIG):

    hue         the shape's colour, around the colour wheel (0 = red, 1/3 = green, 2/3 = blue)
    background  the background's grey level, 0..1 -> 0..40 % brightness
    scale       0..1 -> radius 10..20 pixels
    x, y        0..1 -> centre offset -10..+10 pixels (left..right / top..bottom)
    rotation    0..1 -> -45..+45 degrees (circles and rings look the same at any rotation)

12,000 training and 3,000 test images (147 MB + 37 MB as uint8): enough for a small conv VAE to
learn six factors, small enough to render in a few seconds and to hold in memory on a laptop.
The same (n, seed) always gives the same bytes, on any machine.
"""
from __future__ import annotations

import colorsys
import sys

import numpy as np

from .shapes import SHAPE_NAMES, _sdf, split_size_seed

NAME = "shapes-rgb"
SIDE = 64
FACTOR_NAMES = ["hue", "background", "scale", "x", "y", "rotation"]
TRAIN_SIZE = 12_000
TEST_SIZE = 3_000
TRAIN_SEED = 64640
TEST_SEED = 64641
R_MIN, R_MAX = 10.0, 20.0
POSITION_JITTER = 10.0  # pixels
MAX_ROT = np.pi / 4
BG_MAX = 0.4
CHUNK = 1000  # images rendered at once (bounds the float temporaries to ~50 MB)


def hue_rgb(hue: np.ndarray) -> np.ndarray:
    """(n,) hues in [0, 1] -> (n, 3) RGB in [0, 1], saturated and bright (HSV s=0.85, v=0.95)."""
    return np.array([colorsys.hsv_to_rgb(float(h), 0.85, 0.95) for h in hue],
                    dtype=np.float32).reshape(-1, 3)


def _render(labels, factors) -> np.ndarray:
    hue, bg, scale, fx, fy, frot = (factors[:, i] for i in range(len(FACTOR_NAMES)))
    radius = R_MIN + (R_MAX - R_MIN) * scale
    cx = SIDE / 2 + (2 * fx - 1) * POSITION_JITTER
    cy = SIDE / 2 + (2 * fy - 1) * POSITION_JITTER
    theta = (frot * 2 - 1) * MAX_ROT
    coords = np.arange(SIDE, dtype=np.float32) + 0.5
    cover = np.empty((len(labels), SIDE, SIDE), dtype=np.float32)
    for c in range(len(SHAPE_NAMES)):
        idx = np.nonzero(labels == c)[0]
        if idx.size == 0:
            continue
        r = radius[idx, None, None]
        dx = coords[None, None, :] - cx[idx, None, None]
        dy = coords[None, :, None] - cy[idx, None, None]
        cos, sin = np.cos(theta[idx])[:, None, None], np.sin(theta[idx])[:, None, None]
        u = (cos * dx + sin * dy) / r
        v = -(-sin * dx + cos * dy) / r
        cover[idx] = np.clip(0.5 - _sdf(c, u, v) * r, 0.0, 1.0)
    fg = hue_rgb(hue)[:, :, None, None]                      # (n, 3, 1, 1)
    back = (bg * BG_MAX)[:, None, None, None]                # grey
    img = cover[:, None] * fg + (1.0 - cover[:, None]) * back
    return np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)


def draw_factors(n: int, seed: int = 0):
    """The labels and factors of generate(n, seed), without rendering (milliseconds)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPE_NAMES), size=n).astype(np.int64)
    return labels, rng.random((n, len(FACTOR_NAMES))).astype(np.float32)


def generate(n: int, seed: int = 0):
    """Render n images: (images uint8 (n,3,64,64), labels int64 (n,), factors float32 (n,6))."""
    labels, factors = draw_factors(n, seed)
    out = np.empty((n, 3, SIDE, SIDE), dtype=np.uint8)
    for i in range(0, n, CHUNK):
        out[i:i + CHUNK] = _render(labels[i:i + CHUNK], factors[i:i + CHUNK])
    return out, labels, factors


def load(split: str = "train", n: int | None = None):
    """The fixed train (12k) or test (3k) split; different seeds, so no image is shared."""
    size, seed = split_size_seed(split, sys.modules[__name__])
    return generate(size if n is None else n, seed)


def load_factors(split: str = "train"):
    """(labels, factors) of a split, as load() gives them, without the images."""
    return draw_factors(*split_size_seed(split, sys.modules[__name__]))
