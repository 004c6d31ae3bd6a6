"""A session's first paint: the default map from a recorded frame, before the app is imported.

A new tab on the default link (no query parameters, the map page) gets the same first render
every time: the page's CSS, the pages, the title, the controls' free room and the map, whose
frame (latent_map.pack_frame) is a pure function of the code, the checkpoints and the data.
Drawn the usual way that first run imports numpy and the app and loads the sample (~0.2 s of
CPU on a 2-core machine while the browser draws: docs/benchmarks.md "Warm open"). So the first
such render that runs the usual way records its frame on disk (``record``, from views/map.py),
and a later session's first run, in this process or the next, mounts the recorded frame with
the same elements and stops (``replay``, at the top of app.py). The map's ready trigger then
brings the controls, as after any first render (vae_explorer.modelstart): that run, like every
other, is the usual one.

A record holds a key: the app's code (every .py/.js/.css file's size and mtime), Streamlit's
version, the checkpoints folder's listing (names, sizes, mtimes) and the VAE_* environment. A
record whose key differs, or that does not parse, is ignored and rewritten by the next usual
first render. Maps with more to show in their first render (a projection's progress, another
colouring, reconstructions still computing, presenter view) are not recorded.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

import streamlit as st

from . import mapcomponent, modelstart, navigation, paths, styles

FILE = "first-paint.bin"
MAGIC = b"VAE-FIRST-PAINT-1\n"
MAX_BYTES = 64 * 2**20
TITLE = "Latent map"
KEY = "latent_map"  # the main map's component key (views/map.py via mapview.draw)
URL_EMPTY_KEY = "_first_run_url_empty"  # session state: the link of its first run had no query

PACKAGES = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "vae_training")
_code_stamp: str | None = None
_write_lock = threading.Lock()


def client_connected() -> bool:
    """Whether a client with a connection runs this session (a browser, or a script speaking
    Streamlit's protocol); AppTest has none: no request headers."""
    try:
        return bool(st.context.headers)
    except Exception:  # no session context at all
        return False


def _code() -> str:
    """The code that makes the frame: once a process (its modules are loaded once too)."""
    global _code_stamp
    if _code_stamp is None:
        h = hashlib.sha256(st.__version__.encode())
        for pkg in PACKAGES:
            for root, dirs, files in os.walk(pkg):
                dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "shipped"))
                for f in sorted(files):
                    if f.endswith((".py", ".js", ".css", ".toml")):
                        s = os.stat(os.path.join(root, f))
                        h.update(f"{os.path.relpath(root, pkg)}/{f}:{s.st_size}:{s.st_mtime_ns};"
                                 .encode())
        _code_stamp = h.hexdigest()
    return _code_stamp


def key() -> str:
    """What a recorded first paint must have been made with to be shown."""
    folder = paths.checkpoint_dir()
    try:
        listing = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                         for p in folder.glob("*.safetensors") if p.is_file())
    except OSError:
        listing = None
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("VAE_"))
    return hashlib.sha256(json.dumps([_code(), str(folder), listing, env]).encode()).hexdigest()


def _path() -> Path:
    return paths.user_cache_dir() / FILE


def read(want: str | None = None) -> tuple[dict, bytes] | None:
    """(header, frame) of the record, if it parses and its key is ``want`` (default: key())."""
    try:
        with open(_path(), "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError:
        return None
    if len(raw) > MAX_BYTES or not raw.startswith(MAGIC):
        return None
    n0 = len(MAGIC)
    n = int.from_bytes(raw[n0:n0 + 4], "little")
    try:
        head = json.loads(raw[n0 + 4:n0 + 4 + n])
    except (ValueError, RecursionError):
        return None
    frame = raw[n0 + 4 + n:]
    ok = (isinstance(head, dict) and head.get("bytes") == len(frame)
          and isinstance(head.get("refs"), list)
          and all(isinstance(r, str) for r in head["refs"])
          and isinstance(head.get("n"), int) and isinstance(head.get("slot_px"), int)
          and isinstance(head.get("slot_key"), str)
          and head.get("key") == (want or key()))
    return (head, frame) if ok else None


def record(frame: bytes, refs, n: int, slot_px: int, slot_key: str) -> bool:
    """Keep this first render's map for the next sessions (atomically; an unwritable cache
    is skipped). Only when no valid record is there already: True when it wrote one."""
    k = key()
    with _write_lock:
        if read(k) is not None:
            return False
        head = json.dumps({"key": k, "bytes": len(frame), "refs": sorted(refs), "n": int(n),
                           "slot_px": int(slot_px), "slot_key": str(slot_key)}).encode()
        p = _path()
        tmp = None
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".first-paint-")
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + len(head).to_bytes(4, "little") + head + frame)
            os.replace(tmp, p)
        except OSError:  # a full or read-only cache: no record, nothing left behind
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            return False
    return True


def may_record(session) -> bool:
    """Whether this session's first render is the default one a replay would show."""
    return bool(session.get(URL_EMPTY_KEY))


def _on_map_page() -> bool:
    """The page a session's first run asks for is the map (/ or /map). Streamlit's run context
    says before st.navigation; if it cannot, no replay."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
        pm = get_script_run_ctx().pages_manager
        return not pm.intended_page_script_hash and (pm.intended_page_name or "") in ("", "map")
    except Exception:
        return False


def _take_selection(n: int) -> None:
    from . import selection  # numpy: only once someone selects

    selection.take_from_page(KEY, n)


def replay(session) -> bool:
    """In a session's first run on the default link: draw the recorded first render and return
    True (the caller stops the run); otherwise False and nothing is drawn."""
    if modelstart.RAN_KEY in session:
        return False
    session.setdefault(URL_EMPTY_KEY, len(st.query_params) == 0)
    if not session[URL_EMPTY_KEY] or not client_connected() or not _on_map_page():
        return False
    got = read()
    if got is None:
        return False
    head, frame = got
    modelstart.first_render_staged(session, navigation.MAP, True)  # marks the session's first run
    navigation.set_page_config(presenter=False)
    styles.apply_css()

    def map_page():  # as views/map.py draws a session's first render (tests compare the two)
        st.title(TITLE)
        st.container().container(height=head["slot_px"], border=False, key=head["slot_key"])
        left, _ = st.columns([4, 1])
        with left:  # a click before the controls: the next run's page takes it from the map
            mapcomponent.mount(KEY, frame, on_ready=lambda: modelstart.map_drawn(st.session_state),
                               on_view=lambda: mapcomponent.remember_view(KEY),
                               on_selection=lambda: _take_selection(head["n"]))

    st.navigation(list(navigation.pages(map_page).values())).run()
    session[mapcomponent.SENT_KEY] = set(head["refs"])
    return True
