"""A classroom on one server: N students open the explorer at once, then each clicks the map.
Prints figures; not a test.

    .venv/bin/python bench/classroom_load.py                       # 30 sessions, default map
    .venv/bin/python bench/classroom_load.py -n 30 --query ckpt=mnist-conv-z2.safetensors
    .venv/bin/python bench/classroom_load.py --browser             # + one student's download

Starts `streamlit run vae_explorer/app.py` on a free port with the user's explorer cache (warm it
once with a normal open first; a warm-up session here fills what is missing), then speaks
Streamlit's own websocket protocol (/_stcore/stream, the protobufs in streamlit.proto): a
session sends BackMsg rerun_script and waits for ForwardMsg script_finished. No browser, so
only the server's work and the websocket bytes are counted (st.image files fetched over HTTP
are not: --browser counts those for one student).

Figures
  open:  N sessions connect at the same moment; seconds until each one's first run finishes;
         websocket bytes received per session.
  burst: then every session clicks the map 3 times at once (a point each time: A, B, A; each
         click reruns the app); seconds from a click until its run finishes.
  alone: one session clicking with nobody else: wall seconds and server CPU seconds a click.
  server RSS (process and its children) after the opens and after the burst; load average.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO))
import harness  # noqa: E402
import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from vae_explorer import cache  # noqa: E402

DONE = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR}


class Session:
    """One student's tab at the protocol level: widget states it sends, bytes it receives."""

    def __init__(self, url: str, query: str):
        self.ws_url = url.replace("http", "ws", 1) + "/_stcore/stream"
        self.query = query
        self.ws = None
        self.bytes = 0
        self.map_id = None  # the latent map component's widget id, from its delta
        self.runs = asyncio.Queue()
        self.errors: list[str] = []
        self.finished: list[int] = []  # every script_finished status, early ones for st.rerun too
        self.texts: list[str] = []  # st.text bodies of the last run
        self.click_id = 0
        self.reader = None

    async def connect(self):
        self.ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"],
                                           max_size=2**30, ping_interval=None,
                                           open_timeout=120, close_timeout=5)
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for raw in self.ws:
                self.bytes += len(raw)
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    el = msg.delta.new_element
                    if el.WhichOneof("type") == "bidi_component" and \
                            el.bidi_component.id.endswith("latent_map"):
                        self.map_id = el.bidi_component.id
                    elif el.WhichOneof("type") == "exception":
                        self.errors.append(el.exception.message[:200])
                    elif el.WhichOneof("type") == "text":
                        self.texts.append(el.text.body)
                elif kind == "new_session":
                    self.texts = []
                elif kind == "script_finished":
                    self.finished.append(msg.script_finished)
                    if msg.script_finished in DONE:
                        self.runs.put_nowait(time.perf_counter())
        except websockets.ConnectionClosed as e:
            self.errors.append(f"closed: {e}")

    async def rerun(self, widget_json: dict | None = None, timeout: float = 300) -> float:
        back = BackMsg()
        cs = back.rerun_script
        cs.query_string = self.query
        if widget_json is not None:
            w = cs.widget_states.widgets.add()
            w.id = self.map_id
            w.json_value = json.dumps(widget_json)
        t0 = time.perf_counter()
        await self.ws.send(back.SerializeToString())
        t1 = await asyncio.wait_for(self.runs.get(), timeout)
        return t1 - t0

    async def click(self, index: int) -> float:
        self.click_id += 1
        ev = {"type": "click", "index": index, "xy": [0.0, 0.0], "id": self.click_id,
              "shift": False}
        return await self.rerun({"event": ev})

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


def rss_mb(pid: int) -> float:
    """Resident memory of pid and its descendants (MB), from /proc."""
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += kids.get(p, [])
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_s(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] if xs else float("nan")


def line(name: str, xs) -> str:
    if not xs:
        return f"  {name}: n/a"
    return (f"  {name}: p50 {statistics.median(xs):.2f} s, p95 {pct(xs, 0.95):.2f} s, "
            f"max {max(xs):.2f} s (n={len(xs)})")


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


async def settle(pid: int, most_s: float = 60) -> None:
    """Wait until the server uses under 5% of a core for a second (or most_s passed)."""
    end = time.monotonic() + most_s
    while time.monotonic() < end:
        c0 = cpu_s(pid)
        await asyncio.sleep(1.0)
        if cpu_s(pid) - c0 < 0.05:
            return


async def open_one(url, query):
    s = Session(url, query)
    t0 = time.perf_counter()
    try:
        await s.connect()
        await s.rerun()
        return s, time.perf_counter() - t0
    except Exception as e:  # counted as a failure, the run goes on
        s.errors.append(f"{type(e).__name__}: {e}")
        return s, None


async def student(s: Session, clicks: int, base: int) -> list[float]:
    out = []
    for k in range(clicks):
        try:
            out.append(await s.click(base + 37 * k))
        except Exception as e:
            s.errors.append(f"click: {type(e).__name__}: {e}")
    return out


async def classroom(url: str, pid: int, n: int, clicks: int, query: str) -> None:
    print(f"before: {load()}, server RSS {rss_mb(pid):.0f} MB")
    t = time.perf_counter()
    warm, _ = await open_one(url, query)  # fills caches a previous open did not (not counted)
    await settle(pid)  # the background jobs after the first page (model load, per-point figures)
    print(f"warm-up session: {time.perf_counter() - t:.2f} s, {warm.bytes / 1e6:.2f} MB, "
          f"errors {warm.errors[:2]}")
    alone, cpu, kb = [], [], []
    for k in range(5):  # one session alone: the cost of a click on an otherwise idle server
        c0, b0 = cpu_s(pid), warm.bytes
        alone.append(await warm.click(100 + k))
        cpu.append(cpu_s(pid) - c0)
        kb.append((warm.bytes - b0) / 1e3)
    await warm.close()
    print(f"one session alone, a click (A/B set, app reruns): wall p50 "
          f"{statistics.median(alone) * 1000:.0f} ms (min {min(alone) * 1000:.0f}), server CPU "
          f"p50 {statistics.median(cpu) * 1000:.0f} ms (process CPU, background threads "
          f"included); p50 {statistics.median(kb):.1f} kB a click")
    rss0 = rss_mb(pid)

    res = await asyncio.gather(*(open_one(url, query) for _ in range(n)))
    sessions = [s for s, _ in res]
    opens = [t for _, t in res if t is not None]
    rss1 = rss_mb(pid)
    print(f"\n{n} sessions opening at once ({load()}):")
    print(line("open -> first run finished", opens))
    mb = [s.bytes / 1e6 for s, t in res if t is not None]
    if mb:
        print(f"  websocket bytes received per session: p50 {statistics.median(mb):.2f} MB, "
              f"max {max(mb):.2f} MB")
    ok = [s for s, t in res if t is not None and s.map_id]
    lat = await asyncio.gather(*(student(s, clicks, 200 + 3 * i) for i, s in enumerate(ok)))
    burst = [x for xs in lat for x in xs]
    rss2 = rss_mb(pid)
    print(f"then a burst of {clicks} clicks each ({load()}):")
    print(line("click -> run finished", burst))
    failures = [e for s in sessions for e in s.errors] + \
        [f"no map in session {i}" for i, (s, t) in enumerate(res) if t is not None and not s.map_id]
    print(f"  failures: {len(failures)} {failures[:3]}")
    print(f"server RSS: {rss0:.0f} MB after one session, {rss1:.0f} MB with {n} open, "
          f"{rss2:.0f} MB after the burst")
    await asyncio.gather(*(s.close() for s in sessions))
    print(f"after: {load()}")


def browser_download(url: str, query: str) -> None:
    """What one student's browser downloads on opening the default map, until the map is ready
    (points drawn, hover atlases decoded) and 2 s after: HTTP bodies + websocket frames."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = harness.launch_browser(pw)
        ctx = browser.new_context(viewport={"width": 1400, "height": 950})
        page = ctx.new_page()
        http, ws = [], []
        page.on("requestfinished", lambda r: http.append((r.url, r.sizes()["responseBodySize"])))
        page.on("websocket", lambda w: w.on(
            "framereceived", lambda f: ws.append((time.perf_counter(), len(f)))))
        t0 = time.perf_counter()
        page.goto(url + ("/?" + query if query else ""))
        harness.wait_for_map(page, timeout=180_000)
        t_ready = time.perf_counter()
        page.wait_for_timeout(2000)
        ws_ready = sum(b for t, b in ws if t <= t_ready)
        ws_all = sum(b for _, b in ws)
        http_all = sum(b for _, b in http)
        static = sum(b for u, b in http if "/static/" in u)
        print(f"\none browser opening the map ({load()}): ready in {t_ready - t0:.2f} s")
        print(f"  websocket: {ws_ready / 1e6:.2f} MB until ready, {ws_all / 1e6:.2f} MB in all")
        print(f"  HTTP: {http_all / 1e6:.2f} MB in {len(http)} responses "
              f"({static / 1e6:.2f} MB of it Streamlit's static bundle, cached by a browser after "
              f"the first visit)")
        print(f"  app data (websocket + non-static HTTP): {(ws_all + http_all - static) / 1e6:.2f} MB")
        ctx.close()
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--sessions", type=int, default=30)
    ap.add_argument("--clicks", type=int, default=3)
    ap.add_argument("--query", default="", help="the page's query string, e.g. "
                                                 "ckpt=mnist-conv-z2.safetensors")
    ap.add_argument("--browser", action="store_true", help="also one browser's download")
    ap.add_argument("--browser-only", action="store_true")
    args = ap.parse_args()
    print(f"classroom_load: {args.sessions} sessions, query {args.query!r}, "
          f"{os.cpu_count()} CPUs, cache {cache.cache_dir()}")
    log = Path(tempfile.gettempdir()) / f"classroom_load_{os.getpid()}.log"
    srv = harness.AppServer(cache.cache_dir(), log_path=log)
    srv.start()
    try:
        if not args.browser_only:
            asyncio.run(classroom(srv.url, srv.proc.pid, args.sessions, args.clicks, args.query))
        if args.browser or args.browser_only:
            browser_download(srv.url, args.query)
    finally:
        srv.stop()
        print(f"server log: {log}")


if __name__ == "__main__":
    main()
