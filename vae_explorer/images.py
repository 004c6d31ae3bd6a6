"""Image helpers: uint8 conversion, nearest-neighbour upscaling, tiling, labels, PNG bytes.

Images are numpy uint8 arrays in (N, H, W, C) or (H, W, C) layout, C in {1, 3, 4}.
No streamlit import here.
"""
from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def to_uint8(x_unit) -> np.ndarray:
    """Float images in [0, 1] with layout (N, C, H, W) -> uint8 (N, H, W, C). Clips and rounds."""
    a = x_unit.detach().cpu().numpy() if hasattr(x_unit, "detach") else np.asarray(x_unit)
    a = np.nan_to_num(a.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
    a = np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if a.ndim == 3:  # (C, H, W)
        return np.ascontiguousarray(a.transpose(1, 2, 0))
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def chw_to_hwc(x: np.ndarray) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, H, W, C) without changing values."""
    x = np.asarray(x)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1) if x.ndim == 4 else x.transpose(1, 2, 0))


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling by an integer factor: crisp pixels on a projector."""
    factor = max(1, int(factor))
    if factor == 1:
        return img
    if img.ndim == 4:
        return img.repeat(factor, axis=1).repeat(factor, axis=2)
    return img.repeat(factor, axis=0).repeat(factor, axis=1)


def upscale_to(img: np.ndarray, target: int) -> np.ndarray:
    """Upscale (nearest) so the longer side is about `target` pixels (never downscales)."""
    side = max(img.shape[-3], img.shape[-2])
    return upscale(img, max(1, int(target) // max(1, side)))


def to_pil(img: np.ndarray) -> Image.Image:
    img = np.asarray(img, dtype=np.uint8)
    if img.ndim == 3 and img.shape[2] == 1:
        return Image.fromarray(img[:, :, 0], mode="L")
    if img.ndim == 2:
        return Image.fromarray(img, mode="L")
    if img.shape[2] == 2:  # grey + alpha: show the grey channel
        return Image.fromarray(img[:, :, 0], mode="L")
    return Image.fromarray(img, mode="RGBA" if img.shape[2] == 4 else "RGB")


def for_display(img: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 -> (H, W) grey or (H, W, 3) RGB, what st.image accepts."""
    if img.ndim == 3 and img.shape[2] in (1, 2):
        return img[:, :, 0]
    if img.ndim == 3 and img.shape[2] == 4:
        return img[:, :, :3]
    return img


def png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    to_pil(img).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def to_rgb(img: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 -> (H, W, 3) uint8."""
    if img.ndim == 2:
        img = img[:, :, None]
    c = img.shape[2]
    if c == 3:
        return img
    if c == 4:
        return img[:, :, :3]
    return np.repeat(img[:, :, :1], 3, axis=2)


def tile(images: np.ndarray, ncols: int, pad: int = 0, pad_value: int = 255) -> np.ndarray:
    """(N, H, W, C) -> one (rows*H + gaps, ncols*W + gaps, C) image, row-major."""
    images = np.asarray(images, dtype=np.uint8)
    n, h, w, c = images.shape
    ncols = max(1, min(int(ncols), n)) if n else 1
    nrows = max(1, -(-n // ncols))
    out = np.full((nrows * h + (nrows - 1) * pad, ncols * w + (ncols - 1) * pad, c),
                  pad_value, np.uint8)
    for i in range(n):
        r, q = divmod(i, ncols)
        y, x = r * (h + pad), q * (w + pad)
        out[y:y + h, x:x + w] = images[i]
    return out


@lru_cache(maxsize=8)
def font(size: int = 14):
    try:
        return ImageFont.load_default(size=size)
    except Exception:  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()


def text_size(draw: ImageDraw.ImageDraw, text: str, fnt) -> tuple[int, int]:
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=fnt)
    return x1 - x0, y1 - y0


def labelled_grid(images: np.ndarray, nrows: int, ncols: int, *, scale: int = 1,
                  col_labels: list[str] | None = None, row_labels: list[str] | None = None,
                  x_title: str = "", y_title: str = "", font_size: int = 14,
                  pad: int = 0) -> np.ndarray:
    """Tile (nrows*ncols, H, W, C) images (row-major) into an RGB image with tick labels.

    col_labels go under each column, row_labels left of each row, titles along the axes.
    """
    images = upscale(np.asarray(images, np.uint8), scale)
    n, h, w, _ = images.shape
    assert n == nrows * ncols, "need nrows*ncols images"
    body = to_rgb(tile(images, ncols, pad=pad))
    fnt = font(font_size)
    probe = ImageDraw.Draw(Image.new("RGB", (4, 4)))
    row_labels = row_labels or []
    col_labels = col_labels or []
    lw = max([text_size(probe, s, fnt)[0] for s in row_labels] + [0])
    th = text_size(probe, "0.9-", fnt)[1]
    left = (lw + 10 if row_labels else 0) + (th + 10 if y_title else 0)
    bottom = (th + 10 if col_labels else 0) + (th + 10 if x_title else 0)
    margin = 6
    W = left + body.shape[1] + margin * 2
    H = body.shape[0] + bottom + margin * 2
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    canvas.paste(Image.fromarray(body), (left + margin, margin))
    d = ImageDraw.Draw(canvas)
    ink = (40, 40, 40)
    x_off = left + margin
    for j, s in enumerate(col_labels[:ncols]):
        tw, _ = text_size(d, s, fnt)
        cx = x_off + j * (w + pad) + w // 2
        d.text((cx - tw // 2, margin + body.shape[0] + 4), s, fill=ink, font=fnt)
    for i, s in enumerate(row_labels[:nrows]):
        tw, tht = text_size(d, s, fnt)
        cy = margin + i * (h + pad) + h // 2
        d.text((x_off - tw - 6, cy - tht // 2 - 2), s, fill=ink, font=fnt)
    if x_title:
        tw, _ = text_size(d, x_title, fnt)
        d.text((x_off + body.shape[1] // 2 - tw // 2, H - th - margin - 2), x_title, fill=ink,
               font=fnt)
    if y_title:
        tw, tht = text_size(d, y_title, fnt)
        tmp = Image.new("RGB", (tw + 4, tht + 6), (255, 255, 255))
        ImageDraw.Draw(tmp).text((2, 0), y_title, fill=ink, font=fnt)
        tmp = tmp.rotate(90, expand=True)
        canvas.paste(tmp, (margin, margin + body.shape[0] // 2 - tmp.size[1] // 2))
    return np.asarray(canvas)
