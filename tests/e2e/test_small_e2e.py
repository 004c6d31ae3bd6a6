"""End-to-end checks of smaller things a user meets: no request leaves the machine, no widget
warning in the server log, a UMAP that runs without moving the map and says that it works, and no
worker folders left in the temp directory after the server stops.

Run: .venv/bin/python -m pytest -m e2e tests/e2e/test_small_e2e.py -q   (needs /usr/bin/chromium)
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from harness import REPO, AppServer, open_popover, wait_for_app_run, wait_for_map

pytestmark = pytest.mark.e2e

PAGES = ["/", "/interpolate", "/grid", "/samples", "/info"]
OWN_HOSTS = {"127.0.0.1", "localhost"}
MNIST_RAW = REPO.parent / "shared" / "datasets" / "MNIST" / "raw"
PROGRESS = '[data-testid="stProgress"]:has-text("Computing UMAP")'  # not the reconstructions'


def _streamlit_probe(url: str) -> bool:
    """Opened at /grid, Streamlit first asks /grid/_stcore/health (404), then /_stcore/health:
    its own way of finding the server's base path, not a missing file of ours."""
    return bool(re.search(r"/[a-z]+/_stcore/(health|host-config)$", urlparse(url).path))


def test_no_request_leaves_the_app(page, app_server):
    requests, failed, console = [], [], []
    page.on("request", lambda r: requests.append(r.url))
    # ERR_ABORTED: the test's own next page.goto cancelled a load (an image of the page it
    # left); not a failed request of the app.
    page.on("requestfailed", lambda r: r.failure != "net::ERR_ABORTED" and failed.append(r.url))
    page.on("response", lambda r: r.status >= 400 and failed.append(r.url))
    page.on("console", lambda m: m.type == "error" and console.append(m.text))
    for path in PAGES:  # a shared link opens any page directly
        page.goto(app_server.url + path)
        wait_for_app_run(page)
        if path == "/":
            wait_for_map(page)
    for name in ("Interpolation", "Manifold grid", "Samples & traversal", "Checkpoint info",
                 "Latent map"):  # and a user clicks through them
        page.locator('[data-testid="stSidebarNav"] a', has_text=name).first.click()
        wait_for_app_run(page)
    assert len(requests) > 50
    hosts = {urlparse(u).hostname for u in requests if urlparse(u).scheme in ("http", "https",
                                                                             "ws", "wss")}
    assert hosts <= OWN_HOSTS, sorted(u for u in requests if urlparse(u).hostname not in OWN_HOSTS)
    assert {urlparse(u).scheme for u in requests} <= {"http", "ws", "data", "blob"}
    bad = [u for u in failed if not _streamlit_probe(u)]
    assert not bad, bad
    n_probes = len(failed)
    loads = [m for m in console if "Failed to load resource" in m]
    assert len(loads) <= n_probes, console  # only the base-path probes above
    assert page.evaluate("() => document.querySelector(\"link[rel='shortcut icon']\").href"
                         ).startswith(("data:", app_server.url))


def test_new_samples_logs_no_warning(page, app_server):
    page.goto(app_server.url + "/samples")
    wait_for_app_run(page)
    seed = page.get_by_label("Seed")
    assert seed.input_value() == "0"
    for want in ("1", "2"):
        page.get_by_role("button", name="New samples").click()
        page.wait_for_function("v => document.querySelector('input[aria-label=\"Seed\"]')"
                               ".value === v", arg=want)
        wait_for_app_run(page)
    log = app_server.log_path.read_text(errors="replace")
    assert "created with a default value but also had its value set" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def _map_top(page) -> float:
    return page.locator('.lm-root[data-key="latent_map"]').bounding_box()["y"]


def _server(tmp_path, **kw) -> AppServer:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp), **kw.pop("extra_env", {})}
    return AppServer(tmp_path / "cache", log_path=tmp_path / "streamlit.log", extra_env=env, **kw)


def _pick_umap(page) -> None:
    page.locator('[data-testid="stButtonGroup"] button', has_text="UMAP").first.click()


@pytest.mark.skipif(not MNIST_RAW.is_dir(), reason=f"MNIST not at {MNIST_RAW}")
def test_umap_progress_keeps_the_map_still_and_ticks(browser, tmp_path):
    """mnist-conv-z16 with 1,000 points: the shipped maps are for 10,000, so UMAP really runs."""
    srv = _server(tmp_path, extra_env={"VAE_DATA_ROOT": str(MNIST_RAW.parent.parent)})
    ctx = browser.new_context(viewport={"width": 1400, "height": 950})
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    try:
        srv.start()
        page.goto(srv.url + "/?ckpt=mnist-conv-z16")
        wait_for_app_run(page)
        wait_for_map(page, ready=False)
        open_popover(page, "Data:")  # the sidebar's data settings
        thumb = page.get_by_test_id("stPopoverBody").locator(
            '[data-testid="stSlider"] input[type="range"]')
        thumb.first.focus()
        page.keyboard.press("Home")  # "Points on the map": 1,000
        page.wait_for_selector('.lm-root[data-key="latent_map"][data-points="1000"]',
                               state="attached")
        wait_for_app_run(page)
        top = _map_top(page)
        _pick_umap(page)
        page.wait_for_selector(PROGRESS)
        first = page.locator(PROGRESS).inner_text()
        tops, texts = [_map_top(page)], [first]
        assert tops == [top], "the progress bar pushed the map down"
        assert re.search(r"\d+ s", first), first  # seconds in the stage: it works
        page.wait_for_function(  # the text moves on (the seconds tick) while the bar runs
            "t => { const p = [...document.querySelectorAll('[data-testid=\"stProgress\"]')]"
            "         .find(e => e.innerText.includes('Computing UMAP'));"
            "       return !p || p.innerText !== t; }", arg=first)
        if page.locator(PROGRESS).count():
            texts.append(page.locator(PROGRESS).inner_text())
            tops.append(_map_top(page))
        assert len(set(texts)) == 2, texts
        page.wait_for_selector(PROGRESS, state="detached", timeout=300_000)
        wait_for_app_run(page)
        page.get_by_text("map: UMAP 1, UMAP 2").wait_for()
        tops.append(_map_top(page))
        assert tops == [top] * len(tops), (top, tops)
    finally:
        ctx.close()
        srv.stop()
    assert not list((tmp_path / "tmp").glob("vae-proj-*"))


def test_stopping_the_server_leaves_no_worker_folders(browser, tmp_path):
    """A UMAP still running when the server stops: its worker and its folder go too."""
    sys.path.insert(0, str(REPO / "tests"))
    from _explorer_helpers import make_checkpoint

    ck_dir = tmp_path / "checkpoints"
    ck_dir.mkdir()
    make_checkpoint(ck_dir / "shapes-conv-z5.safetensors", latent_dim=5)
    srv = _server(tmp_path, checkpoint_dir=ck_dir)
    ctx = browser.new_context(viewport={"width": 1400, "height": 950})
    page = ctx.new_page()
    page.set_default_timeout(120_000)
    try:
        srv.start()
        page.goto(srv.url + "/?ckpt=shapes-conv-z5")
        wait_for_app_run(page)
        wait_for_map(page, ready=False)
        _pick_umap(page)
        page.wait_for_selector(PROGRESS)
        assert list((tmp_path / "tmp").glob("vae-proj-umap-*")), "the worker's folder exists"
    finally:
        ctx.close()
        srv.stop()
    assert srv.proc.returncode is not None
    assert not list((tmp_path / "tmp").glob("vae-proj-*"))
