"""Our small custom components (Streamlit components v2), registered once per process.

Each lives in components/<folder>/<folder>.js + .css. Registration is lazy so that a module's
plain functions (payload builders, PNG composition) import without Streamlit's component
machinery. The latent map registers its own (its code is sent once per session: latent_map.py).
"""
from __future__ import annotations

import functools
from pathlib import Path

COMPONENTS = Path(__file__).parent / "components"


@functools.cache
def component(folder: str):
    import streamlit as st

    d = COMPONENTS / folder
    return st.components.v2.component(
        f"vae_explorer.{folder}", js=(d / f"{folder}.js").read_text(encoding="utf-8"),
        css=(d / f"{folder}.css").read_text(encoding="utf-8"), isolate_styles=True)
