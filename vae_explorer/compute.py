"""Streamlit caching layer over the plain modules: one place for st.cache_resource so that
reruns, pages and sessions share models, encodings, projections and decoded grids.

Cached values are numpy arrays treated as read-only (cache_resource hands out the same
object; nothing mutates them).

Nothing here imports torch at module level (vae_explorer.encode is imported where a model runs):
a warm open draws the map from the disk cache while the model loads in the background.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from . import background, cache, cursor, projection_jobs, projections, sample
from .checkpoints import open_path
from .images import chw_to_hwc

ENCODE_VERSION = 2  # 2: codes and reconstructions cached apart
HOVER_G = 32  # hover grid side: 1024 decodes, ~0.2 s for the small conv models on 2 cores
_LOCK = threading.Lock()  # one heavy torch job at a time across sessions (2 cores)
_JOBS_LOCK = threading.Lock()


@st.cache_resource(max_entries=8, show_spinner=False)
def load_path(path: str, mtime: float, size: int):
    """(OpenedCheckpoint, error) for a file in the checkpoints folder; keyed by its mtime/size
    so a rewritten file reloads. Bytes validated on this machine before open without waiting
    for the model (see vae_explorer.checkpoints)."""
    return open_path(path, trust_validated=True)


def _set_threads() -> None:
    from . import encode

    encode.set_threads()


def warm_up(ck) -> None:
    """Build the model in the background (torch import included), so that the first decode
    after a warm open does not wait for it."""
    if hasattr(ck, "load_in_background"):
        ck.load_in_background(before=_set_threads)


def _root_stamp(name: str, root: str) -> str:
    """Cheap fingerprint of the data folder (folder mtimes, two levels), so a changed dataset
    is not served from the disk cache. The built-in shapes datasets are generated: no folder."""
    if name in ("shapes", "shapes-rgb"):
        return "builtin"
    p = Path(root).expanduser()
    parts = []
    try:
        dirs = [p]
        for d in list(p.iterdir())[:200]:
            if d.is_dir():
                dirs.append(d)
                dirs += [e for e in list(d.iterdir())[:200] if e.is_dir()]
        for d in dirs[:400]:
            parts.append(f"{d}:{d.stat().st_mtime_ns}")
    except OSError:
        return "missing"
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def dataset(name: str, root: str, split: str, n: int):
    """(images NHWC uint8, labels, images NCHW uint8, data key). Raises sample.DataMissing.

    The sample itself is disk-cached (uint8 arrays), so a second open skips decoding the
    dataset files."""
    stamp = _root_stamp(name, root)
    key = {"name": name, "root": str(Path(root).expanduser().resolve()), "split": split,
           "n": int(n), "stamp": stamp, "v": 1}
    ksha = hashlib.sha256(repr(sorted(key.items())).encode()).hexdigest()
    got = cache.load(ksha, "dataset", key) if stamp != "missing" else None
    if got is not None:
        x, y = got["x"], got["y"]
    else:
        x, y = sample.load_split(name, root, split, n)
        cache.save(ksha, "dataset", key, {"x": x, "y": y})
    return (*_read_only(chw_to_hwc(x), y, x), sample.data_key(name, split, x, y))


@st.cache_resource(max_entries=4, show_spinner=False)
def factors(name: str, split: str, n: int):
    """(factors (N, F), names) of the map's sample for datasets with known factors, else None.
    Drawn from the generator's seeds without rendering: milliseconds, so not disk-cached."""
    got = sample.load_factors(name, split, n)
    return None if got is None else (*_read_only(got[0]), got[1])


@st.cache_resource(max_entries=8, show_spinner=False)
def factor_scores(sha: str, data_key: str, _mu, _labels, _factors, names: tuple[str, ...]):
    """Mutual information of each latent dimension with each known factor (and MIG)."""
    from .analysis import factors as fa
    f, fnames, discrete = fa.sample_factors(_labels, _factors, list(names))
    return fa.factor_scores(_mu, f, fnames, discrete)


def _read_only(*arrays):
    """Mark shared arrays read-only: every session gets the same objects, and the latent map
    remembers a read-only array's content hash by identity (hashing 5k images took ~5 ms of
    every rerun)."""
    for a in arrays:
        if isinstance(a, np.ndarray):
            a.setflags(write=False)
    return arrays


@st.cache_resource(max_entries=4, show_spinner=False)
def codes(sha: str, data_key: str, _ck, _x_nchw, _labels) -> tuple[dict, bool]:
    """Encoder means (mu, logvar, kl, kl_per_dim) for the sample, from the disk cache when
    possible: (arrays, hit). Reconstructions come separately (start_reconstruction)."""
    params = {"data": data_key, "v": ENCODE_VERSION}

    def run():
        from . import encode

        model = _ck.model  # may wait for the background load; CheckpointError if it failed
        with _LOCK:
            _set_threads()
            return encode.encode_codes(model, _x_nchw, _labels, _ck.data.preprocess)

    arrays, hit = cache.get_or_compute(sha, "codes", params, run)
    return arrays, hit


class ReconJob:
    """Reconstructions of a map sample, decoded in a background thread after the first map is
    out (the decoder costs ~4x the encoder: 4.7 s against 1.0 s for 10k MNIST images with the
    conv model on one thread). The pages show originals meanwhile and rerun when it is done."""

    def __init__(self, arrays: dict | None = None):
        if arrays is not None:
            _read_only(*arrays.values())
        self.arrays = arrays
        self.frac = 1.0 if arrays is not None else 0.0
        self.error: str | None = None
        self.thread: threading.Thread | None = None

    @property
    def done(self) -> bool:
        return self.arrays is not None or self.error is not None

    def run(self, sha, params, ck, x_nchw, labels, mu) -> None:
        from . import encode

        def progress(f):
            self.frac = f
            background.check()  # between batches: give up when the process exits

        try:
            model = ck.model
            _set_threads()
            arrays = encode.reconstruct(model, mu, x_nchw, labels, ck.data.preprocess,
                                        lock=_LOCK, progress=progress)
            cache.save(sha, "recon", params, arrays)
            _read_only(*arrays.values())
            self.arrays = arrays
        except Exception as e:  # shown on the map page; the app keeps working without them
            self.error = f"{type(e).__name__}: {e}"


@st.cache_resource(show_spinner=False)
def _recon_jobs() -> dict:
    return {}


_RECON_KEEP = 6  # finished reconstruction sets kept in memory (70k MNIST: 55 MB each)


def _remember(jobs: dict, key, job: ReconJob) -> None:
    jobs.pop(key, None)
    jobs[key] = job  # newest last
    done = [k for k, j in jobs.items() if j.done]
    for k in done[: max(0, len(done) - _RECON_KEEP)]:
        del jobs[k]


def _recon_params(data_key: str) -> dict:
    return {"data": data_key, "v": ENCODE_VERSION}


def reconstructions(sha: str, data_key: str) -> tuple[dict | None, ReconJob | None]:
    """(recon + rec_err arrays, or None while they are computed; the job, if any)."""
    jobs, key = _recon_jobs(), (sha, data_key)
    job = jobs.get(key)
    if job is not None and job.arrays is not None:
        return job.arrays, job
    if job is None:
        got = cache.load(sha, "recon", _recon_params(data_key))
        if got is not None:
            job = ReconJob(got)
            with _JOBS_LOCK:
                _remember(jobs, key, job)
            return got, job
    return None, job


def start_reconstruction(sha: str, data_key: str, ck, x_nchw, labels, mu) -> ReconJob:
    """Start (once per checkpoint and sample) decoding the reconstructions in the background."""
    jobs, key = _recon_jobs(), (sha, data_key)
    with _JOBS_LOCK:
        job = jobs.get(key)
        if job is None:
            job = ReconJob()
            _remember(jobs, key, job)
            job.thread = background.start(job.run, "reconstructions", sha,
                                          _recon_params(data_key), ck, x_nchw, labels, mu)
    return job


@st.cache_resource(max_entries=8, show_spinner=False)
def pca_map(sha: str, data_key: str, _mu) -> tuple[np.ndarray, dict]:
    xy, fit = projections.pca(_mu)
    return xy, fit


@st.cache_resource(show_spinner=False)
def _jobs() -> dict:
    return {}


def slow_map(sha: str, data_key: str, method: str, mu: np.ndarray, init: np.ndarray | None = None):
    """(xy or None, job or None): cached result, or the running background job. `init`: the
    layout UMAP / t-SNE start from (its hash is in the cache and job keys)."""
    params = projections.cache_params(method, len(mu), projections.DEFAULT_SEED, data_key, init)
    what = f"proj-{method}"
    got = cache.load(sha, what, params)
    if got is not None and got["xy"].shape == (len(mu), 2):
        return got["xy"], None
    jobs = _jobs()
    key = (sha, what, str(params))
    job = jobs.get(key)
    if job is not None:
        state, _, _ = job.poll()
        if state == "done":
            res = job.result()
            if res is not None:
                return res, None
        if state != "error":
            return None, job
    if job is None:
        job = projection_jobs.start_job(mu, method, sha, what, params, init=init)
        jobs[key] = job
    return None, job


def forget_job(job) -> None:
    jobs = _jobs()
    for k, v in list(jobs.items()):
        if v is job:
            del jobs[k]


@st.cache_resource(max_entries=16, show_spinner=False)
def hover_images(sha: str, map_key: str, method: str, y_cond, _ck, _map_xy, _codes, _pca_fit,
                 g: int = HOVER_G):
    """Decoded G x G grid over the map's extent for instant 'decoded at cursor' (disk-cached:
    a warm open needs no model for it)."""
    params = {"map": map_key, "method": method, "y": y_cond, "g": int(g), "v": 1}

    def run():
        lat, extent = cursor.hover_grid(_map_xy, _codes, method, _pca_fit, g=g)
        return {"images": decode(_ck, lat, y_cond), "extent": np.asarray(extent, np.float64)}

    got, _ = cache.get_or_compute(sha, "hover", params, run)
    return got["images"], tuple(float(v) for v in got["extent"])


@st.cache_resource(max_entries=8, show_spinner=False)
def mapper(map_key: str, method: str, _map_xy, _codes, _pca_fit):
    return cursor.CursorMapper(_map_xy, _codes, method, _pca_fit)


def decode(ck, z, y_cond=None) -> np.ndarray:
    from . import encode

    model = ck.model
    with _LOCK:
        _set_threads()
        return encode.decode(model, z, ck.data.preprocess, y_cond)


@st.cache_data(max_entries=64, show_spinner=False)
def decode_cached(sha: str, z_bytes: bytes, shape: tuple, y_cond, _ck) -> np.ndarray:
    z = np.frombuffer(z_bytes, np.float32).reshape(shape)
    return decode(_ck, z, y_cond)


def decode_memo(ck, z: np.ndarray, y_cond=None) -> np.ndarray:
    z = np.ascontiguousarray(z, np.float32)
    return decode_cached(ck.sha256, z.tobytes(), z.shape, y_cond, ck)


# Window grid side: 576 decodes, ~0.15-0.3 s and ~20-230 kB sent per window on 2 cores (32 would
# be ~1.8x both; figures from bench/window_decode.py). A view always holds 8-16 cells across.
WINDOW_G = 24
_WINDOW_CHUNK = 128  # the lock is held per chunk, so other sessions' decodes interleave


@st.cache_resource(max_entries=48, show_spinner=False)
def window_images(sha: str, map_key: str, method: str, y_cond, key: tuple, _ck, _map_xy, _codes,
                  _pca_fit, g: int = WINDOW_G) -> dict:
    """Decoded G x G grid over the lattice window `key` (vae_explorer.cursor.window_key), shared by
    every session looking at that window: {"images", "extent", "latents"}.

    The decode runs in the asking session's script thread; _LOCK is taken per chunk of
    _WINDOW_CHUNK images (~25 ms for the small conv models), never for the whole grid, so a
    session waits at most one chunk for another's."""
    from . import encode

    extent = cursor.window_extent(key)
    lat = mapper(map_key, method, _map_xy, _codes, _pca_fit)(cursor.grid_centres(extent, g))
    model = _ck.model
    parts = []
    for i in range(0, len(lat), _WINDOW_CHUNK):
        with _LOCK:
            _set_threads()
            parts.append(encode.decode(model, lat[i:i + _WINDOW_CHUNK], _ck.data.preprocess, y_cond))
    return {"images": np.concatenate(parts), "extent": extent, "latents": lat}


def grid_latents(map_key: str, method: str, map_xy, codes, pca_fit, extent, g: int) -> np.ndarray:
    """The latents a G x G grid over extent decodes (for the readout; cheap, not cached)."""
    return mapper(map_key, method, map_xy, codes, pca_fit)(cursor.grid_centres(extent, g))


@st.cache_resource(max_entries=4, show_spinner="Indexing the latent codes for neighbours…")
def neighbour_index(sha: str, data_key: str, metric: str, _mu):
    """k-NN index over the full latent codes, once per (checkpoint, data sample, metric), shared
    by every session (vae_explorer.analysis.neighbours)."""
    from .analysis import neighbours
    return neighbours.build(_mu, metric)
