"""End-to-end: the inspection layer's finishing touches (issue 11): the map's controls fit their
columns, PNG downloads (map and image grids), neighbours by key on hover, adding to / subtracting
from a selection, S1 and S2 drawn apart. Playwright + Debian's Chromium.

Run: nice -n 5 .venv/bin/python -m pytest -m e2e tests/e2e/test_inspect_e2e.py -q
"""
from __future__ import annotations

import pytest
from harness import wait_for_app_run, wait_for_map

pytestmark = pytest.mark.e2e

API = "window.__latentMaps['latent_map']"

# Every option button of the "Colour by" control, with the boxes it must lie inside: its element
# container and its column; `hit` is whether the button is what the browser finds at its centre
# (not clipped or covered).
COLOUR_BY_BOXES = """() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const wrap = [...document.querySelectorAll('[data-testid="stElementContainer"]')]
    .find((e) => e.querySelector('[data-testid="stWidgetLabel"]')?.innerText.trim() === 'Colour by');
  if (!wrap) return null;
  const col = wrap.closest('[data-testid="stColumn"]') || wrap.parentElement;
  return { wrap: box(wrap), col: box(col), buttons: [...wrap.querySelectorAll('button')].map((b) => {
    const r = b.getBoundingClientRect(), at = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    return { text: b.innerText.trim(), box: box(b), hit: !!at && b.contains(at) }; }) };
}"""


@pytest.mark.parametrize("width", [1400, 1920])
def test_every_colour_by_option_is_fully_visible(browser, app_server, width):
    ctx = browser.new_context(viewport={"width": width, "height": 950})
    try:
        page = ctx.new_page()
        page.goto(app_server.url + "/")
        wait_for_app_run(page)
        wait_for_map(page, ready=False)
        got = page.evaluate(COLOUR_BY_BOXES)
        assert got is not None
        assert [b["text"] for b in got["buttons"]] == ["Label", "Recon. error", "KL", "Neighbours kept"]
        for b in got["buttons"]:
            x0, y0, x1, y1 = b["box"]
            for outer in (got["wrap"], got["col"]):
                assert outer[0] - 0.5 <= x0 and x1 <= outer[2] + 0.5, (b, outer)
            assert b["hit"], b
    finally:
        ctx.close()
