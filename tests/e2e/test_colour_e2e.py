"""Issue 16 in a browser: the shipped colour model shows colour images everywhere, and its map
colours by a known factor."""
from __future__ import annotations

import pytest
from harness import (REPO, find_isolated_point, hover_point, open_map, open_popover,
                     wait_for_app_run, wait_for_map)

CKPT = "shapes-rgb-conv-z8.safetensors"
pytestmark = pytest.mark.skipif(not (REPO / "checkpoints" / CKPT).is_file(),
                                reason=f"checkpoints/{CKPT} is not shipped in this tree")

# Share of an image's pixels whose channels differ by more than 24 of 255: ~0 for grey images.
_CANVAS_COLOUR = """([k, s]) => { const c = window.__latentMaps[k].instance.slots[s].cv;
    if (!c.width) return 0; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 0; i < d.length; i += 4) {
      if (Math.max(d[i], d[i+1], d[i+2]) - Math.min(d[i], d[i+1], d[i+2]) > 24) n++; }
    return n / (d.length / 4); }"""
_IMG_COLOUR = """(sel) => { const i = document.querySelector(sel);
    if (!i || !i.complete || !i.naturalWidth) return -1;
    const c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight;
    const g = c.getContext('2d'); g.drawImage(i, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
    for (let p = 0; p < d.length; p += 4) {
      if (Math.max(d[p], d[p+1], d[p+2]) - Math.min(d[p], d[p+1], d[p+2]) > 24) n++; }
    return n / (d.length / 4); }"""
IMG = '[data-testid="stImage"] img'


def _image_colour_share(page) -> float:
    page.wait_for_function(f"() => {{ const i = document.querySelector('{IMG}'); "
                           "return i && i.complete && i.naturalWidth > 100; }", timeout=90_000)
    return page.evaluate(_IMG_COLOUR, IMG)


def test_the_colour_model_shows_colour_on_map_grid_and_interpolation(page, app_server):
    open_map(page, app_server, f"/?ckpt={CKPT}")
    i = find_isolated_point(page)
    assert hover_point(page, i) == i
    page.wait_for_function("() => window.__latentMaps['latent_map'].instance.slots[0].cv.width > 0")
    assert page.evaluate(_CANVAS_COLOUR, ["latent_map", 0]) > 0.02  # the hovered original
    # colour by a known factor: the map's layer changes to a colour scale titled by the factor
    open_popover(page, "factors")  # the less used map controls
    page.get_by_role("combobox", name="Colour by factor").click()
    page.get_by_role("option", name="hue", exact=True).click()
    wait_for_app_run(page)
    wait_for_map(page)
    page.wait_for_function("() => window.__latentMaps['latent_map'].instance.data.colorTitle === 'hue'")
    assert "factor=hue" in page.url
    # hue is cyclic: drawn on a hue wheel (both ends of the colour bar red), each point in its own
    # hue, not on viridis (dark purple at 0, yellow at 1)
    ends = page.evaluate("""() => {
      const cv = window.__latentMaps['latent_map'].instance.colorbar.querySelector('canvas');
      const d = cv.getContext('2d').getImageData(0, 0, cv.width, 1).data;
      return [Array.from(d.slice(0, 3)), Array.from(d.slice(4 * (cv.width - 1), 4 * cv.width - 1))];
    }""")
    for r, g, b in ends:
        assert r > 180 and g < 90 and b < 90, ends
    # (the interpolation page draws its filmstrip only once A and B are chosen)
    for path in ("/grid", "/interpolate"):
        page.goto(app_server.url + path + f"?ckpt={CKPT}&a=i0&b=i1")
        wait_for_app_run(page)
        assert _image_colour_share(page) > 0.01, path
    assert page.locator('[data-testid="stException"]').count() == 0


def test_the_factor_table_is_under_the_traversal(page, app_server):
    page.goto(app_server.url + f"/samples?ckpt={CKPT}")
    wait_for_app_run(page)
    page.get_by_role("heading", name="Which dimension encodes which factor").wait_for(timeout=120_000)
    # the rest of the section streams in after its heading: wait, do not just look
    page.get_by_text("MIG", exact=True).first.wait_for(timeout=30_000)
    best = page.get_by_text("Best dimension per factor")
    best.wait_for(timeout=30_000)
    assert "shape: z" in best.inner_text() and "hue: z" in best.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
