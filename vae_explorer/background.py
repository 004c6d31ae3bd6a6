"""The explorer's background threads (model load, reconstructions), finished before the process
exits.

A daemon thread that is still inside a torch op when the interpreter shuts down aborts the whole
process ("terminate called without an active exception", exit status 134): a teacher pressing
Ctrl-C during a cold open would see a crash. So every thread is started here; at exit `stopping`
is set, long jobs give up at their next step (`check()`), and the exit waits for them.
"""
from __future__ import annotations

import atexit
import gc
import sys
import threading
import time

stopping = threading.Event()
_threads: list[threading.Thread] = []
_lock = threading.Lock()
EXIT_WAIT_S = 10.0  # a step is one batch or one model load: well under a second or two


class Stopped(Exception):
    """Raised by check() once the process is exiting."""


def check() -> None:
    if stopping.is_set():
        raise Stopped("the explorer is shutting down")


def start(target, name: str, *args) -> threading.Thread:
    t = threading.Thread(target=target, args=args, name=name, daemon=True)
    with _lock:
        _threads[:] = [x for x in _threads if x.is_alive()]
        _threads.append(t)
    t.start()
    return t


def finish(timeout: float = EXIT_WAIT_S) -> bool:
    """Ask the threads to stop and wait for them; True when none is left running."""
    stopping.set()
    deadline = time.monotonic() + timeout
    with _lock:
        threads = list(_threads)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in threads)


FREEZE_AFTER_MODULES = 50  # new modules since the last freeze (torch alone brings ~1,000)
_modules_at_freeze = 0


def settle_heap() -> bool:
    """Move every object alive now into the collector's permanent generation (gc.freeze) once
    the process has imported a lot since the last time; True when it did.

    Streamlit runs a full gc.collect() after every script run (runner.postScriptGC). With torch
    imported that walks ~230,000 module-level objects that live as long as the process: 0.1-0.2 s
    of every rerun here, 5-10x the script itself. Frozen objects are still freed by reference
    counting; only cycles among them are never collected, and what is frozen is mostly modules.
    Called after each script run: len(sys.modules) is the cheap sign that a big import happened.
    """
    global _modules_at_freeze
    n = len(sys.modules)
    if n - _modules_at_freeze < FREEZE_AFTER_MODULES:
        return False
    _modules_at_freeze = n
    gc.freeze()
    return True


atexit.register(finish)
