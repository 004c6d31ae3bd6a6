"""The page's static CSS, owned by this app (never text from a checkpoint): crisp pixels, presenter
view's chrome, and the heights a narrow window needs for the rooms kept free above the map."""
from __future__ import annotations

import streamlit as st


def _room(px_2d: int, px_nd: int) -> str:
    """CSS: the height of the room a session's first render keeps for the map page's controls."""
    return "\n".join(
        f'  div[data-testid="stLayoutWrapper"]:has(> div.st-key-controls_pending_{k}),\n'
        f'  div.stVerticalBlock.st-key-controls_pending_{k} '
        f'{{height: {px}px !important; min-height: {px}px;}}'
        for k, px in (("2d", px_2d), ("nd", px_nd)))


# In a narrower main column the controls' labels and options wrap (WRAP_CSS), so their room must
# be taller there too, or the map moves down when they come (38 px at 1024 px, 84 px at 800 px).
# Measured in Chromium (windows of 660-1400 px, with and without the sidebar), main column
# > 760 px: one row (mapview.CONTROLS_PX); 531-760: 102 / 161 px; 483-530: 124 / 184; 410-482:
# 148 / 207 (the breaks move with the fonts: a few px off there, none elsewhere). Presenter
# view's larger font: > ~795 px one row, below 110 / 175.
# Container queries on the main column, so the sidebar's being open or not does not matter.
MAIN_CONTAINER = 'div[data-testid="stMainBlockContainer"] {container: vae-main / inline-size;}'
ROOM_CSS = MAIN_CONTAINER + f"""
@container vae-main (max-width: 760.5px) {{
{_room(102, 161)}
}}
@container vae-main (max-width: 530px) {{
{_room(124, 184)}
}}
@container vae-main (max-width: 482px) {{
{_room(148, 207)}
}}"""
# The slot above a map of a >2-D latent (mapview.progress_panel) holds a note of up to ~135
# characters (mapview.map_note): 2 lines fit its 64 px; a main column under ~480 px wraps it to 3
# (82 px), presenter view's larger font to 2 lines of 34 px (68) and below ~610 px to 3.
_SLOT = ('div[data-testid="stLayoutWrapper"]:has(> div[class*="st-key-progress_slot_"]),\n'
         'div.stVerticalBlock[class*="st-key-progress_slot_"] {{height: {0}px !important; '
         'min-height: {0}px;}}')
SLOT_CSS = f"""
@container vae-main (max-width: 482px) {{ {_SLOT.format(86)} }}"""
PRESENTER_SLOT_CSS = f"""
{_SLOT.format(72)}
@container vae-main (max-width: 610px) {{ {_SLOT.format(106)} }}"""
PRESENTER_ROOM_CSS = MAIN_CONTAINER + f"""
@container vae-main (max-width: 795px) {{
{_room(110, 175)}
}}"""

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

# A segmented control never wraps in Streamlit: in a narrow column its last options were cut off
# behind a scroll bar-less overflow (Colour by read "Label | Recon. error | KL | N" in a 1024 px
# window, a projector's). Its options wrap onto a second line instead.
WRAP_CSS = """div.stButtonGroup > div {flex-wrap: wrap; row-gap: 0.25rem;}"""

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
""" + PRESENTER_ROOM_CSS + PRESENTER_SLOT_CSS + NARROW_CSS + WRAP_CSS + """
@media (max-width: 640px) {
  div[data-testid="stLayoutWrapper"]:has(> div[class*="st-key-progress_slot_"]),
  div.stVerticalBlock[class*="st-key-progress_slot_"] {height: 150px !important; min-height: 150px;}
}
</style>
"""  # (a presenter's larger font wraps the note above the map onto more lines on a phone)

BASE_CSS = (f"<style>img {{image-rendering: pixelated;}} {ROOM_CSS} {SLOT_CSS} {NARROW_CSS} "
            f"{WRAP_CSS}</style>")


def apply_css() -> None:
    st.html(PRESENTER_CSS if st.session_state.get("presenter") else BASE_CSS)
