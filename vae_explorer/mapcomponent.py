"""The latent map's Streamlit component (v2): its registration, and how a frame is mounted.

Light to import (Streamlit only, no numpy): a session's first paint (vae_explorer.firstpaint)
mounts a recorded frame with it before the rest of the app is imported; vae_explorer.latent_map
builds the frames."""
from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

ASSETS = Path(__file__).parent / "components" / "latent_map"
COMPONENT_NAME = "vae_explorer.latent_map"
# Session state: the content-addressed payloads this session's page holds (vae_explorer.latent_map).
SENT_KEY = "_latent_map_client_has"
VIEW_KEY = "_latent_map_asked_view_"  # + key: the view the page last asked a decode for

_component_fn = None
_lock = threading.Lock()


def component():
    global _component_fn
    with _lock:
        if _component_fn is None:
            _component_fn = st.components.v2.component(
                COMPONENT_NAME,
                js=(ASSETS / "loader.js").read_text(encoding="utf-8"),
                css=(ASSETS / "latent_map.css").read_text(encoding="utf-8"),
                isolate_styles=True,
            )
    return _component_fn


def remember_view(key: str) -> None:
    """on_view_change: keep the view the page asked a decode for (read before the next mount)."""
    got = st.session_state.get(key)
    view = got.get("view") if hasattr(got, "get") else None
    if isinstance(view, dict):
        st.session_state[VIEW_KEY + key] = view


def _none() -> None:
    return None


def mount(key: str, blob: bytes, on_event=_none, on_missing=_none, on_ready=_none, on_view=_none,
          on_selection=_none):
    """Put a packed frame (latent_map.pack_frame) in the page; the callbacks run before the
    rerun that the page's event, missing, ready, view or selection state causes."""
    return component()(key=key, data=blob, height="content", on_event_change=on_event,
                       on_missing_change=on_missing, on_ready_change=on_ready,
                       on_view_change=on_view, on_selection_change=on_selection)
