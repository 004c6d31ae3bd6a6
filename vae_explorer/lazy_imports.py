"""Heavy libraries imported on first use, one thread at a time: `load("sklearn.neighbors")`.

scikit-learn + scipy (~1.5 s loaded) and pandas (~0.6 s) are only needed after a click, a
selection or on other pages, so the map's first run does not import them (docs/benchmarks.md,
"Warm open"). But importing them lazily from two threads at once (a page computing factor
scores in the script thread and the per-point figures' background job) raised importlib's
_DeadlockError in CI: scikit-learn's packages import each other, and each thread held one
module's import lock while waiting for the other's. Every lazy import of these libraries (and
of those that import them: umap, openTSNE) goes through load(), which imports under one
process-wide lock, so a second thread waits for the first import to finish, then finds the
module done. Nothing here imports them itself.
"""
from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

# Reentrant: importing one of these may run code that calls load() again in the same thread.
_LOCK = threading.RLock()


def _done(mod: ModuleType | None) -> bool:
    """In sys.modules and finished: a module another thread is still executing is already in
    sys.modules, marked by its spec's _initializing flag."""
    return mod is not None and not getattr(getattr(mod, "__spec__", None), "_initializing", False)


def load(name: str) -> ModuleType:
    """The module `name` (e.g. "sklearn.neighbors", "scipy.spatial", "pandas"), imported once per
    process under the lock; an already imported module is returned without taking it."""
    mod = sys.modules.get(name)
    if _done(mod):
        return mod
    with _LOCK:
        return importlib.import_module(name)
