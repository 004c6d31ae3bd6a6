"""The projection worker's temporary folders (vae-proj-*) do not outlive their job or the app."""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import pytest

from vae_explorer import projection_jobs, projections


@pytest.fixture()
def tmp_root(tmp_path, monkeypatch):
    """An isolated system temp directory (what TMPDIR sets) and disk cache."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "tmp"


def _left(root):
    return sorted(p.name for p in root.glob("vae-proj-*"))


def _wait(job, limit=120):
    t0 = time.monotonic()
    while job.poll()[0] == "running" and time.monotonic() - t0 < limit:
        time.sleep(0.1)
    return job.poll()


def test_finished_job_removes_its_folder_and_keeps_its_result(tmp_root):
    x = np.random.default_rng(0).normal(size=(50, 5)).astype(np.float32)
    params = projections.cache_params("pca", len(x), 0, "t")
    job = projection_jobs.start_job(x, "pca", "a" * 64, "proj-pca", params)
    assert _left(tmp_root), "the worker's folder exists while it runs"
    assert _wait(job)[0] == "done"
    assert _left(tmp_root) == []
    assert job.result().shape == (50, 2)


def test_failed_job_removes_its_folder_and_reports_the_error(tmp_root):
    job = projection_jobs.start_job(np.zeros((5, 3), np.float32), "nope", "b" * 64, "proj-nope", {})
    state, _, msg = _wait(job)
    assert state == "error" and "unknown projection" in msg
    assert _left(tmp_root) == []


def test_exit_cleanup_stops_running_workers_and_removes_folders(tmp_root):
    x = np.zeros((20, 3), np.float32)
    job = projection_jobs.start_job(x, "umap", "c" * 64, "proj-umap", {"n": 20})
    assert job.poll()[0] == "running"
    projection_jobs.cleanup_jobs()  # what atexit runs
    assert job.proc.poll() is not None
    assert _left(tmp_root) == []


def test_running_job_reports_seconds_in_its_stage(tmp_root):
    job = projection_jobs.start_job(np.zeros((20, 3), np.float32), "umap", "d" * 64, "proj-umap", {})
    try:
        state, _, stage = job.poll()
        assert state == "running" and stage.endswith(" s") and "…" in stage
    finally:
        job.cancel()


def test_stale_folders_of_dead_processes_are_removed(tmp_root):
    dead = tmp_root / "vae-proj-umap-999999999-abc"  # no such pid
    mine = tmp_root / f"vae-proj-umap-{os.getpid()}-abc"
    other = tmp_root / "unrelated"
    for d in (dead, mine, other):
        d.mkdir()
    assert projection_jobs.remove_stale_workdirs() == 1
    assert not dead.exists() and mine.exists() and other.exists()
