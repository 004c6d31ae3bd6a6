"""Session and URL state for the explorer (the only plain module that imports streamlit).

Shareable state lives in the URL (st.query_params):
  ckpt=<file name in checkpoints/>   proj=pca|umap|tsne   a=<point>   b=<point>
  view=<page url path> (also in the URL path) present=1 (presenter view)
A point is a dataset index ("i123") or a latent vector ("z0.5,-1.2").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st

URL_KEYS = ("ckpt", "proj", "a", "b", "view", "present")
MAX_Z_TEXT = 1024 * 24


# ---------------------------------------------------------------------------------------------
# points A / B


def point_to_str(p: dict | None) -> str:
    if not p:
        return ""
    if p.get("kind") == "index":
        return f"i{int(p['index'])}"
    if p.get("kind") == "z":
        return "z" + ",".join(f"{float(v):.4g}" for v in p["z"])
    return ""


def point_from_str(s: str | None) -> dict | None:
    if not s or len(s) > MAX_Z_TEXT:
        return None
    try:
        if s[0] == "i":
            i = int(s[1:])
            return {"kind": "index", "index": i} if i >= 0 else None
        if s[0] == "z":
            z = [float(v) for v in s[1:].split(",") if v.strip()]
            if z and all(np.isfinite(z)) and len(z) <= 1024:
                return {"kind": "z", "z": z}
    except ValueError:
        return None
    return None


def parse_latent_text(text: str, latent_dim: int) -> tuple[np.ndarray | None, str | None]:
    """'0.5, -1, 2' -> array; a single number is repeated; error string if it does not fit."""
    try:
        vals = [float(v) for v in text.replace(";", ",").replace(" ", ",").split(",") if v]
    except ValueError:
        return None, "Type numbers separated by commas, e.g. 0.5, -1.2"
    if len(vals) == 1:
        vals = vals * latent_dim
    if len(vals) != latent_dim:
        return None, f"Need {latent_dim} numbers (or one for all), got {len(vals)}."
    if not all(np.isfinite(vals)):
        return None, "Numbers must be finite."
    return np.array(vals, np.float32), None


# ---------------------------------------------------------------------------------------------
# the URL


def init_from_url() -> None:
    """Copy URL state into the session once, on the session's first run."""
    ss = st.session_state
    if ss.get("_url_loaded"):
        return
    qp = st.query_params
    ss["_url_loaded"] = True
    ss["url_ckpt"] = qp.get("ckpt", "")
    proj = qp.get("proj", "")
    if proj in ("pca", "umap", "tsne"):
        ss["proj"] = proj
    for k in ("a", "b"):
        p = point_from_str(qp.get(k))
        if p:
            ss[f"point_{k}"] = p
    ss["url_page"] = qp.get("view", "")
    if qp.get("present", "") in ("1", "true", "yes"):
        ss["presenter"] = True


def sync_url(page: str = "") -> None:
    """Write the shareable state into the URL (only keys that changed)."""
    ss = st.session_state
    want = {
        "ckpt": ss.get("active_ckpt_name", ""),
        "proj": ss.get("proj") or "" if ss.get("proj") != "pca" else "",
        "a": point_to_str(ss.get("point_a")),
        "b": point_to_str(ss.get("point_b")),
        "view": page,
        "present": "1" if ss.get("presenter") else "",
    }
    qp = st.query_params
    for k, v in want.items():
        if v and qp.get(k) != v:
            qp[k] = v
        elif not v and k in qp:
            del qp[k]


# ---------------------------------------------------------------------------------------------
# what the pages share


@dataclass
class Ctx:
    ck: Any  # training.checkpoint.Checkpoint
    source: str  # where it came from, for display
    label_names: list[str]
    images: np.ndarray | None = None  # (N, H, W, C) uint8 originals
    labels: np.ndarray | None = None  # (N,) int
    enc: dict | None = None  # mu, logvar, recon, rec_err, kl, kl_per_dim
    data_error: str | None = None
    data_desc: str = ""
    data_key: str = ""
    y_cond: int | None = None  # class for decoding with a conditional VAE
    presenter: bool = False
    extras: dict = field(default_factory=dict)

    @property
    def d(self) -> int:
        return self.ck.model_config.latent_dim

    @property
    def has_data(self) -> bool:
        return self.enc is not None

    @property
    def preprocess(self) -> str:
        return self.ck.data.preprocess

    def kl_per_dim(self) -> np.ndarray | None:
        if self.enc is not None:
            return self.enc["kl_per_dim"]
        k = self.ck.metrics.get("kl_per_dim") if isinstance(self.ck.metrics, dict) else None
        if isinstance(k, list) and len(k) == self.d and all(isinstance(v, (int, float)) for v in k):
            return np.array(k, np.float32)
        return None

    def resolve(self, p: dict | None) -> np.ndarray | None:
        """Latent vector of a point spec, or None if it does not apply to this checkpoint."""
        if not p:
            return None
        if p.get("kind") == "index" and self.enc is not None:
            i = int(p["index"])
            return self.enc["mu"][i].copy() if 0 <= i < len(self.enc["mu"]) else None
        if p.get("kind") == "z" and len(p["z"]) == self.d:
            return np.asarray(p["z"], np.float32)
        return None

    def describe(self, p: dict | None) -> str:
        if not p:
            return "—"
        if p.get("kind") == "index":
            i = int(p["index"])
            if self.labels is not None and 0 <= i < len(self.labels):
                return f"#{i} ({self.label_names[int(self.labels[i])]})"
            return f"#{i}"
        z = p.get("z", [])
        s = ", ".join(f"{v:.2f}" for v in z[:4])
        return f"z = ({s}{', …' if len(z) > 4 else ''})"


def ctx() -> Ctx:
    return st.session_state["ctx"]


def image_scale(default: int = 4) -> int:
    return 10 if st.session_state.get("presenter") else default


PRESENTER_CSS = """
<style>
header[data-testid="stHeader"], div[data-testid="stToolbar"], footer,
div[data-testid="stDecoration"] {display: none !important;}
.block-container {padding-top: 1rem !important; max-width: 100% !important;}
html, body, [class*="css"] {font-size: 1.15rem;}
img {image-rendering: pixelated;}
</style>
"""

BASE_CSS = "<style>img {image-rendering: pixelated;}</style>"


def apply_css() -> None:
    """Static CSS owned by this app (never checkpoint text): crisp pixels; presenter chrome."""
    st.html(PRESENTER_CSS if st.session_state.get("presenter") else BASE_CSS)
