"""End-to-end: every page's segmented controls and tables fit their columns in a 1280 and a
1024 px window (the Manifold grid's Range read "prior quantiles | data e", the rest of its options
cut off; Checkpoint info's layer table lost its parameter counts at the right)."""
from __future__ import annotations

import pytest
from harness import wait_for_app_run

PAGES = ["Latent map", "Interpolation", "Manifold grid", "Samples & traversal",
         "What it gets wrong", "Attribute vectors", "Compare", "Checkpoint info"]

CUT = """() => [...document.querySelectorAll('[data-testid="stMain"] [role="radiogroup"]')]
  .filter((g) => g.offsetParent !== null && g.scrollWidth > g.clientWidth + 1)
  .map((g) => (g.getAttribute('aria-label') || g.innerText).slice(0, 60)
              + ` (${g.clientWidth} of ${g.scrollWidth} px)`)
  .concat([...document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller')]
    .filter((s) => s.scrollWidth > s.clientWidth + 1)
    .map((s) => `a table (${s.clientWidth} of ${s.scrollWidth} px)`))"""


@pytest.mark.parametrize("width", [1280, 1024])
def test_no_segmented_control_or_table_is_cut_off(page, app_server, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(app_server.url)
    wait_for_app_run(page)
    cut = {}
    for name in PAGES:
        page.locator('[data-testid="stSidebarNav"]').get_by_text(name, exact=True).click()
        wait_for_app_run(page)
        found = page.evaluate(CUT)
        if found:
            cut[name] = found
    assert not cut, cut
