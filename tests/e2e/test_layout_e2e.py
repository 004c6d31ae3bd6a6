"""End-to-end: every page's segmented controls and tables fit their columns in a 1280 and a
1024 px window (the Manifold grid's Range read "prior quantiles | data e", the rest of its options
cut off; Checkpoint info's layer table lost its parameter counts at the right)."""
from __future__ import annotations

import pytest
from harness import (DEFAULT_CKPT, find_isolated_point, hover_point, slot_pixels_varied,
                     wait_for_app_run, wait_for_map)

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


SLOT = """() => [...document.querySelectorAll(
    'div.stVerticalBlock[class*="st-key-progress_slot_"]')]
  .map((s) => [s.clientHeight, s.scrollHeight, s.innerText.slice(0, 40)])"""


@pytest.mark.parametrize("width,query", [(800, ""), (1024, "&present=1"), (650, "&present=1")])
def test_the_note_above_a_projected_map_fits_its_slot(page, app_server, checkpoint_dir, width,
                                                      query):
    """The slot kept above a >2-D latent's map (for a projection's progress) holds a note of what
    the map is: it wraps to 3 lines in an 800 px window and to 2 in presenter view's font, and was
    cut at 64 px (styles.SLOT_CSS)."""
    ck = "shapes-rgb-conv-z8.safetensors"
    if checkpoint_dir is not None or not (DEFAULT_CKPT.parent / ck).is_file():
        pytest.skip(f"needs the shipped {ck}")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{app_server.url}/?ckpt={ck}{query}")
    wait_for_app_run(page)
    page.get_by_text("encoder means").first.wait_for()
    slots = page.evaluate(SLOT)
    assert slots and all(scroll <= client + 1 for client, scroll, _ in slots), slots


def test_a_narrow_map_keeps_a_tall_plot_with_its_hover_images_beside_it(page, app_server):
    """A 1024 px window with the sidebar open (a projector's) leaves the map ~430 px: its hover
    panel went under the plot, which kept ~200 px of the map's 600. A slimmer side column now
    (latent_map.css): the plot keeps its height and a hovered point's image shows beside it."""
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(app_server.url)
    wait_for_map(page, ready=True)
    i = find_isolated_point(page)
    hover_point(page, i)
    plot, side = page.evaluate("""() => { const m = window.__latentMaps.latent_map.instance;
        const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; };
        return [box(m.overlay), box(m.root.querySelector('.lm-side'))]; }""")
    assert plot[3] >= 400 and plot[2] >= 250, plot
    assert side[0] >= plot[0] + plot[2] and abs(side[1] - plot[1]) <= 2, (plot, side)  # beside
    assert slot_pixels_varied(page, 0)  # the hovered point's original, in the slim column
