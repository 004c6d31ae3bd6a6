"""Fixtures for the browser tests: one explorer server per session, Debian's Chromium.

The server runs `streamlit run vae_explorer/app.py` with an empty cache (VAE_EXPLORER_CACHE in a temp
dir). It opens the shipped default checkpoint (checkpoints/shapes-conv-z2.safetensors); while that
file is absent, a tiny one is trained here (~10 s) and the app is pointed at it with
VAE_EXPLORER_CHECKPOINTS.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402

_REASON = harness.chromium_missing_reason()


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
            if _REASON:
                item.add_marker(pytest.mark.skip(reason=_REASON))


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory):
    """None when the shipped default checkpoint exists, else a folder with a tiny one."""
    if harness.DEFAULT_CKPT.is_file():
        return None
    d = tmp_path_factory.mktemp("checkpoints")
    harness.make_small_checkpoint(d)
    return d


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, checkpoint_dir):
    cache = tmp_path_factory.mktemp("explorer-cache")
    log = tmp_path_factory.mktemp("logs") / "streamlit.log"
    srv = harness.AppServer(cache, checkpoint_dir, log_path=log)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = harness.launch_browser(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    ctx = browser.new_context(viewport={"width": 1400, "height": 950})
    pg = ctx.new_page()
    pg.set_default_timeout(90_000)
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        out = Path(request.config.rootpath) / ".pytest_cache" / "e2e-failures"
        out.mkdir(parents=True, exist_ok=True)
        try:
            pg.screenshot(path=str(out / f"{request.node.name}.png"), full_page=True)
        except Exception:
            pass
    ctx.close()
    assert not [e for e in errors if "latent" in e.lower()], errors


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
