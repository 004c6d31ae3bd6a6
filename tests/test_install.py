"""`pip install .`: the two console scripts work from another folder, on the files the install
shipped (checkpoints, component files, Streamlit settings), without the source tree.

The install goes over this test environment with `--no-deps --no-build-isolation --target`, so
nothing is downloaded; it builds from a copy of the source tree (setuptools writes build/ there).
"""
from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "e2e"))
import harness  # noqa: E402

from vae_explorer import cli  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "__pycache__", "build", "*.egg-info",
                                     ".pytest_cache", "runs", ".data", ".cache", "bench", "tests")


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_pyproject_pins_are_requirements_txt():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = _pins(project["dependencies"] + project["optional-dependencies"]["test"])
    assert declared == _pins((REPO / "requirements.txt").read_text().splitlines())
    assert set(_pins(project["optional-dependencies"]["test"])) == {"pytest", "playwright"}


def test_config_toml_becomes_flags_and_the_users_options_come_last():
    argv = cli.streamlit_argv(["--server.address", "0.0.0.0"])
    assert argv[:3] == ["streamlit", "run", str(REPO / "vae_explorer" / "app.py")]
    assert "--server.address=127.0.0.1" in argv and "--server.maxUploadSize=64" in argv
    assert "--server.headless=true" in argv and "--theme.primaryColor=#1f5fbf" in argv
    assert argv[-2:] == ["--server.address", "0.0.0.0"]  # click keeps the last value given


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(site folder, bin folder, env) of an install into a temporary folder."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=_NOT_SOURCE, symlinks=True)
    site = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--disable-pip-version-check",
                    "--target", str(site), str(src)], check=True, capture_output=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if k not in ("VAE_EXPLORER_CHECKPOINTS",
                                                             "VAE_EXPLORER_SHIPPED_CACHE")}
    env["PYTHONPATH"] = str(site)  # the test environment's packages, then the installed project
    env["VAE_EXPLORER_CACHE"] = str(tmp / "cache")
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return site, site / "bin", env, elsewhere


@pytest.mark.slow
def test_installed_package_holds_its_files_and_no_generic_names(installed):
    site, _, env, elsewhere = installed
    top = {p.name for p in site.iterdir() if not p.name.endswith(".dist-info")}
    assert top == {"bin", "vae_explorer", "vae_training"}
    pkg = site / "vae_explorer"
    assert (pkg / "shipped" / "shapes-conv-z2.safetensors").is_file()
    assert {p.name for p in (pkg / "shipped" / "cache").glob("*.npz")} == \
        {p.name for p in (REPO / "checkpoints" / "cache").glob("*.npz")}
    assert (pkg / "components" / "latent_map" / "entry.js").is_file()
    assert (pkg / "views" / "map.py").is_file() and (pkg / "settings" / "config.toml").is_file()
    out = subprocess.run([sys.executable, "-c", "from vae_explorer import paths, checkpoints; "
                          "print(paths.STREAMLIT_CONFIG); print(checkpoints.default_checkpoint())"],
                         cwd=elsewhere, env=env, check=True, capture_output=True, text=True)
    assert out.stdout.split() == [str(pkg / "settings" / "config.toml"),
                                  str(pkg / "shipped" / "shapes-conv-z2.safetensors")]


@pytest.mark.slow
def test_vae_train_runs_from_another_folder(installed):
    _, bin_dir, env, elsewhere = installed
    run = lambda *args: subprocess.run([str(bin_dir / "vae-train"), *args], cwd=elsewhere, env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=600)
    helped = run("--help")
    assert helped.returncode == 0 and "--latent-dim" in helped.stdout
    trained = run("--dataset", "shapes", "--arch", "conv", "--latent-dim", "2", "--epochs", "1",
                  "--limit-train", "256", "--limit-test", "128", "--no-progress", "--no-images",
                  "--threads", "1", "--out", "run")
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert (elsewhere / "run" / "model.safetensors").stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.skipif(harness.chromium_missing_reason() is not None,
                    reason=str(harness.chromium_missing_reason()))
def _open_in_browser(url: str) -> tuple[str, str]:
    """The checkpoint picked in the sidebar and the uploader's text, from a real Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = harness.launch_browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.set_default_timeout(120_000)
        page.goto(url)
        harness.wait_for_app_run(page)
        harness.wait_for_map(page)
        picked = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.inner_html()
        page.locator('[data-testid="stSidebar"] label', has_text="Upload").first.click()
        uploader = page.locator('[data-testid="stSidebar"] [data-testid="stFileUploader"]')
        uploader.wait_for()
        upload_text = uploader.inner_text()
        browser.close()
    return picked, upload_text


def test_vae_explorer_serves_the_shipped_default_from_another_folder(installed, tmp_path):
    _, bin_dir, env, elsewhere = installed
    server = harness.AppServer(tmp_path, log_path=tmp_path / "streamlit.log")
    server.proc = subprocess.Popen(
        [str(bin_dir / "vae-explorer"), "--server.port", str(server.port),
         "--server.fileWatcherType", "none"],
        cwd=elsewhere, env=env, stdout=open(server.log_path, "wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        server.wait_healthy(120)
        with urllib.request.urlopen(server.url + "/") as r:
            assert r.status == 200 and b"<noscript>" in r.read()
        # in a thread of its own: the browser tests' session-wide Playwright keeps an event
        # loop running in this one, where a second sync_playwright() refuses to start
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            picked, upload_text = pool.submit(_open_in_browser, server.url).result()
    finally:
        server.stop()
    assert "shapes-conv-z2.safetensors" in picked
    assert "(max 64 MB)" in upload_text and re.search(r"64\s*MB per file", upload_text), upload_text
    log = server.log_path.read_text()
    assert f"URL: http://127.0.0.1:{server.port}" in log and "Network URL" not in log, log
