"""Shared by the browser tests (tests/e2e) and bench/explorer_latency.py: start the explorer as a
subprocess, launch Debian's Chromium through Playwright, wait for Streamlit like its own e2e suite
does, and talk to the latent map's test hooks (window.__latentMaps / __latentMapStats).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("VAE_E2E_CHROMIUM", "/usr/bin/chromium")
DEFAULT_CKPT = REPO / "checkpoints" / "shapes-conv-z2.safetensors"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
# The map lives in a shadow root; Playwright's CSS selectors pierce open shadow roots.
MAP = ".lm-root"


def chromium_missing_reason() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (f"{CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium) "
                "or set VAE_E2E_CHROMIUM")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_small_checkpoint(out_dir: Path, epochs: int = 2) -> Path:
    """Train a tiny shapes conv VAE (z=2) with the project's CLI; ~10 s on 2 cores."""
    out_dir.mkdir(parents=True, exist_ok=True)
    run = out_dir / "run"
    cmd = [sys.executable, "-m", "vae_training", "--dataset", "shapes", "--arch", "conv",
           "--latent-dim", "2", "--epochs", str(epochs), "--limit-train", "3000",
           "--limit-test", "500", "--no-progress", "--no-images", "--threads", "2",
           "--out", str(run), "--overwrite"]
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True, timeout=600)
    src = run / "model.safetensors" if run.is_dir() else run
    dst = out_dir / DEFAULT_CKPT.name
    shutil.copyfile(src, dst)
    return dst


class AppServer:
    """`streamlit run vae_explorer/app.py` on a free port, stopped by pid (and its process group)."""

    def __init__(self, cache_dir: Path, checkpoint_dir: Path | None = None, port: int | None = None,
                 log_path: Path | None = None, extra_env: dict | None = None,
                 script: Path | None = None):
        self.script = Path(script) if script else REPO / "vae_explorer" / "app.py"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env["VAE_EXPLORER_CACHE"] = str(cache_dir)
        if checkpoint_dir is not None:
            env["VAE_EXPLORER_CHECKPOINTS"] = str(checkpoint_dir)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(extra_env or {})
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self, timeout: float = 90) -> "AppServer":
        cmd = [sys.executable, "-m", "streamlit", "run", str(self.script),
               "--server.port", str(self.port), "--server.address", "127.0.0.1",
               "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_healthy(timeout)
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                return r.status == 200 and r.read().strip() == b"ok"
        except OSError:
            return False

    def wait_healthy(self, timeout: float, poll: float = 0.1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; log: {self.log_path}")
            if self.healthy():
                return
            time.sleep(poll)
        raise TimeoutError(f"streamlit not healthy after {timeout} s; log: {self.log_path}")

    def stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)  # the group we created with start_new_session
        except ProcessLookupError:
            return
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def wait_for_app_run(page, timeout: float = 90_000) -> None:
    """Like Streamlit's e2e `wait_for_app_run`: the app exists and its script is not running;
    and not a session's first map render, whose controls come with the next run (the map's
    ready trigger's: vae_explorer.modelstart.first_render_staged; their place is held by an
    element with a class st-key-controls_pending_… until then); and every element drawn: a
    widget whose code is still loading shows as a skeleton (stSkeleton) after its run ended."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_function(
        """() => { const a = document.querySelector('[data-testid="stApp"]');
                  return a && a.getAttribute('data-test-script-state') === 'notRunning'
                    && !document.querySelector('[class*="st-key-controls_pending"]')
                    && !document.querySelector('[data-testid="stSkeleton"]'); }""",
        timeout=timeout)


def open_popover(page, label_part: str):
    """Open the popover whose button's label contains label_part: Streamlit mounts its body only
    then (the map page's "Find, neighbours…", the sidebar's "Data: …"). Returns the body."""
    page.get_by_test_id("stPopoverButton").filter(has_text=label_part).click()
    body = page.get_by_test_id("stPopoverBody")
    body.wait_for()
    return body


def wait_for_map(page, key: str = "latent_map", timeout: float = 120_000, ready: bool = True):
    """Wait until the map with this key has drawn its points (and decoded its atlases), in an
    element of the latest run: while a rerun is under way (a choice just made) the previous
    run's map is still on the page, marked stale, and may hold other points."""
    page.wait_for_function(
        """([k, ready]) => {
             const fresh = r => { for (let n = r; n; n = n.parentNode || n.host)
                                    if (n.getAttribute && n.getAttribute('data-stale') === 'true')
                                      return false;
                                  return true; };
             const m = window.__latentMaps && window.__latentMaps[k];
             const r = m && m.instance && m.instance.root;
             return !!r && r.isConnected && r.hasAttribute('data-points')
                    && (!ready || r.getAttribute('data-ready') === '1') && fresh(r); }""",
        arg=[key, ready], timeout=timeout)
    return page.locator(f'{MAP}[data-key="{key}"]')


def map_stats(page, key: str = "latent_map") -> dict:
    return page.evaluate("k => JSON.parse(JSON.stringify(window.__latentMaps[k].stats))", key)


def point_client_xy(page, i: int, key: str = "latent_map") -> tuple[float, float]:
    x, y = page.evaluate("([k, i]) => window.__latentMaps[k].project(i)", [key, i])
    return x, y


def all_client_xy(page, key: str = "latent_map") -> list[list[float]]:
    """Every point's position on the page, in the map's own projection."""
    return page.evaluate("k => { const a = window.__latentMaps[k], n = a.instance.points.n, out = [];"
                         " for (let i = 0; i < n; i++) out.push(a.project(i)); return out; }", key)


def plot_box(page, fx0, fy0, fx1, fy1, key: str = "latent_map") -> tuple[float, ...]:
    """Client rectangle at fractions of the map's plot area."""
    return tuple(page.evaluate("""([k, a, b, c, d]) => { const m = window.__latentMaps[k].instance,
        r = m.plotRect(), o = m.overlay.getBoundingClientRect();
        return [o.left + r.x + a * r.w, o.top + r.y + b * r.h, o.left + r.x + c * r.w,
                o.top + r.y + d * r.h]; }""", [key, fx0, fy0, fx1, fy1]))


def open_map(page, app_server, path: str = "/"):
    """Open the app at path and wait until its map is ready."""
    page.goto(app_server.url + path)
    wait_for_app_run(page)
    return wait_for_map(page)


def find_isolated_point(page, key: str = "latent_map", clearance_px: float = 9,
                        skip: tuple[int, ...] = ()) -> int:
    """Index of a drawn point with no other visible point within clearance_px on screen, so that
    hovering it is unambiguous (falls back to a point that is at least its own nearest); none of
    ``skip``."""
    return page.evaluate(
        """([k, c, skip]) => { const m = window.__latentMaps[k].instance, p = m.points;
                  const r = m.plotRect();
                  let fallback = -1;
                  for (let i = 0; i < p.n; i++) {
                    if (skip.includes(i)) continue;
                    const px = m.dx(p.xy[2*i]), py = m.dy(p.xy[2*i+1]);
                    if (px < r.x + 12 || px > r.x + r.w - 12 || py < r.y + 12 || py > r.y + r.h - 12) continue;
                    if (m.nearest(px, py) !== i) continue;
                    if (fallback < 0) fallback = i;
                    let alone = true;
                    for (const [ox, oy] of [[c, 0], [-c, 0], [0, c], [0, -c], [c, c], [-c, -c], [c, -c], [-c, c]]) {
                      const j = m.nearest(px + ox * 0.7, py + oy * 0.7);
                      if (j >= 0 && j !== i) { alone = false; break; } }
                    if (alone) return i; }
                  return Math.max(0, fallback); }""", [key, clearance_px, list(skip)])


def hover_point(page, i: int, key: str = "latent_map", timeout: float = 10_000) -> int:
    """Move the mouse onto point i; return the index the map reports as hovered."""
    x, y = point_client_xy(page, i, key)
    page.mouse.move(x - 40, y - 40)
    page.mouse.move(round(x), round(y))
    page.wait_for_function(
        "k => window.__latentMaps[k].stats.hoverKind === 'point'", arg=key, timeout=timeout)
    return map_stats(page, key)["hoverIndex"]


def find_empty_spot(page, key: str = "latent_map") -> tuple[float, float] | None:
    """Client coordinates of a spot inside the decoded grid with no data point near it."""
    return page.evaluate(
        """k => { const m = window.__latentMaps[k].instance, r = m.plotRect();
                  const box = m.overlay.getBoundingClientRect();
                  for (let fy = 0.05; fy < 1; fy += 0.05) for (let fx = 0.05; fx < 1; fx += 0.05) {
                    const px = r.x + fx * r.w, py = r.y + fy * r.h;
                    if (m.nearest(px, py) >= 0) continue;
                    if (!m.gridCell(m.ix(px), m.iy(py))) continue;
                    return [box.left + px, box.top + py]; }
                  return null; }""", key)


def slot_pixels_varied(page, slot: int = 0, key: str = "latent_map") -> bool:
    """Whether hover image `slot` shows an image (its pixels are not all the same)."""
    return page.evaluate(
        """([k, s]) => { const c = window.__latentMaps[k].instance.slots[s].cv;
                         if (!c.width) return false;
                         const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                         for (let i = 4; i < d.length; i += 4) if (d[i] !== d[0]) return true;
                         return false; }""", [key, slot])
