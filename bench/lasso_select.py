"""Time of a lasso selection's hit test over 70,000 points, in the page (issue 11, target: under
one frame, 16 ms, client-side).

    python bench/lasso_select.py [--n 70000] [--vertices 400]

Opens the latent map's demo (vae_explorer/components/latent_map/demo.py: synthetic points, no model)
in Debian's Chromium, draws nothing by hand: it calls the map's own hit test (select.js
hitPolygon, through window.__latentMaps[...].hitTest) with a lasso polygon in screen coordinates
(a wobbly ring over most of the plot, the shape a hand draws) and reads performance.now around
it. Median and max of 20 runs, the points selected, the time of the redraw that follows (with
and without a selection dimming the rest), and the machine's load (uptime): the
figures are only comparable at a similar load. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

from harness import REPO, AppServer, launch_browser, wait_for_app_run, wait_for_map  # noqa: E402

KEY = "demo_map"
RUNS = 20

LASSO_JS = """([vertices, runs]) => {
  const api = window.__latentMaps[%r], m = api.instance, r = m.plotRect();
  const cx = r.x + r.w / 2, cy = r.y + r.h / 2, poly = [];
  for (let k = 0; k < vertices; k++) {
    const a = 2 * Math.PI * k / vertices, rad = 0.42 * (1 + 0.15 * Math.sin(7 * a));
    poly.push(cx + rad * r.w * Math.cos(a), cy + rad * r.h * Math.sin(a));
  }
  const ms = [];
  let count = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const got = api.hitTest(poly);
    ms.push(performance.now() - t0);
    count = got.count;
  }
  // the redraw that follows: every point, without and then with the selection dimming the rest
  const draw = () => { const d = []; for (let i = 0; i < 10; i++) {
    const t0 = performance.now(); m.drawPoints(); d.push(performance.now() - t0); } return d; };
  const plain = draw();
  m.sel.s1 = api.hitTest(poly).bits; m.syncToolbar();
  const dimmed = draw();
  m.sel.s1 = null; m.syncToolbar();
  return { ms, count, n: m.points.n, plain, dimmed };
}""" % KEY


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=70_000)
    ap.add_argument("--vertices", type=int, default=400)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, \
            AppServer(Path(tmp), script=REPO / "vae_explorer/components/latent_map/demo.py") as srv, \
            sync_playwright() as p:
        browser = launch_browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.goto(f"{srv.url}/?n={args.n}&noimages=1")
        wait_for_app_run(page, timeout=300_000)
        wait_for_map(page, key=KEY, timeout=300_000)
        page.evaluate(LASSO_JS, [args.vertices, 3])  # warm-up (JIT)
        got = page.evaluate(LASSO_JS, [args.vertices, RUNS])
        browser.close()
    ms = got["ms"]
    print(f"lasso hit test: {got['n']:,} points, {args.vertices}-vertex polygon, "
          f"{got['count']:,} selected")
    print(f"  median {statistics.median(ms):.2f} ms, min {min(ms):.2f} ms, max {max(ms):.2f} ms "
          f"over {RUNS} runs (target: < 16 ms)")
    print(f"redraw of every point: median {statistics.median(got['plain']):.1f} ms plain, "
          f"{statistics.median(got['dimmed']):.1f} ms with the selection shown (10 runs each)")
    print("  load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
