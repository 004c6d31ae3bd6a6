"""Slow projections (UMAP, t-SNE) as background jobs: each runs in a separate, lower-priority
process (``python -m vae_explorer.projection_jobs``) that reports progress through a small JSON
file and writes its result into the disk cache; the app polls the Job and shows PCA meanwhile.
The worker waits for a heavy-job slot (heavy.GATE), so a classroom cannot start 30 at once.
"""
from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import background, cache, heavy
from .projections import DEFAULT_SEED, project


TMP_PREFIX = "vae-proj-"


@dataclass(eq=False)  # tracked by identity in _LIVE
class Job:
    """A projection computed by a worker process; poll() for progress.

    The worker's folder (input, progress, result) lives in the system temp directory only while
    the worker runs: poll() removes it once the worker has exited, and so does the exit of the
    app (cleanup_jobs, registered with atexit)."""
    sha256: str
    what: str
    params: dict
    workdir: Path
    proc: subprocess.Popen | None = None  # None while queued behind other heavy jobs
    started: float = field(default_factory=time.time)
    error: str | None = None
    ahead: int = 0  # heavy jobs ahead of this one while it is queued
    _result: np.ndarray | None = None
    _ended: bool = False
    _cancelled: threading.Event = field(default_factory=threading.Event)
    _launch_lock: threading.Lock = field(default_factory=threading.Lock)

    def poll(self) -> tuple[str, float, str]:
        """(state, fraction, stage) with state in "running", "done", "error". While running,
        the stage ends with the seconds spent in it ("finding nearest neighbours… 12 s"): some
        stages report no fraction for tens of seconds."""
        if self.error:
            return "error", 1.0, self.error
        if self.proc is None and not self._ended:  # queued behind other heavy jobs
            stage = heavy.waiting_message(self.ahead) if self.ahead else "starting"
            return "running", 0.0, f"{stage}… {max(0, int(time.time() - self.started))} s"
        rc = self.proc.poll() if self.proc else 0
        if rc is None:
            frac, stage, since = 0.0, "starting", self.started
            try:
                d = json.loads((self.workdir / "progress.json").read_text())
                frac, stage = float(d.get("frac", 0)), str(d.get("stage", ""))
                since = float(d.get("since", since))
            except Exception:
                pass
            return "running", frac, f"{stage}… {max(0, int(time.time() - since))} s"
        self._end(rc)
        if self._result is not None or cache.load(self.sha256, self.what, self.params) is not None:
            return "done", 1.0, "done"
        return "error", 1.0, self.error or f"worker exited with code {rc}"

    def _end(self, rc: int | None) -> None:
        """Keep what the worker left (result or error), then remove its folder."""
        if self._ended:
            return
        self._ended = True
        try:
            res = self.workdir / "result.npy"
            if res.is_file():
                self._result = np.load(res, allow_pickle=False)
            err = self.workdir / "error.txt"
            if err.is_file():
                self.error = err.read_text()[-2000:]
            elif self._result is None and cache.load(self.sha256, self.what, self.params) is None:
                self.error = f"worker exited with code {rc}"
        except OSError as e:
            self.error = f"{type(e).__name__}: {e}"
        shutil.rmtree(self.workdir, ignore_errors=True)
        _LIVE.discard(self)

    def result(self) -> np.ndarray | None:
        got = cache.load(self.sha256, self.what, self.params)
        if got is not None:
            return got["xy"]
        return self._result

    def cancel(self) -> None:
        with self._launch_lock:
            self._cancelled.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._end(self.proc.returncode if self.proc else 0)


_LIVE: set[Job] = set()


def cleanup_jobs() -> None:
    """Stop the running workers and remove their folders (at exit)."""
    for job in list(_LIVE):
        job.cancel()


atexit.register(cleanup_jobs)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale_workdirs(tmp: str | None = None) -> int:
    """Remove worker folders left by app processes that are gone (a crash, a SIGKILL): their
    names carry the app's pid. Returns how many were removed."""
    removed = 0
    for d in Path(tmp or tempfile.gettempdir()).glob(f"{TMP_PREFIX}*"):
        m = re.match(rf"{TMP_PREFIX}[a-z]+-(\d+)-", d.name)
        if d.is_dir() and m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    return removed


def start_job(x: np.ndarray, method: str, sha256: str, what: str, params: dict,
              seed: int = DEFAULT_SEED, init: np.ndarray | None = None) -> Job:
    """Start `python -m vae_explorer.projection_jobs` on x (from layout `init` if given); the
    worker writes the cache entry."""
    remove_stale_workdirs()
    workdir = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{method}-{os.getpid()}-"))
    np.save(workdir / "input.npy", np.asarray(x, np.float32))
    if init is not None:
        np.save(workdir / "init.npy", np.asarray(init, np.float32))
    (workdir / "job.json").write_text(json.dumps(
        {"method": method, "seed": seed, "sha256": sha256, "what": what, "params": params}))
    job = Job(sha256=sha256, what=what, params=params, workdir=workdir)
    _LIVE.add(job)
    background.start(_run_when_free, "projection", job)
    return job


def _run_when_free(job: Job) -> None:
    """Wait for a heavy-job slot (heavy.GATE), run the worker in it, free it when it exits."""
    def queued(ahead: int) -> None:
        job.ahead = ahead
        background.check()
        if job._cancelled.is_set():
            raise background.Stopped("cancelled while queued")

    try:
        with heavy.GATE.slot(on_wait=queued):
            with job._launch_lock:
                if job._cancelled.is_set():
                    return
                job.proc = _launch(job.workdir)
            while job.proc.poll() is None:
                background.check()  # at exit, cleanup_jobs stops the worker itself
                try:
                    job.proc.wait(heavy.POLL_S)
                except subprocess.TimeoutExpired:
                    pass
    except background.Stopped:
        pass


def _launch(workdir: Path) -> subprocess.Popen:
    env = dict(os.environ)
    repo = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("NUMBA_CACHE_DIR", str(cache.cache_dir() / "numba"))
    with open(workdir / "stderr.txt", "wb") as err:  # the child keeps its own handle
        return subprocess.Popen([sys.executable, "-m", "vae_explorer.projection_jobs", str(workdir)],
                                cwd=repo, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)


def _worker(workdir: str) -> int:
    wd = Path(workdir)
    try:
        os.nice(5)  # keep the UI process responsive on a 2-core laptop
    except (OSError, AttributeError):
        pass
    job = json.loads((wd / "job.json").read_text())

    since = {"stage": "", "t": time.time()}

    def progress(frac: float, stage: str) -> None:
        if stage != since["stage"]:  # the app shows the seconds spent in the current stage
            since.update(stage=stage, t=time.time())
        tmp = wd / "progress.tmp"
        tmp.write_text(json.dumps({"frac": round(float(frac), 4), "stage": stage,
                                   "since": since["t"]}))
        os.replace(tmp, wd / "progress.json")

    try:
        x = np.load(wd / "input.npy", allow_pickle=False)
        init = np.load(wd / "init.npy", allow_pickle=False) if (wd / "init.npy").is_file() else None
        y = project(x, job["method"], seed=int(job["seed"]), progress=progress, init=init)
        if cache.save(job["sha256"], job["what"], job["params"], {"xy": y}) is None:
            np.save(wd / "result.npy", y)
        progress(1.0, "done")
        return 0
    except Exception as e:  # reported to the app through error.txt
        import traceback

        (wd / "error.txt").write_text(f"{type(e).__name__}: {e}\n\n{traceback.format_exc()}")
        return 1


if __name__ == "__main__":
    raise SystemExit(_worker(sys.argv[1]))
