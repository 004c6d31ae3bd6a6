"""The page's static CSS, owned by this app (never text from a checkpoint): crisp pixels, presenter
view's chrome, and the heights a narrow window needs for the rooms kept free above the map."""
from __future__ import annotations

import streamlit as st

# Below Streamlit's 640 px breakpoint the map page's columns stack, so the room a session's first
# render keeps for its controls (views/map.py, mapview.CONTROLS_PX) must be taller there, or the
# map jumps down when they come (140 px at a 412 px wide phone; measured at 412 and 360 px:
# stacked they take 204 px over a 2-D latent, 285 px above it).
NARROW_CSS = """@media (max-width: 640px) {
  div[data-testid="stLayoutWrapper"]:has(> div.st-key-controls_pending_2d),
  div.stVerticalBlock.st-key-controls_pending_2d {height: 204px !important; min-height: 204px;}
  div[data-testid="stLayoutWrapper"]:has(> div.st-key-controls_pending_nd),
  div.stVerticalBlock.st-key-controls_pending_nd {height: 285px !important; min-height: 285px;}
  div[data-testid="stLayoutWrapper"]:has(> div[class*="st-key-progress_slot_"]),
  div.stVerticalBlock[class*="st-key-progress_slot_"] {height: 112px !important; min-height: 112px;}
}"""  # (min-height: these are flex items, whose height alone a flex basis overrides; the
# projection's slot above the map holds a note of up to 4 lines at 360 px, mapview.map_note)

# The header stays: it holds the button that opens the sidebar (checkpoint, data). The top bar
# (vae_explorer.presenter) holds the pages and the way out.
PRESENTER_CSS = """
<style>
div[data-testid="stToolbar"], footer, div[data-testid="stDecoration"] {display: none !important;}
header[data-testid="stHeader"] {background: transparent !important; pointer-events: none;}
header[data-testid="stHeader"] button {pointer-events: auto;}
div[data-testid="stMainBlockContainer"], .block-container {
  padding: 2.6rem 1.5rem 1rem 1.5rem !important; max-width: 100% !important;}
html, body, [class*="css"] {font-size: 1.15rem;}
img {image-rendering: pixelated;}
""" + NARROW_CSS + """
@media (max-width: 640px) {
  div[data-testid="stLayoutWrapper"]:has(> div[class*="st-key-progress_slot_"]),
  div.stVerticalBlock[class*="st-key-progress_slot_"] {height: 150px !important; min-height: 150px;}
}
</style>
"""  # (a presenter's larger font wraps the note above the map onto more lines on a phone)

BASE_CSS = f"<style>img {{image-rendering: pixelated;}} {NARROW_CSS}</style>"


def apply_css() -> None:
    st.html(PRESENTER_CSS if st.session_state.get("presenter") else BASE_CSS)
