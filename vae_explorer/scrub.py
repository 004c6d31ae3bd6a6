"""The interpolation scrubber: every frame of the A -> B path decoded once, scrubbed in the
browser (components/scrub/scrub.js) with no server round trip; t comes back on release.

`frames_data` is plain (no Streamlit) and tested; `scrubber` mounts the component.
"""
from __future__ import annotations

import json

import numpy as np

from . import bidi
from .atlas import content_hash, pack_atlas

FRAMES = 65  # t = i / 64: the midpoint and quarters are frames


def frame_index(t: float, n: int = FRAMES) -> int:
    """The frame shown for position t in [0, 1]."""
    return int(round(min(1.0, max(0.0, float(t))) * (n - 1)))


def frames_data(frames: np.ndarray, norms, t: float, key: str) -> dict:
    """Component data: the frames as a PNG atlas, |z| per frame, the position."""
    frames = np.asarray(frames, np.uint8)
    if frames.shape[-1] == 4:  # no alpha in data images
        frames = frames[..., :3]
    atlas = pack_atlas(frames)
    d = atlas.to_json()
    return {"key": str(key), "atlas": d, "sig": content_hash(frames),
            "norms": [round(float(v), 4) for v in norms], "t": float(t)}


def _component():
    return bidi.component("scrub")


def scrubber(frames: np.ndarray, norms, t: float, key: str, on_change) -> None:
    """Mount the scrubber; on release on_change() runs (before the script) and reads the new
    position with `released_t(key)`."""
    data = json.dumps(frames_data(frames, norms, t, key), separators=(",", ":"))
    _component()(key=key, data=data, on_t_change=on_change)


def released_t(key: str) -> float | None:
    import streamlit as st

    v = st.session_state.get(key)
    t = v.get("t") if hasattr(v, "get") else None
    return float(t) if isinstance(t, (int, float)) and 0.0 <= t <= 1.0 else None
