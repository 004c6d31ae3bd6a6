"""The app's pages (one file each in views/), its page config, and st.navigation over them.

Light to import (Streamlit only): a session's first paint (vae_explorer.firstpaint) uses it before
the rest of the app is imported."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent / "views"
# file, title, icon, slug (the URL path; the map is the default page, at /)
PAGES = [
    ("map.py", "Latent map", ":material/scatter_plot:", "map"),
    ("interpolate.py", "Interpolation", ":material/linear_scale:", "interpolate"),
    ("grid.py", "Manifold grid", ":material/grid_on:", "grid"),
    ("samples.py", "Samples & traversal", ":material/casino:", "samples"),
    ("wrong.py", "What it gets wrong", ":material/report:", "wrong"),
    ("attributes.py", "Attribute vectors", ":material/arrow_outward:", "attributes"),
    ("compare.py", "Compare", ":material/compare:", "compare"),
    ("info.py", "Checkpoint info", ":material/info:", "info"),
]
MAP = "map"

# The 🧭 emoji as the same data: URL Streamlit's frontend draws for page_icon="🧭", written out:
# the emoji itself made Streamlit import its emoji table (~0.1-0.2 s of a warm open's first
# run). A ":material/…:" page icon is fetched from fonts.gstatic.com, which fails offline.
PAGE_ICON = ("data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 100'>"
             "<text y='.9em' font-size='90'>%F0%9F%A7%AD</text></svg>")


def set_page_config(presenter: bool) -> None:
    st.set_page_config(page_title="VAE explorer", page_icon=PAGE_ICON, layout="wide",
                       initial_sidebar_state="collapsed" if presenter else "auto")


def pages(map_page=None) -> dict:
    """slug -> st.Page. ``map_page``: a function to run as the map page instead of its file
    (a session's first paint); the page keeps its URL path, so Streamlit sees the same page."""
    out = {}
    for f, title, icon, slug in PAGES:
        if slug == MAP and map_page is not None:
            out[slug] = st.Page(map_page, title=title, icon=icon, url_path=MAP, default=True)
        else:
            out[slug] = st.Page(str(PAGES_DIR / f), title=title, icon=icon,
                                url_path=None if slug == MAP else slug, default=(slug == MAP))
    return out
