"""Session and URL state for the explorer: the one owner of every shareable setting.

SETTINGS below is the registry: one row per setting, with its URL key, its session key (the
canonical value), a parser for untrusted URL text, a writer and a default. A new control adds
a row and binds its widget with `bind(name)`; `sync_url` then puts it in links without more code.

Canonical values live in st.session_state under plain (non-widget) keys. Streamlit deletes a
widget's keyed state when a page does not render that widget, so widgets get their own key
("w_" + name), are set from the canonical value before they are drawn, and write back in their
on_change callback (before the script runs, so sync_url sees the change in the same run).

The URL:  ckpt=<file>  view=<page>  present=1  proj=pca|umap|tsne  colour=label|rec_err|kl|kept
  a=<point>  b=<point>  method=linear|slerp  t=<0..1>  next=A|B  decode=knn|pca  zoom=x0,x1,y0,y1
  s1=<ranges>  s2=<ranges> (selections, "0-15.20.31-40", left out above 2,000 points)  nn=cosine
  cmp=ckpt:<file>|pixels:pca|umap|tsne  cmpcolour=label|moved (the Compare page)
A point is a dataset index ("i123") or a latent vector ("z0.5,-1.2").

`zoom` is the map's visible window, written by the map in the browser (history.replaceState
when a pan or zoom ends, no rerun). Streamlit 1.67's frontend sends the query string it last got
from the server with each rerun, not the address bar's, so the server learns a zoom only from the
link that opened the session (or a later query that carries one). It adopts that, never
overwrites a zoom in the query, puts it back after a page switch dropped the query, and deletes it
only when the map it described is gone (another checkpoint, projection or data sample). Whenever
the server writes the query the frontend replaces the address bar with it, so the map's JS must
write its current view again after each render.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import streamlit as st

from . import firstpaint
from .cursor import format_view as write_view, parse_view
from .projections import METHODS as PROJECTIONS
from .selection import parse_selection, write_selection

MAX_Z_TEXT = 1024 * 24
MAX_URL_VALUE = MAX_Z_TEXT + 8


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
# parsers for untrusted URL text (None = not valid: the default applies)


def choice(*allowed: str) -> Callable[[str], str | None]:
    return lambda s: s if s in allowed else None


def parse_factor(s: str) -> str | None:
    """A generative factor's name to colour the map by ("" = none); the page ignores names the
    checkpoint's dataset does not have."""
    return s if len(s) <= 32 and (s == "" or s.isidentifier()) else None


def parse_flag(s: str) -> bool | None:
    return True if s in ("1", "true", "yes") else None


def parse_unit(s: str) -> float | None:
    """A number in [0, 1] (the interpolation position)."""
    try:
        v = float(s)
    except ValueError:
        return None
    return v if 0.0 <= v <= 1.0 else None


def parse_text(s: str) -> str | None:
    return s if s and len(s) <= 512 else None


def parse_compare(s: str) -> str | None:
    """The Compare page's second map: "ckpt:<file name>" (a listed checkpoint; the page falls
    back to its first choice for a name it does not list) or "pixels:pca|umap|tsne"."""
    if s.startswith("pixels:") and s[7:] in PROJECTIONS:
        return s
    name = s[5:] if s.startswith("ckpt:") else ""
    ok = name and len(name) <= 255 and "/" not in name and "\\" not in name and name.isprintable()
    return s if ok else None


def write_unit(v: float) -> str:
    return f"{float(v):.3f}".rstrip("0").rstrip(".") or "0"


def write_flag(v) -> str:
    return "1" if v else ""


@dataclass(frozen=True)
class Setting:
    url: str  # query parameter
    key: str  # canonical session_state key (never a widget key)
    parse: Callable[[str], Any]  # untrusted URL text -> value, or None if invalid
    write: Callable[[Any], str] = str  # value -> URL text
    default: Any = None  # not written to the URL
    browser_owned: bool = False  # the page writes it to the URL itself (see module doc)


SETTINGS: dict[str, Setting] = {s.key: s for s in [
    Setting("ckpt", "url_ckpt", parse_text),  # read here; written from active_ckpt_name
    Setting("view", "url_page", parse_text),  # read here; written from the running page
    Setting("present", "presenter", parse_flag, write_flag, default=False),
    Setting("proj", "proj", choice("pca", "umap", "tsne"), default="pca"),
    Setting("colour", "colour_by", choice("label", "rec_err", "kl", "kept"), default="label"),
    Setting("factor", "colour_factor", parse_factor, default=""),
    Setting("a", "point_a", point_from_str, point_to_str),
    Setting("b", "point_b", point_from_str, point_to_str),
    Setting("method", "interp_method", choice("linear", "slerp"), default="linear"),
    Setting("t", "interp_t", parse_unit, write_unit, default=0.5),
    Setting("next", "pick_target", choice("A", "B"), default="A"),
    Setting("decode", "cursor_mode", choice("knn", "pca"), default="knn"),
    Setting("zoom", "map_zoom", parse_view, write_view, browser_owned=True),
    # Box / lasso selections (lists of dataset indices); only up to 2,000 points go in links.
    Setting("s1", "sel_s1", parse_selection, write_selection),
    Setting("s2", "sel_s2", parse_selection, write_selection),
    Setting("nn", "nn_metric", choice("euclidean", "cosine"), default="euclidean"),
    # The Compare page: what map B is, and what colours both maps.
    Setting("cmp", "cmp_with", parse_compare),
    Setting("cmpcolour", "cmp_colour", choice("label", "moved"), default="label"),
]}
# Cleared when the checkpoint or the data sample changes (not the projection): see note_map.
SELECTION_KEYS = ("sel_s1", "sel_s2")
# Written from other session keys than the ones they are read into.
WRITE_FROM = {"url_ckpt": "active_ckpt_name"}


def parse_url(qp: dict[str, str]) -> dict[str, Any]:
    """{session key: value} for every valid setting in a query string (untrusted text)."""
    out = {}
    for s in SETTINGS.values():
        raw = qp.get(s.url)
        if not isinstance(raw, str) or not raw or len(raw) > MAX_URL_VALUE:
            continue
        v = s.parse(raw)
        if v is not None:
            out[s.key] = v
    return out


def url_for(values: dict[str, Any], page: str = "") -> dict[str, str]:
    """The query parameters for session values: defaults and empty values are left out."""
    out = {}
    for s in SETTINGS.values():
        if s.key == "url_page":
            v = page if page and page != "map" else ""
        else:
            v = values.get(WRITE_FROM.get(s.key, s.key))
        # (a selection may be a numpy array: compared with a default only when there is one)
        if v is None or (s.default is not None and v == s.default):
            continue
        text = s.write(v)
        if text:
            out[s.url] = text
    return out


# ---------------------------------------------------------------------------------------------
# the session


def init_from_url() -> None:
    """Copy URL state into the session on its first run; browser-owned keys on every run."""
    ss = st.session_state
    qp = st.query_params
    got = parse_url({k: qp.get(k) for k in qp})
    if not ss.get("_url_loaded"):
        ss["_url_loaded"] = True
        for s in SETTINGS.values():
            if s.key in got:
                ss[s.key] = got[s.key]
            elif s.default is not None:
                ss.setdefault(s.key, s.default)
    for s in SETTINGS.values():
        if s.browser_owned and s.key in got:  # the page may have changed it since the last run
            ss[s.key] = got[s.key]


def sync_url(page: str = "") -> None:
    """Write every shareable setting into the URL (only keys that changed; browser-owned keys
    are left as the page wrote them)."""
    ss = st.session_state
    want = url_for({k: ss.get(k) for k in set(SETTINGS) | set(WRITE_FROM.values())}, page)
    qp = st.query_params
    for s in SETTINGS.values():
        v = want.get(s.url)
        if s.browser_owned:  # the page's newer value wins; put ours back after a page switch
            if v and s.url not in qp:
                qp[s.url] = v
            continue
        if v and qp.get(s.url) != v:
            qp[s.url] = v
        elif not v and s.url in qp:
            del qp[s.url]


def note_map(identity: tuple) -> None:
    """The map now shown is `identity` (checkpoint, projection, data sample): a zoom saved for
    another map means nothing there, so it is dropped. Selections are dataset indices: they
    outlive a projection change (identity[1]) but not another checkpoint or data sample."""
    ss = st.session_state
    before = ss.get("_map_identity")
    ss["_map_identity"] = identity
    if before is not None and (before[0], before[2:]) != (identity[0], identity[2:]):
        for k in SELECTION_KEYS:
            ss.pop(k, None)
    if before is not None and before != identity:
        for s in SETTINGS.values():
            if s.browser_owned:
                ss.pop(s.key, None)
                if s.url in st.query_params:
                    del st.query_params[s.url]


def map_view() -> tuple[float, float, float, float] | None:
    """The map's visible window (x0, x1, y0, y1) in map coordinates from the link, or None."""
    return st.session_state.get("map_zoom")


def get(key: str) -> Any:
    s = SETTINGS[key]
    return st.session_state.get(key, s.default)


def put(key: str, value: Any) -> None:
    """Set a canonical value (from a click or a button: not from merely showing a page)."""
    st.session_state[key] = value


def _commit(key: str, clears: tuple[str, ...] = ()) -> None:
    v = st.session_state.get("w_" + key)
    if v is None and SETTINGS[key].default is not None:
        return  # a segmented control clicked off: keep the setting (it is shown again)
    st.session_state[key] = v
    for other in clears:  # settings this one replaces (one map colouring at a time)
        st.session_state[other] = SETTINGS[other].default


def note_page(page: str) -> None:
    """Called once per run with the page it draws. A run on another page than the last mounts
    that page's widgets afresh in the browser, which then shows a widget's own default unless
    the run sends its value, even where a widget of the same key and label stood on the last
    page (Projection and Next click sets are on Latent map and Interpolation): bind sends it."""
    ss = st.session_state
    ss["bind_all"] = ss.get("bind_page") != page
    ss["bind_page"] = page


def bind(key: str, clears: tuple[str, ...] = (), in_popover: bool = False) -> dict:
    """Widget kwargs for a registered setting: its own widget key, set from the canonical value,
    and a callback that writes changes back (and resets the settings in ``clears``). Use as
    st.slider(..., **state.bind("interp_t")); in_popover=True for a widget in a popover (hold)."""
    ss = st.session_state
    want = ss.get(key, SETTINGS[key].default)
    # Written only when it differs: a value written through session state is sent to the page
    # as "set this value", even when unchanged, and a run already under way when the user picks
    # something would put its old value back in the page (then into the next rerun request).
    # A popover's widget is the exception: it needs the value with every run (see hold); and so
    # does every widget in the first run on another page (note_page).
    fresh = in_popover or ss.get("bind_all", False)
    if fresh or "w_" + key not in ss or not _same(ss["w_" + key], want):
        ss["w_" + key] = want
    return {"key": "w_" + key, "on_change": _commit, "args": (key, clears)}


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays: compared element-wise, never "the same" here
        return False


def hold(key: str, default: Any) -> str:
    """For a widget inside a popover, whose body Streamlit mounts only when it is opened: set
    its keyed value from the session before it is drawn, on every run. Streamlit then sends the
    value with the widget, and the frontend shows it when the popover opens; otherwise a widget
    mounted after a later run shows, and sends back, its default (the sample size fell from
    5,000 to 1,000 points on opening the data popover). Draw the widget with ``key=`` and no
    default of its own. Returns the key."""
    ss = st.session_state
    ss[key] = ss.get(key, default)
    return key


# ---------------------------------------------------------------------------------------------
# what the pages share


@dataclass
class Ctx:
    ck: Any  # vae_training.checkpoint.Checkpoint
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
    factors: np.ndarray | None = None  # (N, F) generative factors of built-in datasets
    factor_names: list[str] = field(default_factory=list)
    # False in a session's first run on the map page: the map only, its controls come with the
    # next run (vae_explorer.modelstart.first_render_staged)
    controls: bool = True

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


def client_connected() -> bool:
    """Whether a client with a connection runs this session (a browser, or a script speaking
    Streamlit's protocol); AppTest has none: no request headers."""
    return firstpaint.client_connected()


def image_scale(default: int = 4) -> int:
    return 10 if st.session_state.get("presenter") else default
