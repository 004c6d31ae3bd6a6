"""Per-point figures for the rankings page, computed once per checkpoint and data sample in a
background thread after the map is out (never delaying it) and cached on disk like the codes.

The job waits for the reconstructions (compute.start_reconstruction), then computes the
reconstruction term, KL and -ELBO (vae_explorer.analysis.pointwise) and the latent k-NN figures
(mislabel share, k-th neighbour distance). The k-NN indices are kept too: the map's honesty
layer reuses them, so only its 2-D query is left per map.
"""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import streamlit as st

from . import background, cache, compute, heavy
from .analysis import honesty, pointwise, rankings

VERSION = 1
_LOCK = threading.Lock()


def _params(data_key: str) -> dict:
    return {"data": data_key, "k": rankings.K, "v": VERSION}


def _log_sigma(ck) -> float | None:
    lik = ck.model_config.likelihood
    if lik == "bernoulli":
        return None
    if lik == "gaussian":
        return float(np.log(ck.model_config.gaussian_sigma))
    from vae_training.objective import decoder_log_sigma  # learned: a model parameter (torch)

    return float(np.mean(decoder_log_sigma(ck.model).detach().numpy()))


def figures(ck, images, labels, enc: dict, recon) -> dict[str, np.ndarray]:
    """Every per-point figure the rankings page shows (plain arrays)."""
    out = pointwise.figures(images, recon, enc["kl"], ck.model_config.likelihood,
                            _log_sigma(ck), ck.data.preprocess)
    dist, idx = rankings.knn(enc["mu"], rankings.K)
    out["mislabel"] = rankings.other_label_share(labels, idx)
    out["outlier"] = rankings.kth_distance(dist)
    out["knn_idx"] = idx.astype(np.int32)
    return out


class AnalysisJob:
    def __init__(self):
        self.arrays: dict | None = None
        self.error: str | None = None
        self.stage = "waiting for the reconstructions"

    @property
    def done(self) -> bool:
        return self.arrays is not None or self.error is not None

    def _queued(self, ahead: int) -> None:
        self.stage = heavy.waiting_message(ahead)
        background.check()

    def run(self, ck, data_key: str, images, labels, enc: dict) -> None:
        sha, params = ck.sha256, _params(data_key)
        try:
            got = cache.load(sha, "analysis", params)
            if got is None:
                rec = None
                while rec is None:
                    background.check()
                    rec, job = compute.reconstructions(sha, data_key)
                    if rec is None and job is not None and job.error:
                        raise RuntimeError(f"reconstructions failed: {job.error}")
                    if rec is None:
                        time.sleep(0.2)
                with heavy.GATE.slot(self._queued):
                    self.stage = "computing the per-point figures"
                    got = figures(ck, images, labels, enc, rec["recon"])
                cache.save(sha, "analysis", params, got)
            self.arrays = got
        except background.Stopped:
            self.error = "stopped"
        except Exception as e:  # shown on the rankings page; the map never depends on it
            self.error = f"{type(e).__name__}: {e}"


@st.cache_resource(show_spinner=False)
def _jobs() -> dict:
    return {}


_KEEP = 6


def start(c) -> AnalysisJob | None:
    """Start (once per checkpoint and sample) or find the figures' job for the pages' Ctx."""
    if not c.has_data:
        return None
    jobs, key = _jobs(), (c.ck.sha256, c.data_key)
    with _LOCK:
        job = jobs.get(key)
        if job is None or job.error == "stopped":
            job = AnalysisJob()
            jobs[key] = job
            for k in [k for k, j in jobs.items() if j.done][:-_KEEP]:
                del jobs[k]
            background.start(job.run, "analysis", c.ck, c.data_key, c.images, c.labels,
                             {"mu": c.enc["mu"], "kl": c.enc["kl"]})
    return job


@st.cache_resource(max_entries=8, show_spinner=False)
def neighbours_kept(sha: str, map_key: str, _mu, _xy, _latent_idx=None) -> np.ndarray:
    """Per-point share of latent neighbours the map keeps (disk-cached per map)."""
    params = {"map": map_key, "k": rankings.K, "v": VERSION}
    got, _ = cache.get_or_compute(
        sha, "honesty", params,
        lambda: {"kept": honesty.neighbours_kept(_mu, _xy, rankings.K, _latent_idx)})
    return got["kept"]


def started(c) -> bool:
    """Whether the figures' job for this checkpoint and sample runs or ran (start() is a no-op)."""
    job = _jobs().get((c.ck.sha256, c.data_key))
    return job is not None and job.error != "stopped"


def ready_figures(c) -> dict | None:
    """The figures if computed (no waiting)."""
    job = _jobs().get((c.ck.sha256, c.data_key))
    return job.arrays if job is not None else None


KEPT_TITLE = f"share of {rankings.K} latent neighbours kept"
# Latent k-NN in the page run: ~0.5-1 s at 10k here; 11-25 s at 70k. The browser test lowers it
# (environment) to take the background path on a small sample.
SYNC_KNN_MAX = int(os.environ.get("VAE_EXPLORER_SYNC_KNN_MAX", "20000"))


def kept_layer(c, m) -> tuple[np.ndarray, str] | None:
    """The map's 'Neighbours kept' colour values and its legend title with the map's figure.
    None while a large sample's latent k-NN is still being computed in the background (the map
    is never held up for it: 16-D k-NN takes 11-25 s at 70k points on 2 busy cores)."""
    figs = ready_figures(c)
    if figs is None and len(c.enc["mu"]) > SYNC_KNN_MAX:
        return None
    kept = neighbours_kept(c.ck.sha256, m.key, c.enc["mu"], m.xy,
                           None if figs is None else figs["knn_idx"])
    return kept, f"{KEPT_TITLE} (map: {honesty.map_figure(kept):.2f})"


def kept_waiting(c) -> bool:
    """Whether the 'Neighbours kept' layer waits for the background figures (large samples)."""
    return ready_figures(c) is None and len(c.enc["mu"]) > SYNC_KNN_MAX


def kept_progress(c) -> None:
    """While the layer waits: a note, and a rerun once the figures are in. Without it the map
    stayed coloured by label after they arrived, until something else reran the page."""
    if not kept_waiting(c):
        return

    @st.fragment(run_every=1.0)
    def _poll():
        if not kept_waiting(c):
            st.rerun()
        job = _jobs().get((c.ck.sha256, c.data_key))
        if job is not None and job.error:
            st.caption("The neighbours-kept figures could not be computed; colouring by label.")
        else:
            st.caption("Colouring by neighbours kept once the per-point figures are ready "
                       "(computed in the background); by label meanwhile.")

    _poll()
