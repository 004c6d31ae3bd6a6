"""At most a few heavy jobs at a time across all the sessions of one server.

A classroom shares one laptop: what a student can start that takes seconds of CPU or hundreds of
MB (validating an upload, converting a tutorial file, a UMAP / t-SNE of a new sample, the
per-point figures) goes through GATE, so 30 students asking at once run one or two jobs at a time
and the rest wait their turn (first come, first served) instead of failing or taking the server.
Memory is bounded the same way: SLOTS times what one job may use (upload limit, the converter's
address-space limit). No streamlit import here.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from contextlib import contextmanager
from typing import Callable, Iterator

# Two: one job never waits behind another long one on a 2-core laptop, and the page stays served.
SLOTS = max(1, int(os.environ.get("VAE_EXPLORER_HEAVY_JOBS", 2)))
POLL_S = 1.0  # how often a waiter reports (and may be told to give up) while nothing changes


def waiting_message(ahead: int) -> str:
    jobs = "job" if ahead == 1 else "jobs"
    return f"waiting for {ahead} other {jobs} on this server (one or two run at a time)"


class Gate:
    """A first-come, first-served counting semaphore that says how many jobs are ahead."""

    def __init__(self, slots: int):
        self.slots = slots
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()  # waiting tickets, oldest first
        self._running = 0

    def counts(self) -> tuple[int, int]:
        """(running, waiting)."""
        with self._cond:
            return self._running, len(self._queue)

    @contextmanager
    def slot(self, on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
        """Run the body once a slot is free. While waiting, on_wait(jobs ahead) is called at
        least every POLL_S seconds; an exception it raises (the session stopped, the server
        exits) leaves the queue and propagates."""
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self._running >= self.slots:
                    if on_wait is not None:
                        on_wait(self._running + self._queue.index(ticket))
                    self._cond.wait(POLL_S)
            except BaseException:
                self._queue.remove(ticket)
                self._cond.notify_all()
                raise
            self._queue.popleft()
            self._running += 1
            self._cond.notify_all()  # the next in line may fit in a second free slot
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


GATE = Gate(SLOTS)
