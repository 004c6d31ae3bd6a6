"""End-to-end: the map's `ready` trigger starts the background work (vae_explorer.modelstart).

On an empty cache the first run encodes the sample; the reconstructions are decoded in the
background only once the browser's map says it is drawn, then written to the disk cache.
Without ready (tests/test_app.py's warm open, AppTest) nothing of it starts. A later session
finds it started; its map is asked for ready all the same, once: a session's first render is the
map without its controls, and ready's rerun brings them (modelstart.first_render_staged).

Run: .venv/bin/python -m pytest -m e2e tests/e2e/test_ready_e2e.py -q
"""
from __future__ import annotations

import time

import pytest
from harness import (DEFAULT_CKPT, AppServer, find_isolated_point, hover_point, map_stats,
                     plot_box, point_client_xy, slot_pixels_varied, wait_for_app_run, wait_for_map)

pytestmark = pytest.mark.e2e

M = "window.__latentMaps['latent_map'].instance"


def _cached(cache, what: str) -> list:
    return sorted(cache.glob(f"*-{what}-*.npz"))


def test_the_drawn_map_sends_ready_once_the_work_starts_and_later_sessions_are_not_asked(
        page, tmp_path, checkpoint_dir):
    cache = tmp_path / "cache"
    with AppServer(cache, checkpoint_dir, log_path=tmp_path / "streamlit.log") as srv:
        page.goto(srv.url)
        wait_for_app_run(page)
        wait_for_map(page)
        page.wait_for_function(f"() => {M}.stats.readySentAt != null", timeout=30_000)
        deadline = time.monotonic() + 240  # 2 cores, maybe loaded: decoding ~1-3 s here
        while not _cached(cache, "recon") and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _cached(cache, "recon"), sorted(p.name for p in cache.glob("*.npz"))
        # The rerun that ready caused tells the map not to send it again (no rerun per mount).
        wait_for_app_run(page)
        page.wait_for_function(f"() => {M}.data.wantReady === false", timeout=30_000)
        assert map_stats(page)["readySentAt"] is not None
        # A later student: everything is started already; its first render is asked for ready
        # (its controls come with that rerun), and once they are out, never again.
        ctx = page.context.browser.new_context(viewport={"width": 1400, "height": 950})
        try:
            later = ctx.new_page()
            later.goto(srv.url)
            wait_for_map(later)
            later.get_by_text("Colour by").first.wait_for(timeout=60_000)
            wait_for_app_run(later)
            assert later.evaluate(f"() => {M}.data.wantReady") is False
            assert map_stats(later).get("readySentAt") is not None
        finally:
            ctx.close()


SIDEBAR_LABELS = '[data-testid="stSidebar"] [data-testid="stWidgetLabel"]'


# A 2-D latent: one row of controls; an 8-D one: the row and the popover below it, two elements
# (without the slot that holds them in every run, the map's place in the page would shift and
# Streamlit mount it afresh).
# At 412 px (a phone) Streamlit stacks the columns: the room kept for them is taller there
# (styles.NARROW_CSS); with the desktop room the map jumped 140 px (2-D) and 162 px (8-D).
# At 1024 px (a projector) the controls' options wrap (styles.WRAP_CSS) and the room follows
# the main column's width (styles.ROOM_CSS): without it the map moved 38 px.
@pytest.mark.parametrize("ckpt,width", [("", 1280), ("shapes-rgb-conv-z8.safetensors", 1280),
                                        ("", 1024), ("shapes-rgb-conv-z8.safetensors", 1024),
                                        ("", 412), ("shapes-rgb-conv-z8.safetensors", 412)])
def test_the_first_render_is_the_map_and_its_controls_come_without_moving_or_remounting_it(
        page, tmp_path, checkpoint_dir, ckpt, width):
    """A link's settings apply to the first render's map (no controls yet: ready's rerun brings
    them, showing the same settings); the map is mounted once and stays where it was, in a
    desktop window and a phone's."""
    if ckpt and (checkpoint_dir is not None or not (DEFAULT_CKPT.parent / ckpt).is_file()):
        pytest.skip(f"needs the shipped {ckpt}")
    with AppServer(tmp_path / "cache", checkpoint_dir) as srv:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(srv.url + "/?colour=kl&next=B" + (f"&ckpt={ckpt}" if ckpt else ""))
        # At the first drawn frame: what the page holds, where the map is; the instance marked.
        first = page.wait_for_function(
            """([m, labels]) => { const e = window.__latentMaps && window.__latentMaps.latent_map;
                 if (!e || !e.instance.root.hasAttribute('data-points')) return null;
                 e.instance.__firstMount = true;
                 return {labels: document.querySelectorAll(labels).length,
                         colourBy: document.body.innerText.includes('Colour by'),
                         top: e.instance.overlay.getBoundingClientRect().top,
                         title: e.instance.data.colorTitle}; }""",
            arg=[M, SIDEBAR_LABELS], timeout=120_000, polling="raf").json_value()
        assert first["labels"] == 0 and not first["colourBy"], first
        assert first["title"] == "KL (nats)"  # the link's colouring, before any control exists
        box = plot_box(page, 0, 0, 1, 1)
        page.get_by_text("Colour by").first.wait_for(timeout=60_000)
        wait_for_app_run(page)
        assert page.locator(SIDEBAR_LABELS).count() >= 2  # Checkpoint, Presenter view
        assert page.evaluate(f"() => {M}.__firstMount") is True  # the same map: not remounted
        assert abs(plot_box(page, 0, 0, 1, 1)[1] - box[1]) <= 1  # and it did not move
        assert abs(page.evaluate(f"() => {M}.overlay.getBoundingClientRect().top")
                   - first["top"]) <= 1
        # The controls show the link's settings.
        for label, option in (("Colour by", "KL"), ("Next click sets", "B")):
            group = page.get_by_role("radiogroup", name=label, exact=True).first
            lit = group.locator('[aria-checked="true"]').all_inner_texts()
            assert [t.strip() for t in lit] == [option], (label, lit)


# The map's code (~70 kB, imported by loader.js from a blob: URL) made unloadable; Streamlit
# loads the registered loader (~3 kB) from a blob: URL too, which must still work.
BREAK_CODE = """(() => { const make = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (b) => (b && b.type === 'text/javascript' && b.size > 30000)
    ? 'blob:' + location.origin + '/no-such-code' : make(b); })();"""


def test_a_map_whose_code_fails_to_load_still_brings_the_controls(page, tmp_path, checkpoint_dir):
    """The first render is the map alone and its controls wait for the map's ready: when the
    map's code cannot load (loader.js), the loader says ready all the same, so the page is not
    left without its controls; it does not rerun for ever asking for the code again; and the
    map's place says what happened."""
    failures = []
    page.on("console", lambda m: failures.append(m.text) if "code failed to load" in m.text else 0)
    page.add_init_script(BREAK_CODE)
    with AppServer(tmp_path / "cache", checkpoint_dir) as srv:
        page.goto(srv.url)
        page.get_by_text("Colour by").first.wait_for(timeout=90_000)
        wait_for_app_run(page)
        assert page.locator(SIDEBAR_LABELS).count() >= 2
        assert failures, "the map's code was expected to fail here"
        seen = len(failures)
        time.sleep(3)  # no loop of reruns, each asking for the code and failing again
        assert len(failures) <= max(seen, 2), failures
        assert not page.evaluate("() => window.__latentMaps && window.__latentMaps.latent_map")
        # and the map's place says so, instead of staying empty
        alert = page.locator(".lm-failed")
        alert.wait_for(timeout=10_000)
        assert "The map could not start in this browser" in alert.inner_text()


@pytest.mark.parametrize("width", [1280, 1024, 412])
def test_a_new_tab_on_the_default_link_draws_the_recorded_first_render_and_works(
        page, tmp_path, checkpoint_dir, width):
    """vae_explorer.firstpaint: once a usual first render of the default link was recorded, a
    new tab's first run mounts that frame before the app is imported. In the browser it is the
    same map: points and hover images, no controls until ready's rerun brings them, without
    moving or remounting the map (in a desktop window, a projector's and a phone's: the room kept
    for the controls is the page's CSS, as in a usual first render); a click then picks A."""
    cache = tmp_path / "cache"
    record = cache / "first-paint.bin"
    with AppServer(cache, checkpoint_dir) as srv:
        deadline = time.monotonic() + 240
        while not record.is_file() and time.monotonic() < deadline:  # a usual first render,
            page.goto(srv.url)  # once the reconstructions are in, records itself
            wait_for_map(page)
            page.get_by_text("Colour by").first.wait_for(timeout=60_000)
            wait_for_app_run(page)
            time.sleep(0.5)
        assert record.is_file()
        stamp = record.stat().st_mtime_ns
        ctx = page.context.browser.new_context(viewport={"width": width, "height": 900})
        try:
            tab = ctx.new_page()
            tab.goto(srv.url)
            first = tab.wait_for_function(
                """([m, labels]) => { const e = window.__latentMaps && window.__latentMaps.latent_map;
                     if (!e || !e.instance.root.hasAttribute('data-points')) return null;
                     e.instance.__firstMount = true;
                     return {labels: document.querySelectorAll(labels).length,
                             colourBy: document.body.innerText.includes('Colour by'),
                             top: e.instance.overlay.getBoundingClientRect().top}; }""",
                arg=[M, SIDEBAR_LABELS], timeout=120_000, polling="raf").json_value()
            assert first["labels"] == 0 and not first["colourBy"], first
            wait_for_map(tab, ready=True)
            i = find_isolated_point(tab)
            hover_point(tab, i)
            assert slot_pixels_varied(tab, 0)  # the hovered point's original
            tab.get_by_text("Colour by").first.wait_for(timeout=60_000)
            wait_for_app_run(tab)
            assert tab.locator(SIDEBAR_LABELS).count() >= 2
            assert tab.evaluate(f"() => {M}.__firstMount") is True  # not remounted
            assert abs(tab.evaluate(f"() => {M}.overlay.getBoundingClientRect().top")
                       - first["top"]) <= 1
            x, y = point_client_xy(tab, i)
            tab.mouse.click(x, y)
            # (the point nearest the click: in a narrow window the map is small and dense)
            tab.get_by_text("A: #", exact=False).first.wait_for(timeout=60_000)
        finally:
            ctx.close()
        assert record.stat().st_mtime_ns == stamp  # shown, not re-recorded
