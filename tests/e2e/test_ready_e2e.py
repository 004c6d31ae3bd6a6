"""End-to-end: the map's `ready` trigger starts the background work (vae_explorer.modelstart).

On an empty cache the first run encodes the sample; the reconstructions are decoded in the
background only once the browser's map says it is drawn, then written to the disk cache.
Without ready (tests/test_app.py's warm open, AppTest) nothing of it starts. A later session
finds it started and is not asked for ready.

Run: .venv/bin/python -m pytest -m e2e tests/e2e/test_ready_e2e.py -q
"""
from __future__ import annotations

import time

import pytest
from harness import AppServer, map_stats, wait_for_app_run, wait_for_map

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
        # A later student: everything is started already, so its map is not asked (no rerun).
        ctx = page.context.browser.new_context(viewport={"width": 1400, "height": 950})
        try:
            later = ctx.new_page()
            later.goto(srv.url)
            wait_for_app_run(later)
            wait_for_map(later)
            assert later.evaluate(f"() => {M}.data.wantReady") is False
            assert map_stats(later).get("readySentAt") is None
        finally:
            ctx.close()
