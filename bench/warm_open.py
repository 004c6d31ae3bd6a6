"""Warm open against Streamlit's own floor, in one run (issue 12's target: <= 1.3x). Not a test.

    .venv/bin/python bench/warm_open.py              # 5 rounds
    .venv/bin/python bench/warm_open.py --rounds 8

One round is, alternately:
  floor  a one-line Streamlit app (`import streamlit as st; st.write("hi")`):
         process start -> "hi" in the page;
  app    `streamlit run vae_explorer/app.py` (no flags, the shipped default checkpoint):
         process start -> ready = every atlas decoded (the component's data-ready) AND a hovered
         point's original and reconstruction on screen: as soon as the points are drawn the
         mouse goes onto an isolated point, as a user's would, and its images show once decoded.
Both moments are taken in the page (performance.now() after navigation start, added to when
navigation began): the floor's by a MutationObserver, the app's by the map itself
(stats.pointsAt, readyAt, hoverImagesAt). Until 2026-12-05 evening they were taken when
Playwright's polling noticed them, which charged the app ~8 round trips to the page after its
atlases (mouse moves, evaluations: 0.1-0.3 s while the controls' rerun drew) against the
floor's one; that figure is still printed ("seen", and its own ratio).
Each run is a new server process on a new port, a new browser context (made before the server
starts, so browser set-up is not counted), the same Chromium. The app's disk cache is warmed by
two unmeasured opens first (a temporary $VAE_EXPLORER_CACHE; the shipped cache is read as usual),
each kept open until the server is idle (its background jobs done and their files written:
stopped earlier, the measured rounds computed the rest); the second, a first render on a full
cache, is what vae_explorer.firstpaint records for later new tabs on the default link. It prints
what the cache then holds.
Prints every run, median, min-max, the ratio of medians and `uptime` before and after, and the
CPU seconds the browser's processes used from navigation to the end of each run ("brw cpu"):
on a loaded machine wall times cannot tell 0.1-0.3 s apart, CPU seconds still can. For the app
also the browser's CPU seconds until its points were drawn ("b@pts") and its atlases decoded
("b@rdy"), and when the sidebar's first widget appeared ("ctrls", process start ->): a
session's first map render comes without its controls, which the next run brings
(vae_explorer.modelstart.first_render_staged), so they may come after the map is ready.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "e2e"))
import harness  # noqa: E402

FLOOR_APP = 'import streamlit as st\nst.write("hi")\n'
VIEWPORT = {"width": 1400, "height": 950}


class BareServer(harness.AppServer):
    """`streamlit run SCRIPT --server.port N` and nothing else, as a user types it (the repo's
    .streamlit/config.toml applies to both apps: same working folder), unlike the tests'
    AppServer, which also turns the file watcher off. `flags`: more, to compare."""

    flags: list[str] = []
    root: Path = REPO  # the checkout it runs in (its .streamlit/config.toml applies)

    def start(self, timeout: float = 90) -> "BareServer":
        cmd = [sys.executable, "-m", "streamlit", "run", str(self.script),
               "--server.port", str(self.port), *self.flags]
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        # Every 10 ms: at the tests' 0.1 s the navigation, so both totals, started up to 0.1 s
        # after the server was up, by chance (runs read healthy 0.51 or 0.61 s).
        self.wait_healthy(timeout, poll=0.01)
        return self


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the server process has used: less sensitive to other load
    than wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load1() -> float:
    return os.getloadavg()[0]


def others_busy() -> float:
    """Cores kept busy between two runs (none of ours running; the idle browser aside): what
    other processes do. The load average cannot say it: it counts the runs' own server and
    Chromium (0.5-2.0 here on an otherwise idle machine) and lags by a minute."""
    from vae_training.system import busy_cores

    return busy_cores(0.5)


def group_cpu_s(pgid: int) -> float:
    """CPU seconds of every live process in the server's process group (the server started its
    own session: projection workers included)."""
    total = 0.0
    for d in Path("/proc").glob("[0-9]*"):
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _proc_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds, command line) of every live process."""
    out = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (d / "cmdline").read_bytes().decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        out[int(d.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12]))
                            / os.sysconf("SC_CLK_TCK"), cmd)
    return out


def chromium_pid() -> int | None:
    """The pid of the Chromium this process launched (Playwright: this process -> its node
    driver -> chromium --remote-debugging-pipe), None if not found."""
    procs, me = _proc_table(), os.getpid()
    for pid, (ppid, _, cmd) in procs.items():
        if "--remote-debugging-pipe" in cmd and procs.get(ppid, (0,))[0] == me:
            return pid
    return None


def tree_cpu_s(root: int | None) -> float:
    """CPU seconds of a process and its live descendants: for Chromium, the browser, GPU and
    renderer processes. Unlike wall time it hardly moves with other load on the machine (what
    the browser does, not how long it waited for a core)."""
    if root is None:
        return float("nan")
    procs = _proc_table()
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += procs.get(pid, (0, 0.0))[1]
        todo += kids.get(pid, [])
    return total


def cache_files(cache: Path) -> dict[str, int]:
    """The disk cache's arrays and the recorded first render (vae_explorer.firstpaint)."""
    return {p.name: p.stat().st_size for p in [*cache.glob("*.npz"), *cache.glob("*.bin")]}


IDLE_CPU_S = 0.05  # server CPU seconds per second below which it counts as idle
IDLE_FOR_S = 3.0


def wait_until_idle(pid: int, cache: Path, timeout: float = 600) -> float:
    """Seconds until the server has been idle for IDLE_FOR_S: its process group used under
    IDLE_CPU_S CPU seconds a second and no cache file appeared or changed (its background jobs,
    model load, reconstructions, per-point figures, have finished and written their files)."""
    t0 = time.perf_counter()
    quiet_since = None
    cpu, files = group_cpu_s(pid), cache_files(cache)
    while time.perf_counter() - t0 < timeout:
        time.sleep(0.5)
        cpu2, files2 = group_cpu_s(pid), cache_files(cache)
        busy = cpu2 - cpu > IDLE_CPU_S * 0.5 or files2 != files
        cpu, files = cpu2, files2
        now = time.perf_counter()
        quiet_since = None if busy else (quiet_since or now)
        if quiet_since is not None and now - quiet_since >= IDLE_FOR_S:
            return now - t0
    raise TimeoutError(f"the server was still busy after {timeout:.0f} s")


def cache_summary(cache: Path) -> str:
    """What the cache holds, by kind: <what> in vae_explorer.cache's file names,
    <16 characters of the key>-<what>-<20 hex>.npz."""
    kinds: dict[str, list[int]] = {}
    for name, size in cache_files(cache).items():
        m = re.match(r"^.{16}-(.+)-[0-9a-f]{20}\.npz$", name)
        kinds.setdefault(m.group(1) if m else name, []).append(size)
    return ", ".join(f"{w} x{len(v)} ({sum(v) / 2**20:.1f} MB)" for w, v in sorted(kinds.items())) \
        or "nothing"


# When "hi" is in the page (performance.now(): ms after navigation start).
HI_AT = """new MutationObserver((_, obs) => {
  for (const p of document.querySelectorAll('[data-testid="stMarkdownContainer"] p'))
    if (p.textContent === 'hi') { window.__hiAt = performance.now(); obs.disconnect(); return; }
}).observe(document, {childList: true, subtree: true, characterData: true});"""


def floor_run(browser, script: Path, cache: Path, chromium: int | None = None) -> dict:
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.add_init_script(HI_AT)
    page = ctx.new_page()
    srv = BareServer(cache, script=script)
    try:
        srv.start()
        healthy = time.perf_counter() - srv.started_at
        b0 = tree_cpu_s(chromium)
        nav_at = time.perf_counter() - srv.started_at
        page.goto(srv.url)
        page.get_by_text("hi", exact=True).first.wait_for(timeout=120_000)
        seen = time.perf_counter() - srv.started_at
        return {"total": nav_at + page.evaluate("() => window.__hiAt") / 1000, "seen": seen,
                "healthy": healthy, "cpu": cpu_s(srv.proc.pid),
                "browser_cpu": tree_cpu_s(chromium) - b0}
    finally:
        ctx.close()
        srv.stop()


# When the sidebar's first widget label appears (performance.now(), ms after navigation start).
CONTROLS_AT = """new MutationObserver((_, obs) => {
  if (document.querySelector('[data-testid="stSidebar"] [data-testid="stWidgetLabel"]')) {
    window.__controlsAt = performance.now(); obs.disconnect(); }
}).observe(document, {childList: true, subtree: true});"""


def app_run(browser, cache: Path, log: Path | None = None, root: Path = REPO,
            settle: bool = False, chromium: int | None = None) -> dict:
    """Process start -> points drawn -> a hover image shown, with the times in between.
    settle: then wait until the server is idle (the warm-up open: what a measured open would
    otherwise compute is in the cache before the rounds), "idle" its seconds after the hover."""
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.add_init_script(CONTROLS_AT)
    page = ctx.new_page()
    srv = BareServer(cache, log_path=log, script=root / "vae_explorer" / "app.py")
    srv.root = root
    try:
        srv.start()
        t0 = srv.started_at
        out = {"healthy": time.perf_counter() - t0}
        b0 = tree_cpu_s(chromium)
        nav_at = time.perf_counter() - t0
        page.goto(srv.url)
        # As a user: the mouse goes onto a point as soon as the points show (the images come
        # when their atlases are decoded); the CPU reading waits until it is there.
        harness.wait_for_map(page, ready=False, timeout=180_000)
        x, y = harness.point_client_xy(page, harness.find_isolated_point(page))
        page.mouse.move(x - 40, y - 40)
        page.mouse.move(round(x), round(y))
        out["browser_cpu_points"] = tree_cpu_s(chromium) - b0
        harness.wait_for_map(page, ready=True, timeout=180_000)
        out["browser_cpu_ready"] = tree_cpu_s(chromium) - b0
        page.wait_for_function("k => window.__latentMaps[k].stats.hoverImagesAt != null",
                               arg="latent_map", timeout=60_000)
        out["seen"] = time.perf_counter() - t0
        out["cpu"] = cpu_s(srv.proc.pid)
        out["browser_cpu"] = tree_cpu_s(chromium) - b0
        st = harness.map_stats(page)
        out["n"] = st["totalPoints"]
        # In-page times (ms after navigation start), as the floor's: the app's own moments,
        # not when Playwright's polling noticed them. Ready: every atlas decoded and the
        # hovered point's original and reconstruction on screen.
        out["points"] = nav_at + st["pointsAt"] / 1000
        out["atlases"] = nav_at + st["readyAt"] / 1000
        out["total"] = nav_at + max(st["readyAt"], st["hoverImagesAt"]) / 1000
        page.wait_for_function("() => window.__controlsAt != null", timeout=60_000)
        out["controls"] = nav_at + page.evaluate("() => window.__controlsAt") / 1000
        if settle:  # the page stays open meanwhile: what it started runs to the end
            out["idle"] = wait_until_idle(srv.proc.pid, cache)
        return out
    finally:
        ctx.close()
        srv.stop()


def _more(run: dict) -> str:
    return (f"{run['browser_cpu_points']:>6.2f} {run['browser_cpu_ready']:>6.2f} "
            f"{run['controls']:>6.2f}")


def fmt(xs: list[float]) -> str:
    return (f"median {statistics.median(xs):.2f} s, min {min(xs):.2f}, max {max(xs):.2f} "
            f"(n={len(xs)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="floor + app runs, alternated")
    ap.add_argument("--log", type=Path, help="keep the app's server log of the last run here")
    ap.add_argument("--compare-with", type=Path, metavar="DIR",
                    help="another checkout of the project (e.g. `git archive OLD | tar -x -C DIR`): "
                         "its app runs too in every round, on its own warmed cache")
    args = ap.parse_args()
    reason = harness.chromium_missing_reason()
    if reason:
        sys.exit(reason)
    if not harness.DEFAULT_CKPT.is_file():
        sys.exit(f"needs the shipped default checkpoint {harness.DEFAULT_CKPT}")
    from playwright.sync_api import sync_playwright
    import streamlit

    print("Warm open vs the one-line-app floor (process start -> ready, Chromium, Playwright)")
    print(f"  streamlit {streamlit.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores; checkpoint {harness.DEFAULT_CKPT.name}")
    print(f"  before: {uptime()}")
    floors, apps, loads, busy, cpus = [], [], [], [], {"floor": [], "app": []}
    bcpus: dict[str, list[float]] = {"floor": [], "app": [], "other": []}
    others: list[float] = []
    runs: dict[str, list[dict]] = {"app": [], "other": []}  # for the medians of _more's columns
    other_cpus: list[float] = []
    seens: dict[str, list[float]] = {"floor": [], "app": [], "other": []}  # Playwright noticed
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        tmp = Path(tmp)
        script = tmp / "floor_app.py"
        script.write_text(FLOOR_APP)
        cache = tmp / "cache"
        cache.mkdir()
        browser = harness.launch_browser(p)
        chromium = chromium_pid()
        try:
            # Two opens each: the first fills the cache; the second, a usual first render on a
            # full cache, is recorded for the next new tabs (vae_explorer.firstpaint), as a
            # teacher's own first look at the app would have done before the class opens it.
            for k in (1, 2):
                w = app_run(browser, cache, settle=True)
                print(f"  warm-up open {k}: {w['total']:.2f} s, {w['n']:,} points; "
                      f"server idle {w['idle']:.1f} s later")
            print(f"    cache: {cache_summary(cache)}")
            if args.compare_with:
                other_cache = tmp / "cache-other"
                other_cache.mkdir()
                for k in (1, 2):
                    o = app_run(browser, other_cache, root=args.compare_with.resolve(),
                                settle=True)
                    print(f"  warm-up open {k} of {args.compare_with}: {o['total']:.2f} s; "
                          f"server idle {o['idle']:.1f} s later")
                print(f"    cache: {cache_summary(other_cache)}")
            print(f"\n  {'round':>5}  {'run':<6} {'total s':>8} {'seen':>6} {'healthy':>8} "
                  f"{'points':>7} {'atlases':>8} {'srv cpu':>8} {'brw cpu':>8} {'load1':>6} "
                  f"{'b@pts':>6} {'b@rdy':>6} {'ctrls':>6}")
            for r in range(1, args.rounds + 1):
                f = floor_run(browser, script, tmp / "floor-cache", chromium)
                floors.append(f["total"])
                seens["floor"].append(f["seen"])
                loads.append(load1())
                busy.append(others_busy())
                cpus["floor"].append(f["cpu"])
                bcpus["floor"].append(f["browser_cpu"])
                print(f"  {r:>5}  {'floor':<6} {f['total']:>8.2f} {f['seen']:>6.2f} "
                      f"{f['healthy']:>8.2f} {'':>7} {'':>8} {f['cpu']:>8.2f} "
                      f"{f['browser_cpu']:>8.2f} {loads[-1]:>6.2f}")
                last = r == args.rounds
                a = app_run(browser, cache, args.log if last else None, chromium=chromium)
                apps.append(a["total"])
                seens["app"].append(a["seen"])
                loads.append(load1())
                busy.append(others_busy())
                cpus["app"].append(a["cpu"])
                bcpus["app"].append(a["browser_cpu"])
                runs["app"].append(a)
                print(f"  {r:>5}  {'app':<6} {a['total']:>8.2f} {a['seen']:>6.2f} "
                      f"{a['healthy']:>8.2f} {a['points']:>7.2f} {a['atlases']:>8.2f} "
                      f"{a['cpu']:>8.2f} {a['browser_cpu']:>8.2f} {loads[-1]:>6.2f} {_more(a)}")
                if args.compare_with:
                    o = app_run(browser, other_cache, root=args.compare_with.resolve(),
                                chromium=chromium)
                    others.append(o["total"])
                    seens["other"].append(o["seen"])
                    other_cpus.append(o["cpu"])
                    bcpus["other"].append(o["browser_cpu"])
                    runs["other"].append(o)
                    loads.append(load1())
                    busy.append(others_busy())
                    print(f"  {r:>5}  {'other':<6} {o['total']:>8.2f} {o['seen']:>6.2f} "
                          f"{o['healthy']:>8.2f} {o['points']:>7.2f} {o['atlases']:>8.2f} "
                          f"{o['cpu']:>8.2f} {o['browser_cpu']:>8.2f} {loads[-1]:>6.2f} {_more(o)}")
        finally:
            browser.close()
    fm, am = statistics.median(floors), statistics.median(apps)
    print(f"\n  after: {uptime()}")
    fc, ac = statistics.median(cpus["floor"]), statistics.median(cpus["app"])
    bc = {k: f"{statistics.median(v):.2f} s ({min(v):.2f}-{max(v):.2f})" if v else "-"
          for k, v in bcpus.items()}
    print("\n  | run | process start -> | median | min-max | n | server CPU (median) | "
          "browser CPU, navigation ->, median (min-max) |")
    print("  |---|---|---|---|---|---|---|")
    print(f"  | one-line app | 'hi' visible | {fm:.2f} s | {min(floors):.2f}-{max(floors):.2f} s "
          f"| {len(floors)} | {fc:.2f} s | {bc['floor']} |")
    print(f"  | explorer, warm | points drawn + hover image | {am:.2f} s | "
          f"{min(apps):.2f}-{max(apps):.2f} s | {len(apps)} | {ac:.2f} s | {bc['app']} |")
    if others:
        om = statistics.median(others)
        print(f"  | explorer, warm, {args.compare_with} | points drawn + hover image | {om:.2f} s | "
              f"{min(others):.2f}-{max(others):.2f} s | {len(others)} | "
              f"{statistics.median(other_cpus):.2f} s | {bc['other']} |")
        print(f"\n  other checkout: {om / fm:.2f}x the floor")

    def spread(which: str, key: str) -> str:
        v = [run[key] for run in runs[which]]
        return f"{statistics.median(v):.2f} s ({min(v):.2f}-{max(v):.2f})"

    print("\n  | run | browser CPU to points drawn | browser CPU to atlases decoded | "
          "controls shown, process start -> |")
    print("  |---|---|---|---|")
    for which, name in (("app", "explorer, warm"),
                        ("other", f"explorer, warm, {args.compare_with}")):
        if runs[which]:
            print(f"  | {name} | {spread(which, 'browser_cpu_points')} | "
                  f"{spread(which, 'browser_cpu_ready')} | {spread(which, 'controls')} |")
    sm = {k: statistics.median(v) for k, v in seens.items() if v}
    other = (f", other {sm['other']:.2f} s = {sm['other'] / sm['floor']:.2f}x" if others else "")
    print(f"\n  as Playwright noticed them (its polling and round trips, the measure before "
          f"2026-12-05 evening): floor {sm['floor']:.2f} s, explorer {sm['app']:.2f} s = "
          f"{sm['app'] / sm['floor']:.2f}x" + other)
    print(f"\n  ratio of medians: {am / fm:.2f}x the floor ({am - fm:+.2f} s); target <= 1.3x; "
          f"1-min load during the runs {min(loads):.1f}-{max(loads):.1f}; cores other processes "
          f"kept busy between runs {min(busy):.2f}-{max(busy):.2f} "
          f"({'LOADED: not a headline figure' if max(busy) > 0.25 else 'idle'})")


if __name__ == "__main__":
    main()
