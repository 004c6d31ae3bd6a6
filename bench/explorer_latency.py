"""Explorer latency in a real browser (Playwright + Debian's Chromium). Prints figures; not a test.

    .venv/bin/python bench/explorer_latency.py            # all parts
    .venv/bin/python bench/explorer_latency.py --skip-70k

Measures
  1. process start -> interactive latent map (points drawn + image atlases decoded), with an
     empty explorer cache (cold: the dataset sample is encoded) and with the cache from run 1
     (warm: new server process, new browser context). First the default view (shapes test split,
     5k images), then "Train + test" on, which makes the map 10k points.
  2. hover latency on the 10k map: data point -> original + reconstruction, and empty space ->
     image decoded at the cursor; from the component's own timers (handler start -> image drawn,
     input event -> image drawn, input event -> start of next frame) and end to end from
     Playwright (mouse.move call until the page reports the hover).
  3. 70k points (the component's demo app, synthetic data, 28x28 images): draw time, time to the
     map, hover latency, bytes sent.

Uses checkpoints/shapes-conv-z2.safetensors if present, else trains a tiny one (~10 s).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))
import harness  # noqa: E402


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def chromium_version() -> str:
    try:
        return subprocess.run([harness.CHROMIUM, "--version"], capture_output=True, text=True,
                              timeout=20).stdout.strip()
    except Exception:
        return "?"


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def summary(xs) -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/a"
    return f"median {statistics.median(xs):.2f} ms, p95 {q(xs, 0.95):.2f} ms, max {max(xs):.2f} ms (n={len(xs)})"


def wait_points(page, n: int | None, key="latent_map", timeout=180_000):
    cond = ("([k, n]) => { const m = window.__latentMaps && window.__latentMaps[k];"
            " const r = m && m.instance.root; return !!r && r.getAttribute('data-ready') === '1'"
            " && (n === null || m.stats.totalPoints === n); }")
    page.wait_for_function(cond, arg=[key, n], timeout=timeout, polling=50)


def open_app(browser, ctx, page, srv: harness.AppServer, both: bool) -> dict:
    """ctx/page are made before the server starts, so that browser set-up is not counted."""
    out = {}
    t_goto = time.perf_counter()
    page.goto(srv.url)
    out["page_loaded_s"] = time.perf_counter() - t_goto
    page.wait_for_selector('[data-testid="stSidebar"] [data-testid="stSelectbox"]', timeout=180_000)
    out["first_widgets_s"] = time.perf_counter() - t_goto
    wait_points(page, None)
    out["default_map_s"] = time.perf_counter() - srv.started_at
    out["goto_to_map_s"] = time.perf_counter() - t_goto
    out["browser_side"] = page.evaluate(
        "() => { const s = window.__latentMaps.latent_map.stats;"
        " return [s.firstUpdateAt, s.readyAt, s.drawMs]; }")
    out["default_points"] = harness.map_stats(page)["totalPoints"]
    if both:
        harness.wait_for_app_run(page)
        slider = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"] input').first
        options = slider.get_attribute("max")
        t = time.perf_counter()
        page.locator('[data-testid="stSidebar"]').get_by_text("Train + test").click()
        # The toggle keeps "Points on the map" at 5,000 (still an option), so the map stays 5k:
        # once the slider offers the train+test sizes, one step right is 10,000.
        page.wait_for_function(
            "m => { const e = document.querySelector("
            "'[data-testid=\"stSidebar\"] [data-testid=\"stSlider\"] input');"
            " return e && e.getAttribute('max') !== m; }", arg=options, timeout=180_000)
        slider.focus()
        page.keyboard.press("ArrowRight")
        wait_points(page, 10_000)
        out["to_10k_after_toggle_s"] = time.perf_counter() - t
        out["map_10k_s"] = time.perf_counter() - srv.started_at
    out["page"], out["ctx"] = page, ctx
    if not both:
        return out
    # A second browser session on the same, already running server (the classroom case).
    ctx2 = browser.new_context(viewport={"width": 1400, "height": 950})
    p2 = ctx2.new_page()
    t = time.perf_counter()
    p2.goto(srv.url)
    wait_points(p2, None)
    out["second_session_s"] = time.perf_counter() - t
    ctx2.close()
    return out


def hover_series(page, key="latent_map", n=40) -> dict:
    """Hover n isolated data points and n empty spots; collect the component's timers."""
    res = {"point": [], "point_event": [], "point_frame": [], "point_e2e": [],
           "grid": [], "grid_event": [], "grid_frame": [], "grid_e2e": []}
    pts = page.evaluate(
        """([k, n]) => { const m = window.__latentMaps[k].instance, p = m.points, r = m.plotRect();
              const out = [];
              for (let i = 0; i < p.n && out.length < n; i += Math.max(1, Math.floor(p.n / (4 * n)))) {
                const px = m.dx(p.xy[2*i]), py = m.dy(p.xy[2*i+1]);
                if (px < r.x + 8 || px > r.x + r.w - 8 || py < r.y + 8 || py > r.y + r.h - 8) continue;
                if (m.nearest(px, py) === i) out.push(i); }
              return out; }""", [key, n])
    empties = page.evaluate(
        """([k, n]) => { const m = window.__latentMaps[k].instance, r = m.plotRect(), out = [];
              const box = m.overlay.getBoundingClientRect();
              for (let fy = 0.03; fy < 1 && out.length < n; fy += 0.047)
                for (let fx = 0.03; fx < 1 && out.length < n; fx += 0.047) {
                  const px = r.x + fx * r.w, py = r.y + fy * r.h;
                  if (m.nearest(px, py) >= 0 || !m.gridCell(m.ix(px), m.iy(py))) continue;
                  out.push([box.left + px, box.top + py]); }
              return out; }""", [key, n])

    def one(x, y, kind):
        before = page.evaluate("k => window.__latentMaps[k].stats.hoverCount || 0", key)
        t = time.perf_counter()
        page.mouse.move(x, y)
        page.wait_for_function("([k, c]) => (window.__latentMaps[k].stats.hoverCount || 0) > c",
                               arg=[key, before], polling="raf", timeout=5000)
        e2e = (time.perf_counter() - t) * 1000
        page.wait_for_timeout(40)  # let the next frame run (hoverFrameMs)
        s = harness.map_stats(page, key)
        if s["hoverKind"] != kind:
            return
        res[kind].append(s["hoverMs"])
        res[kind + "_event"].append(s["hoverEventMs"])
        res[kind + "_frame"].append(s.get("hoverFrameMs"))
        res[kind + "_e2e"].append(e2e)

    for i in pts:
        x, y = harness.point_client_xy(page, i, key)
        one(round(x), round(y), "point")
        page.mouse.move(5, 5)
    for x, y in empties:
        one(x, y, "grid")
        page.mouse.move(5, 5)
    return res


def print_hover(res: dict, indent="  "):
    print(f"{indent}data point -> original + reconstruction:")
    print(f"{indent}  handler start -> image drawn : {summary(res['point'])}")
    print(f"{indent}  input event   -> image drawn : {summary(res['point_event'])}")
    print(f"{indent}  input event   -> next frame  : {summary(res['point_frame'])}")
    print(f"{indent}  Playwright mouse.move -> hover reported: {summary(res['point_e2e'])}")
    print(f"{indent}empty space -> decoded at cursor (grid atlas):")
    print(f"{indent}  handler start -> image drawn : {summary(res['grid'])}")
    print(f"{indent}  input event   -> image drawn : {summary(res['grid_event'])}")
    print(f"{indent}  input event   -> next frame  : {summary(res['grid_frame'])}")
    print(f"{indent}  Playwright mouse.move -> hover reported: {summary(res['grid_e2e'])}")


def redraw_ms(page, key="latent_map", n=10) -> list[float]:
    return page.evaluate(
        """([k, n]) => { const m = window.__latentMaps[k].instance, out = [];
              for (let i = 0; i < n; i++) { m.drawPoints(); out.push(m.stats.drawMs); }
              return out; }""", [key, n])


def demo_70k(browser, n=70_000):
    log = Path(tempfile.gettempdir()) / "latent_map_demo_bench.log"
    srv = harness.AppServer(Path(tempfile.gettempdir()) / "vae-demo-cache", log_path=log,
                            script=REPO / "vae_explorer" / "components" / "latent_map" / "demo.py")
    srv.start()
    try:
        out = {}
        for label in ("first session (data generated + atlases encoded)",
                      "second session (encoded payloads cached in the server)"):
            ctx = browser.new_context(viewport={"width": 1400, "height": 950})
            page = ctx.new_page()
            t = time.perf_counter()
            page.goto(f"{srv.url}/?n={n}")
            wait_points(page, n, key="demo_map")
            out[label] = time.perf_counter() - t
            s = harness.map_stats(page, "demo_map")
            out["first_draw_ms"] = s["drawMs"]
            ctx_page = (ctx, page)
        ctx, page = ctx_page
        out["redraw"] = redraw_ms(page, "demo_map")
        out["hover"] = hover_series(page, "demo_map", n=30)
        out["decode"] = page.evaluate(
            "() => [...window.__latentMapStore.values()].filter(e => e.value && e.value.decodeMs)"
            ".map(e => [e.value.count, e.value.pages.length, e.value.decodeMs])")
        page.get_by_text("python timing").first.wait_for()
        out["python"] = page.get_by_text("python timing").first.inner_text()
        ctx.close()
        return out
    finally:
        srv.stop()


FLOOR_APP = "import streamlit as st\nst.title('floor')\n"


def direct_open(browser, cache: Path, ckpt: str, n: int, data_root: str) -> float:
    """Process start -> map of n points ready, for a checkpoint named in the URL."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 950})
    page = ctx.new_page()
    srv = harness.AppServer(cache, extra_env={"VAE_DATA_ROOT": data_root})
    srv.start()
    try:
        page.goto(f"{srv.url}/?ckpt={ckpt}")
        wait_points(page, n)
        return time.perf_counter() - srv.started_at
    finally:
        ctx.close()
        srv.stop()


def streamlit_floor(browser, tmp: Path) -> float:
    """Process start -> title visible for a one-line Streamlit app: what any app costs here."""
    script = tmp / "floor_app.py"
    script.write_text(FLOOR_APP)
    ctx = browser.new_context(viewport={"width": 1400, "height": 950})
    page = ctx.new_page()
    srv = harness.AppServer(tmp / "floor-cache", script=script)
    srv.start()
    try:
        page.goto(srv.url)
        page.get_by_text("floor").first.wait_for(timeout=60_000)
        return time.perf_counter() - srv.started_at
    finally:
        ctx.close()
        srv.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-70k", action="store_true")
    ap.add_argument("--skip-app", action="store_true")
    ap.add_argument("--repeat", type=int, default=3,
                    help="warm opens (and one-line-app floors) to run; medians are printed")
    args = ap.parse_args()
    reason = harness.chromium_missing_reason()
    if reason:
        sys.exit(reason)
    from playwright.sync_api import sync_playwright
    import streamlit

    print("Explorer latency benchmark")
    print(f"  machine : {cpu_name()}, {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, no GPU use")
    print(f"  browser : {chromium_version()} (headless, --disable-gpu), Playwright; "
          f"streamlit {streamlit.__version__}, Python {platform.python_version()}")

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        tmp = Path(tmp)
        browser = harness.launch_browser(p)
        if not args.skip_app:
            ckdir = None
            if harness.DEFAULT_CKPT.is_file():
                print(f"  checkpoint: {harness.DEFAULT_CKPT.relative_to(REPO)} (shipped)")
            else:
                ckdir = tmp / "ck"
                harness.make_small_checkpoint(ckdir)
                print("  checkpoint: tiny shapes conv z=2 trained for this run (no shipped one yet)")
            cache = tmp / "cache"
            cache.mkdir()
            floors, warm_opens = [], []
            for _ in range(max(1, args.repeat)):
                floors.append(streamlit_floor(browser, tmp))
            print(f"\n[floor] one-line Streamlit app (st.title), process start -> title visible: "
                  f"{', '.join(f'{f:.2f}' for f in floors)} s (median {statistics.median(floors):.2f})")
            for label in ("cold (empty cache)", "warm (cache hit)"):
                ctx = browser.new_context(viewport={"width": 1400, "height": 950})
                page = ctx.new_page()
                srv = harness.AppServer(cache, ckdir, log_path=tmp / f"app-{label[:4]}.log")
                srv.start()
                health = time.perf_counter() - srv.started_at
                try:
                    r = open_app(browser, ctx, page, srv, both=True)
                    print(f"\n[{label}] streamlit healthy after {health:.2f} s")
                    print(f"  process start -> default map ({r['default_points']:,} pts, images ready): "
                          f"{r['default_map_s']:.2f} s")
                    fu, ra, dm = r["browser_side"]
                    print(f"    of which: page load {r['page_loaded_s']:.2f} s; navigation -> first widgets "
                          f"{r['first_widgets_s']:.2f} s (Python imports, checkpoint, data); navigation -> "
                          f"map data arrives {fu / 1000:.2f} s; -> points drawn + atlases decoded "
                          f"{ra / 1000:.2f} s (draw {dm:.0f} ms)")
                    print(f"  'Train + test' toggled -> 10k map ready: {r['to_10k_after_toggle_s']:.2f} s")
                    print(f"  process start -> 10k map ready (incl. the default map first): "
                          f"{r['map_10k_s']:.2f} s")
                    print(f"  another browser session, same running server -> default map ready: "
                          f"{r['second_session_s']:.2f} s")
                    if label.startswith("warm"):
                        warm_opens.append(r["default_map_s"])
                        print(f"  10k redraw (pan/zoom): {summary(redraw_ms(page))}")
                        print("  hover on the 10k map:")
                        print_hover(hover_series(page), "    ")
                    r["ctx"].close()
                finally:
                    srv.stop()
            for _ in range(max(0, args.repeat - 1)):  # more warm opens of the default map
                ctx = browser.new_context(viewport={"width": 1400, "height": 950})
                page = ctx.new_page()
                srv = harness.AppServer(cache, ckdir)
                srv.start()
                try:
                    warm_opens.append(open_app(browser, ctx, page, srv, both=False)["default_map_s"])
                finally:
                    ctx.close()
                    srv.stop()
            mnist = REPO / "checkpoints" / "mnist-conv-z2.safetensors"
            root = Path(os.environ.get("VAE_DATA_ROOT", REPO.parent / "shared" / "datasets"))
            if mnist.is_file() and (root / "MNIST" / "raw").is_dir():
                c10 = tmp / "cache-mnist"
                times = [direct_open(browser, c10, mnist.name, 10_000, str(root))
                         for _ in range(1 + max(1, args.repeat))]
                print(f"\n[10k points: {mnist.name}, MNIST test split from {root}]")
                print(f"  process start -> 10k map ready, cold (empty cache): {times[0]:.2f} s")
                print(f"  process start -> 10k map ready, warm: "
                      f"{', '.join(f'{t:.2f}' for t in times[1:])} s "
                      f"(median {statistics.median(times[1:]):.2f})")
            else:
                print(f"\n[10k points] skipped: needs {mnist.name} and MNIST under {root}")
            fm, wm = statistics.median(floors), statistics.median(warm_opens)
            print(f"\n[warm open, repeated] process start -> default map ready: "
                  f"{', '.join(f'{w:.2f}' for w in warm_opens)} s (median {wm:.2f}); "
                  f"{wm / fm:.2f}x the one-line-app floor ({fm:.2f} s), {wm - fm:.2f} s above it")
        if not args.skip_70k:
            out = demo_70k(browser)
            print("\n[70k points] component demo app (synthetic 28x28 greyscale images)")
            for k, v in out.items():
                if "session" in k:
                    print(f"  page open -> map ready, {k}: {v:.2f} s")
            print(f"  first draw: {out['first_draw_ms']:.1f} ms; redraw: {summary(out['redraw'])}")
            for count, pages, ms in out["decode"]:
                print(f"  atlas decode in the browser: {count:,} images, {pages} PNG pages, {ms:.0f} ms")
            print(f"  {out['python']}")
            print("  hover on the 70k map:")
            print_hover(out["hover"], "    ")
        browser.close()


if __name__ == "__main__":
    main()
