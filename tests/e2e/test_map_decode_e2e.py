"""End-to-end: decoding anywhere in the map's view, the default framing, the view in the URL,
and the hover readout (issue 9, "Decoding the empty space").

Run: .venv/bin/python -m pytest -m e2e tests/e2e/test_map_decode_e2e.py -q
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from harness import (REPO, find_empty_spot, find_isolated_point, hover_point, map_stats,
                     slot_pixels_varied, wait_for_app_run, wait_for_map)

pytestmark = pytest.mark.e2e

M = "window.__latentMaps['latent_map'].instance"


def open_map(page, app_server, path: str = "/"):
    page.goto(app_server.url + path)
    wait_for_app_run(page)
    return wait_for_map(page)


def view_rect(page) -> list[float]:
    """[x0, x1, y0, y1] the plot shows (from the pixel <-> map transform)."""
    return page.evaluate(f"""() => {{ const m = {M}, r = m.plotRect();
        return [m.ix(r.x), m.ix(r.x + r.w), m.iy(r.y + r.h), m.iy(r.y)]; }}""")


def data_bounds(page) -> list[float]:
    return page.evaluate(f"() => {M}.points.bounds")


def client_xy(page, x: float, y: float) -> tuple[float, float]:
    return tuple(page.evaluate("([x, y]) => window.__latentMaps['latent_map'].toClient(x, y)", [x, y]))


def plot_centre(page) -> tuple[float, float]:
    return tuple(page.evaluate(f"""() => {{ const m = {M}, r = m.plotRect(),
        b = m.overlay.getBoundingClientRect(); return [b.left + r.x + r.w / 2, b.top + r.y + r.h / 2]; }}"""))


def wait_decoded_at(page, x: float, y: float, timeout: float = 60_000) -> None:
    """Until a grid decoded for the view (not the nearest cell of another) covers (x, y)."""
    page.wait_for_function(f"([x, y]) => !!{M}.gridCell(x, y)", arg=[x, y], timeout=timeout)
    wait_for_app_run(page)


def hover_empty_at(page, x: float, y: float) -> str:
    """Hover map point (x, y) (no data point there); return the panel's caption."""
    page.mouse.move(*plot_centre(page))
    page.mouse.move(*client_xy(page, x, y))
    page.wait_for_function("() => window.__latentMaps['latent_map'].stats.hoverKind === 'grid'",
                           timeout=5000)
    return page.locator('[data-testid="latent-map-caption"]').first.inner_text()


def wheel(page, steps: int, delta: float, at=None) -> None:
    page.mouse.move(*(at or plot_centre(page)))
    for _ in range(steps):
        page.mouse.wheel(0, delta)
        page.wait_for_timeout(50)


def test_default_view_frames_the_data(page, app_server):
    open_map(page, app_server)
    x0, x1, y0, y1 = view_rect(page)
    bx0, bx1, by0, by1 = data_bounds(page)
    for lo, hi, blo, bhi in ((x0, x1, bx0, bx1), (y0, y1, by0, by1)):
        span = bhi - blo
        assert lo <= blo and hi >= bhi, (lo, hi, blo, bhi)  # all the data is in view
        assert blo - lo <= 0.1 * span and hi - bhi <= 0.1 * span, (lo, hi, blo, bhi)  # no wide band


def test_hover_below_the_data_decodes(page, app_server):
    """z = (-1, -2.5) lies below the shapes data: zoom out until it is in view, hover it."""
    open_map(page, app_server)
    wheel(page, 3, 300)  # zoom out
    x0, x1, y0, y1 = view_rect(page)
    assert x0 < -1 < x1 and y0 < -2.5 < y1, view_rect(page)
    wait_decoded_at(page, -1, -2.5)
    caption = hover_empty_at(page, -1, -2.5)
    assert caption.startswith("decoded at cursor"), caption
    assert "outside" not in caption
    assert slot_pixels_varied(page, 0), "decoded image not drawn"
    coords = page.locator(".lm-coords").first.inner_text()
    assert re.match(r"z = \(-1(\.0\d*)?, -2\.[45]\d*\)", coords), coords


def test_zoomed_in_far_outside_the_data_decodes(page, app_server):
    open_map(page, app_server)
    wheel(page, 3, -500)  # zoom in ~9x
    bx0, bx1, by0, by1 = data_bounds(page)
    cx, cy = plot_centre(page)
    d = 0.4 * page.evaluate(f"() => {M}.plotRect().w")
    for _ in range(60):  # drag left: the view moves right, past the data
        if view_rect(page)[0] > bx1 + 0.5:
            break
        page.mouse.move(cx + d, cy)
        page.mouse.down()
        page.mouse.move(cx - d, cy, steps=4)
        page.mouse.up()
    v = view_rect(page)
    assert v[0] > bx1 + 0.5, (v, bx1)
    x, y = (v[0] + v[1]) / 2, (v[2] + v[3]) / 2
    wait_decoded_at(page, x, y)
    caption = hover_empty_at(page, x, y)
    assert re.match(r"decoded at cursor \(grid (\d+)×\1 over this view\)", caption), caption
    assert slot_pixels_varied(page, 0), "decoded image not drawn"
    st = map_stats(page)
    assert st["hoverGrid"] == "window" and st["windowAsks"] >= 1, st
    # the grid that answered is fine for this view: at least 8 cells across it
    ext, g = page.evaluate(f"([x, y]) => {{ const gr = {M}.gridAt(x, y).grid; return [gr.extent, gr.g]; }}",
                           [x, y])
    assert (ext[1] - ext[0]) / g * 8 <= v[1] - v[0] and (ext[3] - ext[2]) / g * 8 <= v[3] - v[2]


def _zoom_in_url(page) -> list[float] | None:
    z = parse_qs(urlparse(page.url).query).get("zoom")
    return [float(s) for s in z[0].split(",")] if z else None


def test_zoom_is_kept_in_the_url_and_restored(page, app_server):
    open_map(page, app_server)
    assert _zoom_in_url(page) is None
    wheel(page, 2, -300)
    page.wait_for_function("() => new URL(location.href).searchParams.has('zoom')", timeout=10_000)
    v = view_rect(page)
    z = _zoom_in_url(page)
    assert z == pytest.approx(v, rel=0, abs=1e-3 * (v[1] - v[0])), (z, v)
    # The app writes its own query parameters on a rerun (a click sets A): zoom survives.
    wait_for_app_run(page)
    hover_point(page, find_isolated_point(page))
    page.mouse.down()
    page.mouse.up()
    page.wait_for_function("() => new URL(location.href).searchParams.has('a')", timeout=30_000)
    wait_for_app_run(page)
    assert _zoom_in_url(page) == z, page.url
    # A reload with that URL opens the same view.
    url = page.url
    page.goto(url)
    wait_for_app_run(page)
    wait_for_map(page)
    v2 = view_rect(page)
    assert v2 == pytest.approx(z, rel=0, abs=1e-3 * (z[1] - z[0])), (v2, z)
    # Reset view drops it again.
    page.locator(".lm-reset").first.click()
    page.wait_for_function("() => !new URL(location.href).searchParams.has('zoom')", timeout=10_000)


def test_caption_with_colour_by_kl_reads_label_then_value(page, app_server):
    open_map(page, app_server)
    page.locator('[data-testid="stButtonGroup"]').get_by_text("KL", exact=True).first.click()
    wait_for_app_run(page)
    page.wait_for_function(f"() => !!{M}.points.colors", timeout=30_000)
    wait_for_map(page)
    i = hover_point(page, find_isolated_point(page))
    caption = page.locator('[data-testid="latent-map-caption"]').first.inner_text()
    assert re.fullmatch(rf"data point #{i} · label \S+ · KL -?[\d.]+(e[+-]?\d+)? nats", caption), caption


MNIST = REPO.parent / "shared" / "datasets" / "MNIST"
Z16 = REPO / "checkpoints" / "mnist-conv-z16.safetensors"


@pytest.mark.skipif(not (MNIST.is_dir() and Z16.is_file()), reason="needs MNIST in ../shared/datasets")
def test_projected_map_readout_names_map_position_and_decoded_latent(page, app_server):
    open_map(page, app_server, "/?ckpt=mnist-conv-z16")
    spot = find_empty_spot(page)
    assert spot is not None
    page.mouse.move(*plot_centre(page))
    page.mouse.move(*spot)
    page.wait_for_function("() => window.__latentMaps['latent_map'].stats.hoverKind === 'grid'",
                           timeout=5000)
    coords = page.locator(".lm-coords").first.inner_text()
    lines = coords.splitlines()
    assert re.fullmatch(r"map \(-?[\d.e+-]+, -?[\d.e+-]+\)", lines[0]), coords
    assert re.fullmatch(r"decodes z = \((-?[\d.e+-]+, ){3}…\) \|z\| = [\d.e+-]+", lines[1]), coords
    assert "nearest codes" in lines[2], coords
    assert not coords.startswith("z =")
