"""The latent map's data on the wire: the payloads (points, image atlases, decoded grids) and
the binary frame a render is sent as (pack_frame), read back by the page's entry.js / loader.js
and by tests (unpack_frame). Plain functions, no Streamlit."""
from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from vae_explorer.atlas import pack_atlas


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _labels_payload(labels: np.ndarray) -> tuple[str, str]:
    lab = np.asarray(labels).astype(np.int64, copy=False)
    lo, hi = (int(lab.min()), int(lab.max())) if lab.size else (0, 0)
    if lo >= 0 and hi < 256:
        return _b64(lab.astype(np.uint8)), "u1"
    if lo >= 0 and hi < 65536:
        return _b64(lab.astype("<u2")), "u2"
    return _b64(lab.astype("<i4")), "i4"


def points_payload(xy: np.ndarray, labels: np.ndarray | None,
                   color_values: np.ndarray | None = None) -> dict:
    """The JSON payload for coordinates, labels and optional continuous colours."""
    xy = np.asarray(xy, dtype="<f4")
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"xy must be (N, 2), got {xy.shape}")
    n = xy.shape[0]
    finite = np.isfinite(xy).all(axis=1)
    if not finite.all():
        raise ValueError(f"xy has {int((~finite).sum())} non-finite rows")
    if n:
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
    else:
        x0 = y0 = -1.0
        x1 = y1 = 1.0
    # Degenerate extents (all points on a line) get some room.
    if x1 - x0 < 1e-9:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 0.5, y1 + 0.5
    p: dict[str, Any] = {"kind": "points", "n": int(n), "xy": _b64(xy),
                         "bounds": [float(x0), float(x1), float(y0), float(y1)]}
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels must be ({n},), got {labels.shape}")
        p["labels"], p["labelsDtype"] = _labels_payload(labels)
    if color_values is not None:
        cv = np.asarray(color_values, dtype="<f4")
        if cv.shape != (n,):
            raise ValueError(f"color_values must be ({n},), got {cv.shape}")
        fin = cv[np.isfinite(cv)]
        lo, hi = (float(np.percentile(fin, 1)), float(np.percentile(fin, 99))) if fin.size else (0.0, 1.0)
        if hi <= lo:
            lo, hi = float(fin.min()) if fin.size else 0.0, (float(fin.max()) if fin.size else 1.0)
        p["colors"] = _b64(cv)
        p["colorRange"] = [lo, hi]
    return p


# What a student downloads on opening a map is mostly these pages (issue 12: <= 1.5 MB for the
# default one), and decoding them is most of what the browser does between the map's points and
# its hover images. Deflate pages (atlas.encode_deflate) inflate in ~15 ms a page in a worker,
# where WebP took ~60-90 ms to decode and read back from a canvas (2 cores: that CPU came out
# of drawing the page; docs/benchmarks.md "Warm open"). Originals stay exact; what the model
# outputs (reconstructions, decoded grids) keeps MODEL_BITS bits a value: at most 2 grey levels
# of 255 off (mean 1.5), where lossy WebP (quality 90) was 0.5 off on average but up to 13 near
# edges, at the same size (5k shapes: 686 against 653 kB). The map's "Recon. error" is computed
# before any of this. Views decoded on demand stay PNG: encoding speed is their latency.
ATLAS_FORMAT = "deflate"
MODEL_BITS = 6


def atlas_payload(images: np.ndarray, fmt: str = ATLAS_FORMAT, bits: int = 8) -> dict:
    d = pack_atlas(images, fmt=fmt, bits=bits).to_json()
    d["kind"] = "atlas"
    return d


ZHEAD = 3  # latent dims per grid cell sent for the readout ("decodes z = (a, b, c, …)")


def grid_payload(images: np.ndarray, latents: np.ndarray | None, fmt: str = ATLAS_FORMAT) -> dict:
    """A decoded grid's atlas, with (for maps that are not the latent itself) the first ZHEAD
    dims and the norm of the latent each cell decodes: 16 bytes a cell."""
    d = atlas_payload(images, fmt, MODEL_BITS)
    if latents is not None:
        z = np.asarray(latents, np.float32).reshape(len(latents), -1)
        d["zdim"] = int(z.shape[1])
        d["zhead"] = _b64(np.ascontiguousarray(z[:, :ZHEAD], "<f4"))
        d["znorm"] = _b64(np.linalg.norm(z, axis=1).astype("<f4"))
    return d


FRAME_MAGIC = b"LMB1"
_BIN_FIELDS = ("xy", "labels", "colors", "zhead", "znorm")


def pack_frame(data: dict) -> bytes:
    """The component's data as one binary frame: FRAME_MAGIC, the JSON header's length (uint32
    little-endian), the header, then the payloads' arrays and image pages as raw bytes, which
    the header names as {"$bin": [offset, length]} from the start of that raw part.

    Payloads are kept (and cached on disk) as base64 JSON; sending them raw instead saves the
    quarter of every byte that base64 adds (a default map: 2.7 -> 2.0 MB a student), and the
    page then never runs atob over megabytes. entry.js's decodeData reads it back."""
    chunks: list[bytes] = []
    offset = 0

    def raw(b64: str) -> dict:
        nonlocal offset
        b = base64.b64decode(b64)
        chunks.append(b)
        offset += len(b)
        return {"$bin": [offset - len(b), len(b)]}

    blobs = {}
    for ref, p in data.get("blobs", {}).items():
        q = dict(p)
        for f in _BIN_FIELDS:
            if isinstance(q.get(f), str):
                q[f] = raw(q[f])
        if "pages" in q:
            q["pages"] = [raw(s) for s in q["pages"]]
        blobs[ref] = q
    out = {**data, "blobs": blobs}
    if isinstance((data.get("code") or {}).get("z"), str):  # the map's code, compressed
        out["code"] = {**data["code"], "z": raw(data["code"]["z"])}
    head = json.dumps(out, separators=(",", ":")).encode()
    return FRAME_MAGIC + len(head).to_bytes(4, "little") + head + b"".join(chunks)


def unpack_frame(frame: bytes) -> dict:
    """pack_frame's inverse, with the raw parts as bytes (for tests and tools)."""
    if frame[:4] != FRAME_MAGIC:
        raise ValueError("not a latent map frame")
    n = int.from_bytes(frame[4:8], "little")
    data = json.loads(frame[8:8 + n])
    body = frame[8 + n:]

    def get(v):
        return body[v["$bin"][0]:v["$bin"][0] + v["$bin"][1]] if isinstance(v, dict) else v

    if "code" in data:
        data["code"]["z"] = get(data["code"]["z"])
    for p in data.get("blobs", {}).values():
        for f in _BIN_FIELDS:
            if f in p:
                p[f] = get(p[f])
        if "pages" in p:
            p["pages"] = [get(v) for v in p["pages"]]
    return data
