"""vae_explorer.lazy_imports: heavy libraries imported on first use by several threads at once.

Two threads importing scikit-learn for the first time at once (a page's factor table and the
per-point figures' background job) raised importlib's _DeadlockError in CI. Its cause, a
package and its module that import each other, each thread holding one's import lock, is
built here from two small files, so that the failure does not depend on luck.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from vae_explorer import lazy_imports

REPO = Path(__file__).resolve().parent.parent


def _someone_waits_for(name: str) -> bool:
    """Another thread is blocked on the import lock of module `name`."""
    from importlib import _bootstrap

    for v in list(_bootstrap._blocking_on.values()):
        for lock in (v if isinstance(v, list) else [v]):  # a list from Python 3.12
            if getattr(lock, "name", None) == name:
                return True
    return False


class _HoldWhileCreating(importlib.machinery.SourceFileLoader):
    """Keeps the thread importing a package where it holds the package's import lock and has
    no module in sys.modules yet (module creation) until another thread waits for that lock,
    or 2 s (with lazy_imports' lock nobody does). scikit-learn's imports are long enough to
    meet there by chance; here it is certain. (Not in find_spec: that runs under the global
    import lock, which would stop the other thread earlier.)"""

    def __init__(self, fullname: str, path: str):
        super().__init__(fullname, path)
        self.inside = threading.Event()

    def create_module(self, spec):
        self.inside.set()
        deadline = time.monotonic() + 2.0
        while not _someone_waits_for(spec.name) and time.monotonic() < deadline:
            time.sleep(0.01)
        return None  # the default module


class _Finder:
    """Finds the package with that loader, once."""

    def __init__(self, pkg: str, folder: Path):
        self.pkg, self.folder = pkg, folder
        self.loader = _HoldWhileCreating(pkg, str(folder / "__init__.py"))

    def find_spec(self, name, path=None, target=None):
        if name != self.pkg or self.loader.inside.is_set():
            return None  # the usual finders
        return importlib.util.spec_from_file_location(
            name, self.loader.path, loader=self.loader, submodule_search_locations=[str(self.folder)])


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A fresh package P whose __init__ imports P.sub (as sklearn/__init__.py imports its
    subpackages). Thread 1 imports P: it holds P's lock. Thread 2 imports P.sub: it holds
    P.sub's lock and, P not being in sys.modules, imports P first: it waits for thread 1.
    Thread 1 then runs P's `from . import sub` and waits for thread 2: a deadlock, which
    importlib reports by raising _DeadlockError in one of them."""
    pkg = f"lazy_pkg_{uuid.uuid4().hex[:8]}"
    (tmp_path / pkg).mkdir()
    (tmp_path / pkg / "__init__.py").write_text("from . import sub\nNAME = __name__\n")
    (tmp_path / pkg / "sub.py").write_text("NAME = __name__\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = _Finder(pkg, tmp_path / pkg)
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    yield finder


def _package_and_sub_at_once(fn, finder: _Finder) -> tuple[dict, list[str]]:
    """fn(P) in one thread; fn(P.sub) in another once the first is inside P's import."""
    pkg, sub = finder.pkg, finder.pkg + ".sub"
    got: dict[str, object] = {}
    errors: list[str] = []

    def run(name: str) -> None:
        if name == sub:
            finder.loader.inside.wait(30)
        try:
            got[name] = fn(name)
        except Exception as e:  # noqa: BLE001  (the test reports what each thread raised)
            errors.append(f"{name}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=run, args=(n,)) for n in (pkg, sub)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "an import never finished"
    return got, errors


def test_plain_imports_of_a_package_and_its_module_in_two_threads_deadlock(package):
    """The set-up reproduces CI's failure without the lock (else the next test proves nothing)."""
    _, errors = _package_and_sub_at_once(importlib.import_module, package)
    assert any("DeadlockError" in e for e in errors), errors


def test_load_of_a_package_and_its_module_in_two_threads_gives_each_its_module(package):
    got, errors = _package_and_sub_at_once(lazy_imports.load, package)
    assert errors == []
    pkg, sub = package.pkg, package.pkg + ".sub"
    assert got[pkg].NAME == pkg and got[sub].NAME == sub and got[pkg].sub is got[sub]


def test_load_returns_an_imported_module_without_the_lock():
    """A module already imported is returned at once, even while another thread holds the lock
    (e.g. a long first import of scikit-learn): a rerun's lookups never wait for it."""
    with lazy_imports._LOCK:
        box = []
        t = threading.Thread(target=lambda: box.append(lazy_imports.load("json")))
        t.start()
        t.join(10)
    assert box == [json]


LOAD_ALL = r"""
import json, sys, threading
sys.path.insert(0, sys.argv[1])
from vae_explorer.lazy_imports import load
names = ["sklearn.neighbors", "sklearn.metrics", "sklearn.manifold", "scipy.spatial",
         "scipy.linalg", "pandas"] * 2
start = threading.Barrier(len(names))
got, errors = {}, []
def run(i, name):
    start.wait()
    try:
        got[i] = load(name).__name__
    except Exception as e:
        errors.append(f"{name}: {type(e).__name__}: {e}")
threads = [threading.Thread(target=run, args=(i, n)) for i, n in enumerate(names)]
for t in threads: t.start()
for t in threads: t.join(240)
print(json.dumps({"got": [got.get(i) for i in range(len(names))], "names": names,
                  "errors": errors}))
"""


def test_many_threads_loading_the_heavy_libraries_at_once_all_get_them():
    """The real libraries, in a fresh process (this one may have imported them already)."""
    out = subprocess.run([sys.executable, "-c", LOAD_ALL, str(REPO)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["errors"] == [] and res["got"] == res["names"], res
