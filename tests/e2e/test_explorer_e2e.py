"""End-to-end: the explorer in a real browser (Playwright + Debian's Chromium).

Run: .venv/bin/python -m pytest -m e2e tests/e2e -q   (needs /usr/bin/chromium)
"""
from __future__ import annotations

import re
import urllib.request

import pytest
from harness import (find_empty_spot, find_isolated_point, hover_point, map_stats,
                     slot_pixels_varied, wait_for_app_run, wait_for_map)

pytestmark = pytest.mark.e2e

MAP_COUNT_RE = re.compile(r"([\d,]+) images")


def open_map(page, app_server, path: str = "/"):
    page.goto(app_server.url + path)
    wait_for_app_run(page)
    return wait_for_map(page)


def test_default_checkpoint_opens_without_configuration(page, app_server):
    root = open_map(page, app_server)
    shown = page.evaluate(
        """() => { const s = document.querySelector('[data-testid="stSidebar"] [data-testid="stSelectbox"]');
                   if (!s) return '';
                   const i = s.querySelector('input');
                   return s.innerText + ' ' + (i ? i.value + ' ' + (i.getAttribute('aria-label') || '') : ''); }""")
    assert "shapes-conv-z2" in shown, shown
    assert page.locator('[data-testid="stException"]').count() == 0
    assert root.get_attribute("data-ready") == "1"
    # the image atlases were decoded in the Web Worker, off the main thread
    assert page.evaluate("() => window.__latentMapStats.workerPages || 0") >= 2


def test_map_shows_expected_number_of_points(page, app_server):
    root = open_map(page, app_server)
    caption = page.get_by_text(MAP_COUNT_RE).first
    caption.wait_for()
    expected = int(MAP_COUNT_RE.search(caption.inner_text()).group(1).replace(",", ""))
    assert expected > 0
    assert int(root.get_attribute("data-points")) == expected
    st = map_stats(page)
    assert st["points"] == expected and st["totalPoints"] == expected
    # The whole sample is drawn on the canvas, not a subsample.
    assert page.evaluate("() => window.__latentMaps['latent_map'].instance.points.n") == expected


RECON_READY = """() => { const m = window.__latentMaps && window.__latentMaps['latent_map'];
    const e = m && m.instance.atlasEntries && m.instance.atlasEntries.recon;
    return !!(e && e.value) && m.instance.root.getAttribute('data-ready') === '1'; }"""


def test_hover_data_point_shows_its_image(page, app_server):
    open_map(page, app_server)
    # Reconstructions are decoded after the first map (cold cache) and arrive with a rerun.
    page.wait_for_function(RECON_READY, timeout=180_000, polling=100)
    root = wait_for_map(page)
    target = find_isolated_point(page)
    i = hover_point(page, target)
    assert i is not None
    assert root.get_attribute("data-hover-kind") == "point"
    caption = page.locator('[data-testid="latent-map-caption"]').first.inner_text()
    assert caption.startswith(f"data point #{i}")
    assert slot_pixels_varied(page, 0), "original image not drawn"
    shown = page.evaluate("""() => { const s = window.__latentMaps['latent_map'].instance.slots[1];
                                     return [s.fig.hidden, s.cv.width, s.cap.textContent]; }""")
    assert shown[0] is False and shown[1] > 0 and "reconstruction" in shown[2], shown
    st = map_stats(page)
    assert st["hoverMs"] is not None and st["hoverMs"] < 50, st


def test_hover_empty_space_decodes_at_cursor(page, app_server):
    root = open_map(page, app_server)
    spot = find_empty_spot(page)
    if spot is None:
        pytest.skip("no empty space inside the decoded grid on this map")
    page.mouse.move(*spot)
    page.wait_for_function(
        "() => window.__latentMaps['latent_map'].stats.hoverKind === 'grid'", timeout=5000)
    assert root.get_attribute("data-hover-kind") == "grid"
    caption = page.locator('[data-testid="latent-map-caption"]').first.inner_text()
    assert re.match(r"decoded at cursor \(grid \d+×\d+\)", caption), caption
    assert slot_pixels_varied(page, 0), "decoded image not drawn"


def test_click_sets_point_a(page, app_server):
    open_map(page, app_server)
    i = hover_point(page, find_isolated_point(page))
    page.mouse.down()
    page.mouse.up()
    page.get_by_text(re.compile(r"^A: ")).first.wait_for()
    page.wait_for_function(
        "i => (window.__latentMaps['latent_map'].instance.data.selected || []).includes(i)",
        arg=i, timeout=30_000)


def test_interpolation_slider_changes_image(page, app_server):
    # The scrubber (vae_explorer/scrub.py) swaps frames in the browser; more in test_state_e2e.py.
    page.goto(app_server.url + "/interpolate?a=i0&b=i1")
    wait_for_app_run(page)
    page.wait_for_selector('.sc-root[data-ready="1"]', state="attached")
    before_cap = page.locator(".sc-caption").inner_text()
    page.locator(".sc-range").focus()
    page.keyboard.press("End")
    page.wait_for_selector('.sc-root[data-frame="64"]', state="attached")
    assert page.locator(".sc-caption").inner_text().startswith("t = 1.00")
    assert page.locator(".sc-caption").inner_text() != before_cap


def test_manifold_grid_renders(page, app_server):
    page.goto(app_server.url + "/grid")
    wait_for_app_run(page)
    page.get_by_role("heading", name="Manifold grid").wait_for()
    img = page.locator('[data-testid="stImage"] img').first
    img.wait_for()
    page.wait_for_function(
        """() => { const i = document.querySelector('[data-testid="stImage"] img');
                   return i && i.complete && i.naturalWidth > 100 && i.naturalHeight > 100; }""",
        timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_corrupt_upload_shows_error_and_app_stays_up(page, app_server):
    open_map(page, app_server)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Upload", exact=True).click()
    wait_for_app_run(page)
    sidebar.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "broken.safetensors", "mimeType": "application/octet-stream",
                "buffer": b"\x08\x00\x00\x00\x00\x00\x00\x00{notjson" + b"\x00" * 64}])
    err = sidebar.locator('[data-testid="stAlertContentError"]')
    err.first.wait_for(timeout=60_000)
    assert err.first.inner_text().strip()
    wait_for_app_run(page)
    # The server is alive and the page still shows the map of the previous checkpoint.
    with urllib.request.urlopen(app_server.url + "/_stcore/health", timeout=5) as r:
        assert r.status == 200
    assert page.locator('[data-testid="stException"]').count() == 0
    wait_for_map(page)


def test_map_recovers_when_the_page_lost_its_payloads(page, app_server):
    """Payloads are sent once per session; if the page lost them (evicted), the map asks again."""
    open_map(page, app_server)
    n = int(page.locator('.lm-root[data-key="latent_map"]').get_attribute("data-points"))
    page.evaluate("() => window.__latentMapStore.clear()")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Checkpoint info").click()
    wait_for_app_run(page)
    sidebar.get_by_text("Latent map").click()
    wait_for_app_run(page)
    root = wait_for_map(page)
    assert int(root.get_attribute("data-points")) == n
    assert page.evaluate("() => window.__latentMapStore.size") >= 3
