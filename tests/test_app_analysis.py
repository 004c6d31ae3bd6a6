"""The analysis pages through AppTest on small generated checkpoints (shapes: no download)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from _explorer_helpers import make_checkpoint
from explorer import checkpoints

APP = str(Path(__file__).resolve().parent.parent / "explorer" / "app.py")


@pytest.fixture()
def env(tmp_path, monkeypatch):
    d = tmp_path / "checkpoints"
    d.mkdir()
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=2)
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(d))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VAE_DATA_ROOT", str(tmp_path / "no-data-here"))
    return d


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def _ready(at: AppTest, page: str) -> AppTest:
    """Rerun the page until the background figures are in (the page itself never waits)."""
    for _ in range(120):
        at.switch_page(page).run()
        _ok(at)
        if not any("Per-point figures" in i.value for i in at.info):
            return at
        time.sleep(0.5)
    raise AssertionError("the per-point figures never arrived")


def test_rankings_page_shows_a_progress_note_then_each_ranking(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    _ok(at)
    at = _ready(at, "views/wrong.py")
    assert [t.value for t in at.title] == ["What it gets wrong"]
    for rank in ("rec", "kl", "elbo", "mislabel", "outlier"):
        at.segmented_control(key="wrong_rank").set_value(rank).run()
        _ok(at)
    assert any("worst first" in c.value for c in at.caption)


def test_attribute_page_with_labels_and_with_selections(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("views/attributes.py").run()
    _ok(at)
    assert [t.value for t in at.title] == ["Attribute vectors"]
    assert at.radio(key="attr_src").options == ["Two labels"]
    at.slider(key="attr_alpha").set_value(-1.5).run()
    _ok(at)
    assert len(at.get("image")) >= 3  # A, A + alpha v, the filmstrip
    assert any("A + -1.5" in str(e.proto) for e in at.get("image"))
    at.session_state["sel_s1"] = [0, 1, 2]
    at.session_state["sel_s2"] = [3, 4]
    at.run()
    at.radio(key="attr_src").set_value("S1 → S2").run()
    _ok(at)
    assert any("S1 (3 points) → S2 (2 points)" in t.value for t in at.text)
    at.session_state["sel_s2"] = ["junk"]  # someone else's key: read defensively
    at.run()
    _ok(at)


def test_map_colours_by_neighbours_kept_with_the_map_figure(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.segmented_control(key="w_colour_by").set_value("kept").run()
    _ok(at)
    assert at.query_params.get("colour") in ("kept", ["kept"])
