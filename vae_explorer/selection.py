"""Selections on the latent map: the compact forms they travel in, and what the panel shows.

The page sends a selection as a base64 bitset (bit i of byte i >> 3, least significant bit
first: numpy's bitorder="little"), 8.75 kB for 70,000 points whatever the shape. Links carry
index ranges ("0-15.20.31-40"), short for the contiguous runs a small selection usually has.
Both decoders read untrusted text and return None (never raise) on anything malformed.
"""
from __future__ import annotations

import base64
import binascii
import re

import numpy as np

MAX_URL_POINTS = 2000  # larger selections are left out of links (exported instead)
_RANGES_RE = re.compile(r"^\d+(-\d+)?(\.\d+(-\d+)?)*$")


def encode_bitset(indices, n: int) -> str:
    bits = np.zeros(n, bool)
    idx = np.asarray(indices, np.int64)
    bits[idx[(idx >= 0) & (idx < n)]] = True
    return base64.b64encode(np.packbits(bits, bitorder="little").tobytes()).decode("ascii")


def decode_bitset(b64: str, n: int) -> np.ndarray | None:
    """Sorted int64 indices of the set bits among the first n, or None if not a bitset."""
    if not isinstance(b64, str) or n < 0 or len(b64) > 4 * ((n + 7) // 8 + 2) // 3 + 8:
        return None
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != (n + 7) // 8:
        return None
    bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[:n]
    return np.flatnonzero(bits).astype(np.int64)


def to_ranges(indices) -> str:
    """Sorted unique indices as "a-b.c.d-e" (runs of consecutive indices collapsed)."""
    try:  # session state may hold anything a page put there: nothing to write then
        idx = np.unique(np.asarray(indices, np.int64).ravel())
    except (TypeError, ValueError, OverflowError):
        return ""
    if idx.size == 0 or idx[0] < 0:
        return ""
    breaks = np.flatnonzero(np.diff(idx) != 1)
    starts = np.concatenate([idx[:1], idx[breaks + 1]])
    ends = np.concatenate([idx[breaks], idx[-1:]])
    return ".".join(str(a) if a == b else f"{a}-{b}" for a, b in zip(starts, ends))


def from_ranges(text: str, limit: int = MAX_URL_POINTS) -> np.ndarray | None:
    """Inverse of to_ranges for untrusted text; None if malformed or over `limit` points."""
    if not isinstance(text, str) or not text or len(text) > 16 * limit or not _RANGES_RE.match(text):
        return None
    out, total = [], 0
    for part in text.split("."):
        a, _, b = part.partition("-")
        lo, hi = int(a), int(b or a)
        if hi < lo:
            return None
        total += hi - lo + 1
        if total > limit:
            return None
        out.append(np.arange(lo, hi + 1, dtype=np.int64))
    return np.unique(np.concatenate(out))


def write_selection(v) -> str:
    """URL text for a selection: its ranges, or "" (left out) above MAX_URL_POINTS."""
    if v is None or len(v) == 0 or len(v) > MAX_URL_POINTS:
        return ""
    return to_ranges(v)


def parse_selection(text: str) -> list[int] | None:
    got = from_ranges(text)
    return None if got is None else got.tolist()


def valid(indices, n: int) -> np.ndarray:
    """The indices of a stored selection that exist in a map of n points (a link may name more)."""
    idx = np.asarray(indices if indices is not None else [], np.int64)
    return idx[(idx >= 0) & (idx < n)]


def points_in_polygon(xy: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Boolean mask of points inside a polygon (even-odd rule, ray casting): the reference the
    page's hit test (components/latent_map/select.js) is checked against."""
    xy = np.asarray(xy, np.float64)
    poly = np.asarray(poly, np.float64)
    x, y = xy[:, 0], xy[:, 1]
    inside = np.zeros(len(xy), bool)
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi = poly[i]
        xj, yj = poly[j]
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < xc)
        j = i
    return inside


def search(query: str, labels: np.ndarray | None, label_names: list[str], n: int) -> tuple[np.ndarray, str]:
    """Points a search box names: "#123" or "123" (an index), or a label name (exact, then
    case-insensitive prefix). A number that is also a label name (MNIST's "7") finds the label;
    "#7" finds the index. Returns (sorted indices, what was found, as plain text)."""
    q = (query or "").strip()
    if not q:
        return np.zeros(0, np.int64), ""
    names = [str(s) for s in label_names]
    if q.startswith("#"):
        digits = q[1:].strip()
        if digits.isdigit() and int(digits) < n:
            return np.array([int(digits)], np.int64), f"point #{int(digits)}"
        return np.zeros(0, np.int64), f"no point {q} (indices run 0 to {n - 1})"
    if labels is not None:
        lab = np.asarray(labels)
        hits = [k for k, s in enumerate(names) if s == q] or \
               [k for k, s in enumerate(names) if s.lower() == q.lower()] or \
               ([] if q.isdigit() else [k for k, s in enumerate(names) if s.lower().startswith(q.lower())])
        if hits:
            idx = np.flatnonzero(np.isin(lab, hits)).astype(np.int64)
            return idx, f"label {', '.join(names[k] for k in hits)}: {idx.size} points"
    if q.isdigit() and int(q) < n:
        return np.array([int(q)], np.int64), f"point #{int(q)}"
    return np.zeros(0, np.int64), f"nothing matches {q!r}"


def summary(indices, labels, label_names, enc: dict) -> dict:
    """What the selection panel shows: count, label histogram, mean reconstruction error / KL."""
    idx = np.asarray(indices, np.int64)
    out = {"count": int(idx.size), "hist": {}, "rec_err": None, "kl": None}
    if idx.size == 0:
        return out
    if labels is not None:
        counts = np.bincount(np.asarray(labels)[idx].astype(np.int64), minlength=len(label_names))
        out["hist"] = {str(label_names[k]) if k < len(label_names) else str(k): int(c)
                       for k, c in enumerate(counts) if c}
    for key in ("rec_err", "kl"):
        if enc.get(key) is not None:
            out[key] = float(np.mean(np.asarray(enc[key])[idx]))
    return out


def page(indices, page_no: int, per_page: int = 48) -> tuple[np.ndarray, int]:
    """(the indices on page page_no, clamped; the number of pages)."""
    idx = np.asarray(indices, np.int64)
    pages = max(1, -(-idx.size // per_page))
    p = min(max(0, int(page_no)), pages - 1)
    return idx[p * per_page:(p + 1) * per_page], pages


# ---------------------------------------------------------------------------------------------
# the map component's side (vae_explorer.latent_map, components/latent_map/select.js)

FOUND_RINGS = 100  # search results up to this many get a ring each on the map


def selections_payload(selections: dict | None, n: int) -> dict:
    s = selections or {}
    out: dict = {"seq": int(s.get("seq") or 0)}
    for slot in ("s1", "s2"):
        idx = valid(s.get(slot), n)
        out[slot] = encode_bitset(idx, n) if idx.size else ""
    return out


def found_payload(found: dict | None, n: int) -> dict | None:
    if not found:
        return None
    idx = valid(found.get("indices"), n)
    if not idx.size:
        return None
    return {"id": int(found.get("id", 0)), "count": int(idx.size), "bits": encode_bitset(idx, n),
            "list": idx[:FOUND_RINGS].tolist() if idx.size <= FOUND_RINGS else []}


def from_page_value(value, n: int) -> tuple[str, np.ndarray, int] | None:
    """The page's "selection" value (one per gesture: {slot, bits, seq, n}) as (slot, sorted
    indices, seq), or None if it is malformed or was made on a map of another size."""
    if not isinstance(value, dict) or value.get("slot") not in ("s1", "s2"):
        return None
    if value.get("n") != n or not isinstance(value.get("seq"), int):
        return None
    bits = value.get("bits") or ""
    idx = np.zeros(0, np.int64) if bits == "" else decode_bitset(bits, n)
    if idx is None:
        return None
    return value["slot"], idx, int(value["seq"])


def take_from_page(key: str, n: int) -> None:
    """on_selection_change: store the gesture's selection as sel_s1 / sel_s2 (a list of dataset
    indices) before the script reruns."""
    import streamlit as st

    got = st.session_state.get(key)
    value = got.get("selection") if hasattr(got, "get") else None
    parsed = from_page_value(value, n)
    if parsed is None:
        return
    slot, idx, seq = parsed
    st.session_state["sel_" + slot] = idx.tolist() if idx.size else None
    st.session_state["_sel_seq"] = seq
