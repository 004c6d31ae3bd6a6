"""Many students on one server (issue 12): what a rerun and an open cost the server and the
network, asserted as counts and bytes, never as times (bench/classroom_load.py has the times)."""
from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from _explorer_helpers import make_checkpoint
from vae_explorer import background, checkpoints

APP = str(Path(__file__).resolve().parent.parent / "vae_explorer" / "app.py")


@pytest.fixture(scope="module")
def ck_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("checkpoints")
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=2)
    return d


@pytest.fixture()
def env(ck_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(ck_dir))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VAE_DATA_ROOT", str(tmp_path / "no-data-here"))
    return ck_dir


@pytest.fixture()
def unfrozen(monkeypatch):
    gc.unfreeze()
    monkeypatch.setattr(background, "_modules_at_freeze", 0, raising=False)
    yield
    gc.unfreeze()


def test_settle_heap_freezes_after_big_imports_only(unfrozen, monkeypatch):
    assert gc.get_freeze_count() == 0
    assert background.settle_heap()  # torch etc. are imported in this process
    frozen = gc.get_freeze_count()
    assert frozen > 10_000
    assert not background.settle_heap()  # nothing new imported: no second freeze
    monkeypatch.setattr(background, "_modules_at_freeze",
                        len(sys.modules) - background.FREEZE_AFTER_MODULES)
    assert background.settle_heap()


def test_a_script_run_leaves_the_imported_modules_out_of_the_next_collection(env, unfrozen):
    """Streamlit's gc.collect() after every run walked torch's ~230,000 objects (0.1-0.2 s of
    each rerun on 2 cores); after the app's first run they sit in the permanent generation."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert gc.get_freeze_count() > 10_000
    tracked = len(gc.get_objects())  # what a collection still walks
    assert tracked < gc.get_freeze_count() / 2
