"""Image atlases for the latent map: pack many small images into a few pages.

Pure functions (numpy + Pillow, no Streamlit). The browser decodes each page once and then
copies one cell per hover, so showing a data point's image needs no server round trip.
Pages are PNG, or "deflate": the page's raw pixel bytes zlib-compressed (encode_deflate).

Layout: cells of ``cell_h x cell_w`` pixels, ``cols`` cells per row, ``per_page`` cells per page,
row-major inside a page, pages in order. Cell ``i`` lives on page ``i // per_page`` at column
``(i % per_page) % cols`` and row ``(i % per_page) // cols``. Pages are at most ``max_side``
pixels on each side (browsers handle 4096 px images everywhere). 1-channel images become
greyscale PNGs ("L"), 3-channel ones RGB PNGs; 4-channel input is rejected (no alpha in data).
"""
from __future__ import annotations

import base64
import hashlib
import io
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

MAX_SIDE = 4096
PNG_COMPRESS_LEVEL = 1  # zlib level: 1 is ~4x faster than 6 and only ~10-20% larger here


@dataclass(frozen=True)
class AtlasLayout:
    count: int
    cell_h: int
    cell_w: int
    cols: int
    rows_per_page: int
    pages: int

    @property
    def per_page(self) -> int:
        return self.cols * self.rows_per_page

    def cell(self, i: int) -> tuple[int, int, int]:
        """(page, x, y) pixel origin of cell i."""
        if not 0 <= i < self.count:
            raise IndexError(f"cell {i} out of range 0..{self.count - 1}")
        page, j = divmod(i, self.per_page)
        row, col = divmod(j, self.cols)
        return page, col * self.cell_w, row * self.cell_h

    def page_shape(self, page: int) -> tuple[int, int]:
        """(height, width) in pixels of one page (the last page may have fewer rows)."""
        if not 0 <= page < self.pages:
            raise IndexError(page)
        n = min(self.per_page, self.count - page * self.per_page)
        rows = -(-n // self.cols)
        cols = self.cols if rows > 1 else n
        return rows * self.cell_h, cols * self.cell_w

    def to_json(self) -> dict:
        return {"count": self.count, "cellH": self.cell_h, "cellW": self.cell_w,
                "cols": self.cols, "perPage": self.per_page, "pages": self.pages}


def atlas_layout(count: int, cell_h: int, cell_w: int, max_side: int = MAX_SIDE) -> AtlasLayout:
    """Choose columns/rows so that pages are roughly square and at most max_side pixels."""
    if count < 1:
        raise ValueError("an atlas needs at least one image")
    if cell_h < 1 or cell_w < 1 or cell_h > max_side or cell_w > max_side:
        raise ValueError(f"bad cell size {cell_h}x{cell_w} (max {max_side})")
    max_cols = max_side // cell_w
    max_rows = max_side // cell_h
    # Square-ish pages: enough columns for sqrt(count) cells of area, capped by max_side.
    ideal = int(np.ceil(np.sqrt(count * cell_h / cell_w)))
    cols = max(1, min(max_cols, ideal, count))
    rows_needed = -(-count // cols)
    rows_per_page = max(1, min(max_rows, rows_needed))
    pages = -(-count // (cols * rows_per_page))
    return AtlasLayout(count, cell_h, cell_w, cols, rows_per_page, pages)


def as_nhwc_uint8(images: np.ndarray) -> np.ndarray:
    """Validate images as (N, H, W, C) uint8 with C in {1, 3}; (N, H, W) is taken as C=1."""
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4:
        raise ValueError(f"expected (N, H, W, C) images, got shape {a.shape}")
    if a.shape[-1] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {a.shape[-1]}")
    if a.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {a.dtype}")
    if a.shape[0] < 1:
        raise ValueError("no images")
    return a


def page_array(images: np.ndarray, layout: AtlasLayout, page: int) -> np.ndarray:
    """The (H, W, C) pixel array of one atlas page (unused cells of the last row are 0)."""
    a = as_nhwc_uint8(images)
    n, h, w, c = a.shape
    start = page * layout.per_page
    chunk = a[start:start + layout.per_page]
    ph, pw = layout.page_shape(page)
    rows, cols = ph // h, pw // w
    full = np.zeros((rows * cols, h, w, c), np.uint8)
    full[:len(chunk)] = chunk
    # (rows, cols, h, w, c) -> (rows, h, cols, w, c) -> (rows*h, cols*w, c)
    return full.reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, cols * w, c)


def encode_png(pixels: np.ndarray, compress_level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """(H, W, 1|3) or (H, W) uint8 -> PNG bytes (greyscale for one channel)."""
    p = np.asarray(pixels)
    if p.ndim == 3 and p.shape[-1] == 1:
        p = p[..., 0]
    mode = "L" if p.ndim == 2 else "RGB"
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(p), mode=mode).save(
        buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


# zlib effort for deflate pages. Level 8 against 9 on 5k shapes: originals 521 kB in 0.38 s
# against 502 kB in 1.2 s (repetitive data makes 9's long match chains slow), 6-bit
# reconstructions 686 kB in 0.2 s against 681 kB in 0.5 s; once per sample, then disk-cached.
# Above FAST_ABOVE images (the 70k sample, 55 MB of pixels) level 6: ~1 s.
DEFLATE_LEVEL = 8
DEFLATE_LEVEL_FAST = 6
FAST_ABOVE = 20_000


def quantize(pixels: np.ndarray, bits: int) -> np.ndarray:
    """uint8 values 0..255 -> 0..2**bits-1 (rounded); dequantize() maps them back."""
    if bits >= 8:
        return np.asarray(pixels, np.uint8)
    top = (1 << bits) - 1
    return np.rint(np.asarray(pixels, np.float32) * (top / 255.0)).astype(np.uint8)


def dequantize(q: np.ndarray, bits: int) -> np.ndarray:
    """0..2**bits-1 -> 0..255, as the browser does (black stays 0, white 255)."""
    if bits >= 8:
        return np.asarray(q, np.uint8)
    top = (1 << bits) - 1
    return np.rint(np.asarray(q, np.float32) * (255.0 / top)).astype(np.uint8)


def encode_deflate(pixels: np.ndarray, bits: int = 8, level: int = DEFLATE_LEVEL) -> bytes:
    """(H, W, C) uint8 -> zlib stream of its raw bytes (row-major, channels last), each value
    kept to ``bits`` bits. The browser inflates it with DecompressionStream("deflate"): ~15 ms
    of a worker for a 2k x 2k page, against ~60-90 ms to decode the same page as WebP and read
    its pixels back from a canvas (docs/benchmarks.md "Warm open")."""
    return zlib.compress(np.ascontiguousarray(quantize(pixels, bits)).tobytes(), level)


def decode_deflate(data: bytes, shape: tuple[int, int], channels: int, bits: int = 8) -> np.ndarray:
    """A deflate page back to (H, W, C) uint8 (for tests and round trips)."""
    q = np.frombuffer(zlib.decompress(data), np.uint8).reshape(shape[0], shape[1], channels)
    return dequantize(q, bits)


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes -> (H, W, C) uint8 (for tests and round trips)."""
    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im)
    return arr[..., None] if arr.ndim == 2 else arr


@dataclass
class Atlas:
    layout: AtlasLayout
    channels: int
    pages: list[bytes] = field(default_factory=list)
    format: str = "png"  # png | deflate
    bits: int = 8  # deflate pages: bits kept per value

    @property
    def nbytes(self) -> int:
        return sum(len(p) for p in self.pages)

    def to_json(self) -> dict:
        """JSON-ready description with base64 pages (what the browser receives)."""
        d = self.layout.to_json()
        d["channels"] = self.channels
        d["format"] = self.format
        d["pages"] = [base64.b64encode(p).decode("ascii") for p in self.pages]
        if self.format == "deflate":  # raw pixels: the page sizes and value depth travel along
            d["bits"] = self.bits
            d["pageShapes"] = [list(self.layout.page_shape(p)) for p in range(self.layout.pages)]
        return d

    def page_pixels(self, page: int) -> np.ndarray:
        """One page decoded to (H, W, C) uint8 (slow; for tests)."""
        if self.format == "deflate":
            return decode_deflate(self.pages[page], self.layout.page_shape(page), self.channels,
                                  self.bits)
        return decode_png(self.pages[page])[..., :self.channels]


def pack_atlas(images: np.ndarray, max_side: int = MAX_SIDE,
               compress_level: int = PNG_COMPRESS_LEVEL, fmt: str = "png",
               bits: int = 8) -> Atlas:
    """Pack (N, H, W, C) uint8 images into PNG pages, or deflate ones (fmt="deflate", keeping
    ``bits`` bits per value: 8 is lossless)."""
    a = as_nhwc_uint8(images)
    n, h, w, c = a.shape
    layout = atlas_layout(n, h, w, max_side)
    if fmt == "deflate":
        level = DEFLATE_LEVEL_FAST if n > FAST_ABOVE else DEFLATE_LEVEL
        pages = [encode_deflate(page_array(a, layout, p), bits, level) for p in range(layout.pages)]
        return Atlas(layout, c, pages, fmt, bits)
    if fmt == "png":
        pages = [encode_png(page_array(a, layout, p), compress_level) for p in range(layout.pages)]
        return Atlas(layout, c, pages, fmt)
    raise ValueError(f"unknown atlas format {fmt!r}")


def unpack_cell(atlas: Atlas, i: int) -> np.ndarray:
    """Read cell i back from the encoded pages (slow: decodes a page; for tests)."""
    page, x, y = atlas.layout.cell(i)
    arr = atlas.page_pixels(page)
    return arr[y:y + atlas.layout.cell_h, x:x + atlas.layout.cell_w]


def content_hash(*parts) -> str:
    """Short content hash of arrays / bytes / str / numbers (shape and dtype included)."""
    h = hashlib.sha1()  # not for security: a fast content key (~1.5 GB/s)
    for p in parts:
        if p is None:
            h.update(b"\x00none")
        elif isinstance(p, np.ndarray):
            a = np.ascontiguousarray(p)
            h.update(f"nd{a.dtype.str}{a.shape}".encode())
            h.update(memoryview(a).cast("B"))
        elif isinstance(p, (bytes, bytearray, memoryview)):
            h.update(b"b")
            h.update(p)
        else:
            h.update(b"s" + repr(p).encode())
        h.update(b"|")
    return h.hexdigest()[:32]


def grid_cell(x: float, y: float, extent: tuple, g: int) -> tuple[int, int] | None:
    """(row, col) of the G x G grid cell containing map point (x, y); row 0 is the top (y max).

    None outside the extent. Mirrors the JS lookup, so the two can be tested against each other.
    """
    x0, x1, y0, y1 = (float(v) for v in extent)
    if not (x0 <= x <= x1 and y0 <= y <= y1) or x1 <= x0 or y1 <= y0:
        return None
    col = min(g - 1, int((x - x0) / (x1 - x0) * g))
    row = min(g - 1, int((y1 - y) / (y1 - y0) * g))
    return row, col
