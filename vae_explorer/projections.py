"""2-D maps of latent codes: PCA (instant, numpy SVD), UMAP (umap-learn), t-SNE (openTSNE).

Fixed seeds, so the same checkpoint gives the same picture twice. The slow methods run in a
separate, lower-priority process (``python -m vae_explorer.projections``) that reports progress
through a small JSON file and writes its result into the disk cache; the app polls it and
shows PCA meanwhile. No streamlit import here.
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
from typing import Callable

import numpy as np

from . import background, cache, heavy
from .lazy_imports import load

METHODS = ("pca", "umap", "tsne")
SLOW_METHODS = ("umap", "tsne")
LABELS = {"latent": "latent dims (2-D)", "pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
DEFAULT_SEED = 0

Progress = Callable[[float, str], None]


# ---------------------------------------------------------------------------------------------
# PCA


def pca_fit(x: np.ndarray, n_components: int = 2) -> dict:
    """Principal axes by SVD of the centred data. Signs fixed so each axis's largest-magnitude
    loading is positive (deterministic across runs and machines)."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(0)
    xc = x - mean
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    k = min(n_components, vt.shape[0])
    comps = vt[:k].copy()
    for i in range(k):
        if comps[i, np.argmax(np.abs(comps[i]))] < 0:
            comps[i] = -comps[i]
    var = s ** 2 / max(1, len(x) - 1)
    total = var.sum() if var.sum() > 0 else 1.0
    if k < n_components:  # fewer dims than components: pad with zero axes
        comps = np.vstack([comps, np.zeros((n_components - k, x.shape[1]))])
        var = np.concatenate([var, np.zeros(n_components - k)])
    return {"mean": mean.astype(np.float32), "components": comps.astype(np.float32),
            "explained_variance": var[:n_components].astype(np.float32),
            "explained_ratio": (var[:n_components] / total).astype(np.float32)}


def pca_transform(x: np.ndarray, fit: dict) -> np.ndarray:
    return ((np.asarray(x, np.float32) - fit["mean"]) @ fit["components"].T).astype(np.float32)


def pca_inverse(y: np.ndarray, fit: dict) -> np.ndarray:
    return (np.asarray(y, np.float32) @ fit["components"] + fit["mean"]).astype(np.float32)


def pca(x: np.ndarray) -> tuple[np.ndarray, dict]:
    fit = pca_fit(x, 2)
    return pca_transform(x, fit), fit


# ---------------------------------------------------------------------------------------------
# UMAP / t-SNE (call these in a worker process; they are slow)


class _TqdmSink:
    """File-like object for umap's tqdm bars: turns 'NN%' into progress callbacks."""

    def __init__(self, progress: Progress, lo: float, hi: float):
        self.progress, self.lo, self.hi = progress, lo, hi

    def write(self, s: str) -> int:
        m = re.findall(r"(\d+)%", s)
        if m:
            self.progress(self.lo + (self.hi - self.lo) * int(m[-1]) / 100, "optimising layout")
        return len(s)

    def flush(self) -> None:
        pass


def umap_project(x: np.ndarray, seed: int = DEFAULT_SEED, n_neighbors: int = 15,
                 min_dist: float = 0.1, progress: Progress | None = None,
                 init: np.ndarray | None = None) -> np.ndarray:
    """UMAP of x; `init` (N, 2) starts the layout from another map of the same points (the
    Compare page: B's map from A's, so that both put the same images in the same places)."""
    progress = progress or (lambda f, s: None)
    progress(0.02, "loading umap (first use compiles code, ~1 min)")
    umap = load("umap")  # slow import (numba); it imports scikit-learn: lazy_imports' lock

    # Each worker is a fresh process: pynndescent compiles its numba code again here (15 s with
    # a warm numba cache, 45 s without, on 2 cores), with no progress to report meanwhile.
    progress(0.1, "finding nearest neighbours (compiling numba code first, 15–45 s)")
    n_neighbors = max(2, min(n_neighbors, len(x) - 1))
    start = "spectral" if len(x) > n_neighbors + 2 else "random"
    if init is not None:
        start = _checked_init(init, len(x)).astype(np.float32)
    reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed,
                        n_jobs=1, verbose=True, init=start,
                        tqdm_kwds={"file": _TqdmSink(progress, 0.3, 0.98), "mininterval": 0.5})
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        y = reducer.fit_transform(np.asarray(x, np.float32))
    progress(1.0, "done")
    return np.asarray(y, np.float32)


def tsne_project(x: np.ndarray, seed: int = DEFAULT_SEED, perplexity: float = 30.0,
                 n_iter: int = 500, progress: Progress | None = None,
                 init: np.ndarray | None = None) -> np.ndarray:
    """t-SNE of x; `init` (N, 2) starts from another map of the same points (see umap_project)."""
    progress = progress or (lambda f, s: None)
    progress(0.02, "finding nearest neighbours")
    TSNE = load("openTSNE").TSNE  # noqa: N806  (imports scikit-learn: lazy_imports' lock)

    ee = 250
    total = ee + n_iter
    perplexity = float(min(perplexity, max(2.0, (len(x) - 1) / 3.0)))

    class _CB:
        def __init__(self, offset: int):
            self.offset = offset

        def __call__(self, iteration, error, embedding):
            progress(0.1 + 0.88 * min(1.0, (self.offset + iteration) / total),
                     f"optimising (iteration {self.offset + iteration}/{total})")
            return False

    # Two explicit phases (early exaggeration, then the main run), one callback per phase so
    # the reported iteration count keeps increasing.
    tsne = TSNE(perplexity=perplexity, n_iter=n_iter, early_exaggeration_iter=ee,
                random_state=seed, n_jobs=1, verbose=False)
    start = "pca"  # openTSNE's default
    if init is not None:
        from openTSNE.initialization import rescale  # noqa: PLC0415

        # openTSNE wants a start with std 1e-4 (larger ones converge badly, and it warns)
        start = rescale(_checked_init(init, len(x)).astype(np.float64), target_std=1e-4)
    emb = tsne.prepare_initial(np.asarray(x, np.float32), initialization=start)
    progress(0.1, "early exaggeration")
    emb = emb.optimize(n_iter=ee, exaggeration=12, momentum=0.5, callbacks=[_CB(0)],
                       callbacks_every_iters=25)
    emb = emb.optimize(n_iter=n_iter, momentum=0.8, callbacks=[_CB(ee)], callbacks_every_iters=25)
    progress(1.0, "done")
    return np.asarray(emb, np.float32)


def _checked_init(init, n: int) -> np.ndarray:
    a = np.asarray(init, np.float64)
    if a.shape != (n, 2) or not np.isfinite(a).all():
        raise ValueError(f"an initial layout must be finite (N, 2) = ({n}, 2), got {a.shape}")
    return a


def init_id(init: np.ndarray | None) -> str:
    """A short content hash of an initial layout, for cache and job keys ("" for none): a map
    started from another layout is another map."""
    if init is None:
        return ""
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(init, np.float32).tobytes()).hexdigest()[:20]


def project(x: np.ndarray, method: str, seed: int = DEFAULT_SEED,
            progress: Progress | None = None, init: np.ndarray | None = None) -> np.ndarray:
    """(N, D) -> (N, 2) float32 with the named method. For D <= 2 every method is the identity
    (padded with a zero column for D == 1). `init`: UMAP / t-SNE start from this layout."""
    x = np.asarray(x, np.float32)
    if x.shape[1] <= 2:
        return identity_xy(x)
    if method == "pca":
        return pca(x)[0]
    if method == "umap":
        return umap_project(x, seed=seed, progress=progress, init=init)
    if method == "tsne":
        return tsne_project(x, seed=seed, progress=progress, init=init)
    raise ValueError(f"unknown projection {method!r}; choose from {METHODS}")


def identity_xy(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if x.shape[1] == 2:
        return x.copy()
    return np.concatenate([x, np.zeros((len(x), 2 - x.shape[1]), np.float32)], 1)


def cache_params(method: str, n: int, seed: int, data_key: str, init: np.ndarray | None = None) -> dict:
    """The cache key's parameters; a map started from a given layout also keys by its hash
    (left out otherwise, so the keys of default-started maps, shipped ones too, stay as they were)."""
    p = {"method": method, "n": int(n), "seed": int(seed), "data": data_key, "v": 1}
    if init is not None:
        p["init"] = init_id(init)
    return p


# ---------------------------------------------------------------------------------------------
# background jobs


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
    """Start `python -m vae_explorer.projections` on x (from layout `init` if given); the
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
        return subprocess.Popen([sys.executable, "-m", "vae_explorer.projections", str(workdir)],
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
