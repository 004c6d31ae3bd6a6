"""Heavy jobs (uploads' validation, tutorial conversions, projections, per-point figures) run at
most heavy.GATE.slots at a time across all sessions; the others wait their turn, told how many
jobs are ahead, and none is lost."""
from __future__ import annotations

import subprocess
import threading
import time

import numpy as np
import pytest

from vae_explorer import checkpoints, heavy, projection_jobs, projections, tutorial_import

WAIT_S = 60  # only a bound on waiting for threads to get somewhere, never a timing assertion


def _until(cond, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Jobs:
    """Threads that each take a slot of `gate`, then hold it until released by the test."""

    def __init__(self, gate: heavy.Gate):
        self.gate, self.lock = gate, threading.Lock()
        self.started: list[int] = []
        self.finished: list[int] = []
        self.aheads: dict[int, list[int]] = {}
        self.running = self.most_running = 0
        self.release: dict[int, threading.Event] = {}
        self.threads: list[threading.Thread] = []

    def _job(self, i: int) -> None:
        with self.gate.slot(on_wait=lambda ahead: self.aheads.setdefault(i, []).append(ahead)):
            with self.lock:
                self.started.append(i)
                self.running += 1
                self.most_running = max(self.most_running, self.running)
            self.release[i].wait(WAIT_S)
            with self.lock:
                self.running -= 1
                self.finished.append(i)

    def ask(self, i: int) -> None:
        """Start job i once every earlier one is running or queued (a known arrival order)."""
        self.release[i] = threading.Event()
        t = threading.Thread(target=self._job, args=(i,), daemon=True)
        self.threads.append(t)
        t.start()
        _until(lambda: sum(self.gate.counts()) == i + 1 - len(self.finished), f"job {i} queued")


def test_five_jobs_two_slots_two_run_the_rest_queue_in_order_none_lost():
    gate = heavy.Gate(2)
    jobs = Jobs(gate)
    for i in range(5):
        jobs.ask(i)
    assert gate.counts() == (2, 3) and jobs.started == [0, 1]
    _until(lambda: all(i in jobs.aheads for i in (2, 3, 4)), "the waiters' first report")
    assert [jobs.aheads[i][0] for i in (2, 3, 4)] == [2, 3, 4]  # running + queued before it
    for i in range(5):
        jobs.release[i].set()
        _until(lambda: len(jobs.finished) == i + 1, f"job {i} done")
        assert jobs.started == list(range(min(5, i + 3)))  # first come, first served
    for t in jobs.threads:
        t.join(WAIT_S)
    assert jobs.most_running == 2 and sorted(jobs.finished) == [0, 1, 2, 3, 4]
    assert gate.counts() == (0, 0)


def test_a_waiter_that_gives_up_leaves_the_queue_and_the_next_one_runs():
    gate = heavy.Gate(1)
    jobs = Jobs(gate)
    jobs.ask(0)

    class Left(Exception):
        pass

    def leave(ahead):
        raise Left  # e.g. Streamlit stopping a session's script while it waits

    with pytest.raises(Left):
        with gate.slot(on_wait=leave):
            pytest.fail("ran without a free slot")
    assert gate.counts() == (1, 0)
    jobs.ask(1)
    jobs.release[0].set()
    jobs.release[1].set()
    for t in jobs.threads:
        t.join(WAIT_S)
    assert jobs.finished == [0, 1] and gate.counts() == (0, 0)


@pytest.fixture
def full_gate(monkeypatch):
    """heavy.GATE with its one slot taken by another job until the test releases it."""
    gate = heavy.Gate(1)
    monkeypatch.setattr(heavy, "GATE", gate)
    release, taken = threading.Event(), threading.Event()

    def other():
        with gate.slot():
            taken.set()
            release.wait(WAIT_S)

    t = threading.Thread(target=other, daemon=True)
    t.start()
    taken.wait(WAIT_S)
    yield gate, release
    release.set()
    t.join(WAIT_S)


def _in_thread(fn):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("result", fn()), daemon=True)
    t.start()
    return t, out


def test_an_upload_waits_for_a_slot_instead_of_failing(full_gate):
    gate, release = full_gate
    seen = []
    data = checkpoints.default_checkpoint().read_bytes()
    t, out = _in_thread(lambda: checkpoints.open_bytes(data, "up.safetensors", on_wait=seen.append))
    _until(lambda: seen, "the upload to report that it waits")
    assert seen[0] == 1 and gate.counts() == (1, 1) and "result" not in out
    release.set()
    t.join(WAIT_S)
    ck, err = out["result"]
    assert err is None and ck.model_config.latent_dim == 2


def test_a_tutorial_conversion_waits_for_a_slot_instead_of_failing(full_gate, monkeypatch):
    gate, release = full_gate
    seen = []
    monkeypatch.setattr(tutorial_import, "inspect_bytes", lambda *a: "")
    monkeypatch.setattr(tutorial_import.subprocess, "run", lambda args, **k: subprocess.CompletedProcess(
        args, 0, stdout=b'{"error": "the child ran"}', stderr=b""))
    t, out = _in_thread(lambda: tutorial_import.convert_bytes(b"x", "m.pth", "mnist", 2**20,
                                                              on_wait=seen.append))
    _until(lambda: seen, "the conversion to report that it waits")
    assert seen[0] == 1 and gate.counts() == (1, 1) and "result" not in out
    release.set()
    t.join(WAIT_S)
    assert out["result"].error == "the child ran" and gate.counts() == (0, 0)


def test_a_projection_job_is_queued_with_a_message_then_runs(full_gate, tmp_path, monkeypatch):
    gate, release = full_gate
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    job = projection_jobs.start_job(x, "pca", "e" * 64, "proj-pca",
                                projections.cache_params("pca", len(x), 0, "t"))
    try:
        _until(lambda: job.ahead == 1, "the job to queue")
        state, frac, stage = job.poll()
        assert (state, frac, job.proc) == ("running", 0.0, None)
        assert stage.startswith("waiting for 1 other job on this server") and stage.endswith(" s")
        release.set()
        _until(lambda: job.poll()[0] != "running", "the job to finish")
        assert job.poll()[0] == "done" and job.result().shape == (40, 2)
    finally:
        job.cancel()
