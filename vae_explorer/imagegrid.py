"""A clickable image grid (components/imagegrid): each cell an original beside its reconstruction
with a caption; clicking one returns its dataset index. `grid_data` is plain and tested."""
from __future__ import annotations

import base64
import json

import numpy as np

from . import bidi
from .atlas import content_hash, encode_png
from .images import upscale


def pair(original: np.ndarray, recon: np.ndarray | None, pad: int = 1) -> np.ndarray:
    """Original and reconstruction side by side (HWC uint8), white gap between."""
    if recon is None:
        return original
    gap = np.full((original.shape[0], pad, original.shape[2]), 255, np.uint8)
    return np.concatenate([original, gap, recon], axis=1)


def grid_data(images: list[np.ndarray], captions: list[str], indices, key: str,
              scale: int = 2, cell_px: int = 120) -> dict:
    """Component data: one PNG per cell (base64), its caption (plain text) and dataset index."""
    cells = []
    for img, cap, i in zip(images, captions, indices):
        img = np.asarray(img, np.uint8)
        if img.shape[-1] == 4:
            img = img[..., :3]
        png = encode_png(upscale(img, scale))
        cells.append({"i": int(i), "png": base64.b64encode(png).decode(), "cap": str(cap)})
    return {"key": key, "cells": cells, "cell_px": int(cell_px),
            "sig": content_hash(json.dumps([c["i"] for c in cells]), *captions,
                                *(c["png"] for c in cells))}


def _component():
    return bidi.component("imagegrid")


def image_grid(images, captions, indices, key: str, scale: int = 2, cell_px: int = 120) -> int | None:
    """Mount the grid; the dataset index of the cell clicked in this run, or None."""
    data = json.dumps(grid_data(images, captions, indices, key, scale, cell_px),
                      separators=(",", ":"))
    res = _component()(key=key, data=data, height="content", on_click_change=lambda: None)
    v = res.get("click") if hasattr(res, "get") else getattr(res, "click", None)
    return int(v) if isinstance(v, (int, float)) else None


LINE_PX = 15  # one caption line in a grid PNG (12 px text)


def compose(images, captions=None, cols: int = 8, scale: int = 2, pad: int = 8) -> np.ndarray:
    """Equal-sized images (H, W, C uint8) -> one RGB image: row-major cells `pad` px apart on
    white, each image upscaled by `scale`, with its caption (plain text, "\\n" for more lines)
    drawn under it. Size: cols*w + (cols+1)*pad by rows*(h + lines*LINE_PX) + (rows+1)*pad."""
    from PIL import Image, ImageDraw

    from .images import font, to_rgb

    cells = [to_rgb(upscale(np.asarray(im, np.uint8), scale)) for im in images]
    if not cells:
        raise ValueError("no images to compose")
    h, w = cells[0].shape[:2]
    if any(c.shape[:2] != (h, w) for c in cells):
        raise ValueError("images differ in size")
    caps = [str(c).split("\n") for c in captions] if captions is not None else []
    lines = max((len(c) for c in caps), default=0)
    cols = max(1, min(int(cols), len(cells)))
    rows = -(-len(cells) // cols)
    ch = h + lines * LINE_PX
    out = np.full((rows * ch + (rows + 1) * pad, cols * w + (cols + 1) * pad, 3), 255, np.uint8)
    for k, c in enumerate(cells):
        r, q = divmod(k, cols)
        y, x = pad + r * (ch + pad), pad + q * (w + pad)
        out[y:y + h, x:x + w] = c
    if lines:
        img = Image.fromarray(out)
        draw, fnt = ImageDraw.Draw(img), font(12)
        for k, cap in enumerate(caps):
            r, q = divmod(k, cols)
            for j, line in enumerate(cap):
                draw.text((pad + q * (w + pad), pad + r * (ch + pad) + h + j * LINE_PX), line,
                          fill=(40, 40, 40), font=fnt)
        out = np.asarray(img)
    return out


def grid_png(images, captions=None, cols: int = 8, scale: int = 2, pad: int = 8) -> bytes:
    """compose() as PNG bytes (what the pages' "... as PNG" buttons download)."""
    return encode_png(compose(images, captions, cols, scale, pad))
