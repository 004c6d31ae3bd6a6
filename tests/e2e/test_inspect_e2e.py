"""End-to-end: the inspection layer's finishing touches (issue 11): the map's controls fit their
columns, PNG downloads (map and image grids), neighbours by key on hover, adding to / subtracting
from a selection, S1 and S2 drawn apart. Playwright + Debian's Chromium.

Run: nice -n 5 .venv/bin/python -m pytest -m e2e tests/e2e/test_inspect_e2e.py -q
"""
from __future__ import annotations

import pytest
from harness import all_client_xy, open_map, plot_box, wait_for_app_run, wait_for_map

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


# ------------------------------------------------------------------ helpers for the map tests


def drag_box(page, box, key=None):
    x0, y0, x1, y1 = box
    page.mouse.move(x0, y0)
    if key:
        page.keyboard.down(key)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=3)
    page.mouse.move(x1, y1, steps=3)
    page.mouse.up()
    if key:
        page.keyboard.up(key)


def inside(page, box) -> set[int]:
    """Points whose client position lies in the box the page last recorded (its lastPoly)."""
    bx0, by0, _, _, bx1, by1 = page.evaluate(f"() => {API}.instance.lastPoly")[:6]
    ox, oy = page.evaluate(f"() => {{ const r = {API}.instance.overlay.getBoundingClientRect(); return [r.left, r.top]; }}")
    x0, x1 = sorted((bx0 + ox, bx1 + ox))
    y0, y1 = sorted((by0 + oy, by1 + oy))
    return {i for i, (x, y) in enumerate(all_client_xy(page)) if x0 <= x <= x1 and y0 <= y <= y1}


def selected(page, slot="s1") -> set[int]:
    return set(page.evaluate(f"() => {API}.selectedIndices('{slot}')"))


def png_of(download):
    import io
    from pathlib import Path

    from PIL import Image

    raw = Path(download.path()).read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(raw)).convert("RGB")


def colour_pixels(page, hex_colour: str) -> int:
    """Pixels of exactly this colour on the points canvas."""
    return page.evaluate(f"""(h) => {{ const c = {API}.instance.canvas, d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const v = parseInt(h.slice(1), 16), r = v >> 16, g = (v >> 8) & 255, b = v & 255; let k = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] === r && d[i + 1] === g && d[i + 2] === b) k++;
        return k; }}""", hex_colour)


S1_COLOUR, S2_COLOUR = "#0077BB", "#EE3377"


# ------------------------------------------------------------------ selections
def test_shift_adds_to_the_selection_and_alt_takes_away(page, app_server):
    open_map(page, app_server)
    a_box, b_box = plot_box(page, 0.05, 0.05, 0.5, 0.5), plot_box(page, 0.5, 0.5, 0.95, 0.95)
    drag_box(page, a_box, "Shift")
    a = inside(page, a_box)
    assert a and selected(page) == a
    drag_box(page, b_box, "Shift")  # adds
    b = inside(page, b_box)
    assert b - a and selected(page) == a | b
    # shift adds a lasso too (Lasso mode): a triangle over the top right quarter
    import numpy as np
    from vae_explorer.selection import points_in_polygon
    page.locator('.lm-tool[data-tool="lasso"]').first.click()
    x0, y0, x1, y1 = plot_box(page, 0.5, 0.05, 0.95, 0.5)
    tri = [(x0, y1), (x1, y0), (x1, y1), (x0, y1)]
    page.mouse.move(*tri[0])
    page.keyboard.down("Shift")
    page.mouse.down()
    for p in tri[1:]:
        page.mouse.move(*p, steps=4)
    page.mouse.up()
    page.keyboard.up("Shift")
    ox, oy = page.evaluate(f"() => {{ const r = {API}.instance.overlay.getBoundingClientRect(); return [r.left, r.top]; }}")
    poly = np.array(page.evaluate(f"() => {API}.instance.lastPoly")).reshape(-1, 2) + (ox, oy)
    c = set(np.flatnonzero(points_in_polygon(np.array(all_client_xy(page)), poly)).tolist())
    assert c - a - b and selected(page) == a | b | c
    page.locator('.lm-tool[data-tool="box"]').first.click()
    drag_box(page, a_box, "Alt")  # alt: takes the box out
    assert selected(page) == (a | b | c) - inside(page, a_box)
    page.get_by_text(f"S1: {len(selected(page)):,} points").first.wait_for(timeout=60_000)
    # the selection panel's page downloads as one PNG
    wait_for_app_run(page)
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="This page as PNG").click()
    img = png_of(dl.value)
    assert dl.value.suggested_filename == "selection-s1-page1.png" and img.width > 100


def test_s1_and_s2_are_outlined_in_their_own_colours_with_legend_entries(page, app_server):
    open_map(page, app_server)
    assert colour_pixels(page, S1_COLOUR) == 0 and colour_pixels(page, S2_COLOUR) == 0
    drag_box(page, plot_box(page, 0.05, 0.05, 0.5, 0.95), "Shift")
    n1 = len(selected(page))
    page.locator('.lm-tool[data-tool="s2"]').first.click()
    drag_box(page, plot_box(page, 0.5, 0.05, 0.95, 0.95), "Shift")
    n2 = len(selected(page, "s2"))
    assert n1 and n2
    page.wait_for_function(f"() => {API}.stats.drawMs >= 0")
    assert colour_pixels(page, S1_COLOUR) > n1 and colour_pixels(page, S2_COLOUR) > n2
    legend = page.locator('[data-testid="latent-map-sel-legend"] .lm-sel-item')
    assert legend.all_inner_texts() == [f"S1 ({n1:,})", f"S2 ({n2:,})"]


# ------------------------------------------------------------------ PNG exports
def test_map_png_is_the_map_as_drawn_with_its_legend(page, app_server):
    import io

    import numpy as np
    from PIL import Image

    open_map(page, app_server)
    x0, y0, x1, y1 = plot_box(page, 0.3, 0.3, 0.7, 0.7)
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2)
    page.mouse.wheel(0, -400)  # zoom in: the export must show this view, not the fitted one
    drag_box(page, plot_box(page, 0.2, 0.2, 0.6, 0.6), "Shift")
    n1 = len(selected(page))
    assert n1
    wait_for_app_run(page)
    page.mouse.move(1, 1)  # no hover ring on the overlay
    canvas = page.evaluate(f"() => {API}.instance.canvas.toDataURL('image/png')")
    shown = np.asarray(Image.open(io.BytesIO(__import__("base64").b64decode(canvas.split(",")[1]))).convert("RGB"))
    with page.expect_download(timeout=60_000) as dl:
        page.locator('.lm-tool[data-tool="png"]').first.click()
    assert dl.value.suggested_filename == "latent-map.png"
    img = np.asarray(png_of(dl.value))
    h, w = shown.shape[:2]
    assert img.shape[1] == w and img.shape[0] > h + 20
    assert np.array_equal(img[:h], shown)  # as drawn: this zoom, colours and S1 outlines
    legend = img[h:].reshape(-1, 3)
    has = lambda hx: bool((legend == [int(hx[i:i + 2], 16) for i in (1, 3, 5)]).all(axis=1).any())  # noqa: E731
    assert has(S1_COLOUR)  # the S1 entry's ring
    assert has("#CC6677") and has("#332288")  # label swatches (the palette's first two)


def test_ranking_grid_downloads_as_one_png_of_its_cells(page, app_server):
    page.goto(app_server.url + "/wrong")
    wait_for_app_run(page)
    cells = page.locator(".ig-cell img")
    cells.first.wait_for(timeout=120_000)
    wait_for_app_run(page)
    n = cells.count()
    cw, ch = cells.first.evaluate("i => [i.naturalWidth, i.naturalHeight]")  # pair, upscaled 2x
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="These images as PNG").click()
    img = png_of(dl.value)
    from vae_explorer.imagegrid import LINE_PX

    rows, pad = -(-n // 8), 8
    assert img.size == (8 * cw + 9 * pad, rows * (ch + 2 * LINE_PX) + (rows + 1) * pad)


# ------------------------------------------------------------------ neighbours by key
def test_n_over_a_point_shows_its_neighbours_and_leaves_a_alone(page, app_server):
    from harness import find_isolated_point, hover_point

    open_map(page, app_server)
    i = find_isolated_point(page)
    assert hover_point(page, i) == i
    page.keyboard.press("n")
    page.wait_for_function(f"() => {{ const nb = {API}.neighbours(); return nb && nb.of === {i}; }}",
                           timeout=60_000)
    page.get_by_text(f"Nearest 10 codes to #{i}").first.wait_for()
    page.get_by_text("A: click the map").first.wait_for()  # a key is not a click: A stays unset
    wait_for_app_run(page)
    with page.expect_download(timeout=60_000) as dl:  # the strip as one PNG
        page.get_by_role("button", name="Neighbours as PNG").click()
    img = png_of(dl.value)
    assert img.width > 11 * 2 * 8 and dl.value.suggested_filename == f"neighbours-{i}.png"


# ------------------------------------------------------------------ Neighbours kept, large sample
def test_neighbours_kept_layer_appears_when_the_background_figures_arrive(page, app_server, tmp_path):
    """Above SYNC_KNN_MAX points the layer waits for the background figures; lowered here to 10
    so that the test's small sample takes that path. A second server on the first one's (warm)
    cache: its first run finds no figures in memory (the job starts after the page), and nothing
    else reruns it (reconstructions come from disk)."""
    import harness

    page.goto(app_server.url + "/wrong")  # warm the disk cache: reconstructions and figures
    wait_for_app_run(page)
    page.locator(".ig-cell").first.wait_for(timeout=120_000)
    srv = harness.AppServer(__import__("pathlib").Path(app_server.env["VAE_EXPLORER_CACHE"]),
                            app_server.env.get("VAE_EXPLORER_CHECKPOINTS"),
                            log_path=tmp_path / "kept.log",
                            extra_env={"VAE_EXPLORER_SYNC_KNN_MAX": "10"})
    with srv:
        page.goto(srv.url + "/?colour=kept")
        wait_for_map(page)
        page.locator(".lm-cb-title", has_text="latent neighbours kept").wait_for(timeout=30_000)
        assert page.evaluate(f"() => !!{API}.instance.points.colors")
