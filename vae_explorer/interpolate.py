"""Interpolation between latent codes: lerp, slerp, K-step paths, filmstrip PNG, GIF bytes.

No streamlit import here.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .images import png_bytes, tile, to_pil, upscale

METHODS = ("linear", "slerp")


def lerp(a, b, t: float) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if t == 0:
        return a.astype(np.float32)
    if t == 1:
        return b.astype(np.float32)
    return ((1 - t) * a + t * b).astype(np.float32)


def slerp(a, b, t: float, eps: float = 1e-6) -> np.ndarray:
    """Spherical interpolation (Shoemake; White 2016 for generative models).

    End points are returned exactly. For (anti)parallel or zero vectors the great circle is
    undefined or degenerate, and it falls back to linear interpolation.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if t == 0:
        return a.astype(np.float32)
    if t == 1:
        return b.astype(np.float32)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < eps or nb < eps:
        return lerp(a, b, t)
    cos = float(np.clip(np.dot(a / na, b / nb), -1.0, 1.0))
    omega = np.arccos(cos)
    so = np.sin(omega)
    if so < eps:  # parallel (omega ~ 0) or antiparallel (omega ~ pi)
        return lerp(a, b, t)
    return (np.sin((1 - t) * omega) / so * a + np.sin(t * omega) / so * b).astype(np.float32)


def interpolate(a, b, t: float, method: str = "linear") -> np.ndarray:
    if method == "slerp":
        return slerp(a, b, t)
    if method == "linear":
        return lerp(a, b, t)
    raise ValueError(f"unknown interpolation {method!r}; choose from {METHODS}")


def path(a, b, k: int, method: str = "linear") -> np.ndarray:
    """(K, D) latents from a to b inclusive (K >= 2), end points exact."""
    k = max(2, int(k))
    return np.stack([interpolate(a, b, float(t), method) for t in np.linspace(0.0, 1.0, k)])


def filmstrip(images: np.ndarray, scale: int = 1, pad: int = 2, ncols: int | None = None) -> np.ndarray:
    """(K, H, W, C) -> one strip image (uint8), optionally wrapped into rows of ncols."""
    images = upscale(np.asarray(images, np.uint8), scale)
    return tile(images, ncols or len(images), pad=pad * max(1, scale // 2))


def filmstrip_png(images: np.ndarray, scale: int = 2, pad: int = 2) -> bytes:
    return png_bytes(filmstrip(images, scale, pad))


def gif_bytes(images: np.ndarray, scale: int = 4, duration_ms: int = 80,
              boomerang: bool = True, hold_ms: int = 400) -> bytes:
    """Animated GIF of the frames (nearest-neighbour upscaled), looping forever.

    boomerang plays A -> B -> A; the end frames are held for hold_ms."""
    frames = [to_pil(f) for f in upscale(np.asarray(images, np.uint8), scale)]
    durations = [duration_ms] * len(frames)
    if durations:
        durations[0] = durations[-1] = max(duration_ms, hold_ms)
    if boomerang and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
        durations = durations + [duration_ms] * (len(frames) - len(durations))
    frames = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=256) if f.mode not in ("L", "P")
              else f for f in frames]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=durations, disposal=2, optimize=False)
    return buf.getvalue()
