"""The page's static CSS, owned by this app (never text from a checkpoint): crisp pixels, presenter
view's chrome, and the heights of the rooms kept free above the map at each width."""
from __future__ import annotations

import streamlit as st

CONTROLS_2D, CONTROLS_ND = "st-key-controls_pending_2d", "st-key-controls_pending_nd"
SLOT = "st-key-progress_slot_"  # a prefix: one slot per map (mapview.progress_panel)


def _height(key_class: str, px: int) -> str:
    """The height of a keyed st.container (its class st-key-…, a prefix matches), and of the
    flex item around it: min-height too, since a flex basis overrides a height alone."""
    return (f'div[data-testid="stLayoutWrapper"]:has(> div[class*="{key_class}"]),\n'
            f'div.stVerticalBlock[class*="{key_class}"] '
            f'{{height: {px}px !important; min-height: {px}px;}}\n')


def _rooms(px_2d: int, px_nd: int) -> str:
    """The room a session's first render keeps for the map page's controls (views/map.py)."""
    return _height(CONTROLS_2D, px_2d) + _height(CONTROLS_ND, px_nd)


def _when(condition: str, rules: str) -> str:
    return f"{condition} {{\n{rules}}}\n"


# In a narrower main column the controls' labels and options wrap (WRAP_CSS), so their room must
# be taller there too, or the map moves down when they come (38 px at 1024 px, 84 px at 800 px).
# Measured in Chromium (windows of 660-1400 px, with and without the sidebar), main column
# > 760 px: one row (mapview.CONTROLS_PX); 531-760: 102 / 161 px; 483-530: 124 / 184; 410-482:
# 148 / 207 (the breaks move with the fonts: a few px off there, none elsewhere). Presenter
# view's larger font: > ~795 px one row, below 110 / 175.
# Container queries on the main column, so the sidebar's being open or not does not matter.
# The slot above a map of a >2-D latent (mapview.progress_panel) holds a note of up to ~135
# characters (mapview.map_note): 2 lines fit its 64 px; a main column under ~480 px wraps it to 3
# (82 px), presenter view's larger font to 2 lines of 34 px (68) and below ~610 px to 3.
MAIN_CONTAINER = 'div[data-testid="stMainBlockContainer"] {container: vae-main / inline-size;}\n'
ROOM_CSS = (MAIN_CONTAINER
            + _when("@container vae-main (max-width: 760.5px)", _rooms(102, 161))
            + _when("@container vae-main (max-width: 530px)", _rooms(124, 184))
            + _when("@container vae-main (max-width: 482px)",
                    _rooms(148, 207) + _height(SLOT, 86)))
PRESENTER_ROOM_CSS = (MAIN_CONTAINER + _height(SLOT, 72)
                      + _when("@container vae-main (max-width: 795px)", _rooms(110, 175))
                      + _when("@container vae-main (max-width: 610px)", _height(SLOT, 106)))

# Below Streamlit's 640 px breakpoint the map page's columns stack: measured at 412 and 360 px,
# the controls take 204 px over a 2-D latent, 285 px above it (the map jumped 140 px into a
# desktop room), and the note above the map up to 4 lines (presenter view's font: 150 px).
NARROW_CSS = _when("@media (max-width: 640px)", _rooms(204, 285) + _height(SLOT, 112))
PRESENTER_NARROW_CSS = _when("@media (max-width: 640px)", _height(SLOT, 150))

# A segmented control never wraps in Streamlit: in a narrow column its last options were cut off
# behind a scroll bar-less overflow (Colour by read "Label | Recon. error | KL | N" in a 1024 px
# window, a projector's). Its options wrap onto a second line instead.
WRAP_CSS = "div.stButtonGroup > div {flex-wrap: wrap; row-gap: 0.25rem;}\n"

# The header stays: it holds the button that opens the sidebar (checkpoint, data). The top bar
# (vae_explorer.presenter) holds the pages and the way out.
PRESENTER_CHROME = """
div[data-testid="stToolbar"], footer, div[data-testid="stDecoration"] {display: none !important;}
header[data-testid="stHeader"] {background: transparent !important; pointer-events: none;}
header[data-testid="stHeader"] button {pointer-events: auto;}
div[data-testid="stMainBlockContainer"], .block-container {
  padding: 2.6rem 1.5rem 1rem 1.5rem !important; max-width: 100% !important;}
html, body, [class*="css"] {font-size: 1.15rem;}
"""
PIXELS = "img {image-rendering: pixelated;}\n"
# Later rules win: the narrow (phone) heights come after the column-width ones.
BASE_CSS = f"<style>{PIXELS}{ROOM_CSS}{NARROW_CSS}{WRAP_CSS}</style>"
PRESENTER_CSS = (f"<style>{PRESENTER_CHROME}{PIXELS}{PRESENTER_ROOM_CSS}{NARROW_CSS}{WRAP_CSS}"
                 f"{PRESENTER_NARROW_CSS}</style>")


def apply_css() -> None:
    st.html(PRESENTER_CSS if st.session_state.get("presenter") else BASE_CSS)
