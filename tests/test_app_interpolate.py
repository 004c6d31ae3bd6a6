"""The Interpolation page's A / B choosers (AppTest, small generated checkpoints)."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from _explorer_helpers import app_env, make_checkpoint
from vae_explorer import checkpoints

APP = str(Path(__file__).resolve().parent.parent / "vae_explorer" / "app.py")


@pytest.fixture()
def at(tmp_path, monkeypatch):
    d = tmp_path / "ck"
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=2)
    app_env(monkeypatch, d, tmp_path)
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.switch_page("views/interpolate.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def _modes(at):
    return [at.selectbox(key=f"w_mode_{n}").value for n in ("a", "b")]


def test_choosers_show_points_a_click_on_the_map_set_after_they_were_drawn(at):
    """The page was open with no A / B (its choosers drawn, empty); two clicks on its map set
    them: the choosers then say which data points they are (they kept "choose A…")."""
    assert _modes(at) == [None, None]
    at.session_state["point_a"] = {"kind": "index", "index": 7}  # what a click on a map does
    at.session_state["point_b"] = {"kind": "z", "z": [0.25, -1.0]}  # a click on empty space
    at.run()
    assert not at.exception
    assert _modes(at) == ["Dataset point", "Typed latent"]
    assert at.number_input(key="w_idx_a").value == 7
    assert at.text_area(key="w_typed_b").value == "0.25, -1"


def test_a_mode_the_user_picks_stays_while_its_point_is_not_valid(at):
    at.session_state["point_a"] = {"kind": "index", "index": 7}
    at.run()
    at.selectbox(key="w_mode_a").set_value("Typed latent").run()
    assert _modes(at)[0] == "Typed latent"
    at.text_area(key="w_typed_a").set_value("1, 2").run()
    assert at.session_state["point_a"] == {"kind": "z", "z": [1.0, 2.0]}
    at.text_area(key="w_typed_a").set_value("1, 2, 3").run()  # not 2-D: A stays, and so does
    assert at.session_state["point_a"] == {"kind": "z", "z": [1.0, 2.0]}  # the chosen mode
    assert _modes(at)[0] == "Typed latent"
    at.selectbox(key="w_mode_a").set_value("Prior sample").run()
    assert at.session_state["point_a"]["kind"] == "z" and at.session_state["point_a"]["z"] != [1, 2]
    at.run()
    assert _modes(at)[0] == "Prior sample"  # it shows its own point: kept
    at.selectbox(key="w_mode_a").set_value("First of a label").run()
    at.run()
    assert _modes(at)[0] == "First of a label"


def test_a_typed_latent_that_does_not_parse_stays_with_its_error(at):
    """Typed numbers that are not a latent (here 3 for a 2-D one) are left as typed, with the
    reason beside them, and A keeps its last valid point; they used to be replaced at once by
    that point's numbers, so the typing seemed to be ignored, with no error."""
    at.selectbox(key="w_mode_a").set_value("Typed latent").run()
    at.text_area(key="w_typed_a").set_value("1, 2").run()
    at.text_area(key="w_typed_a").set_value("1, 2, 3").run()
    assert not at.exception
    assert at.text_area(key="w_typed_a").value == "1, 2, 3"
    assert at.session_state["point_a"] == {"kind": "z", "z": [1.0, 2.0]}
    assert any("2" in e.value for e in at.error), [e.value for e in at.error]
    at.text_area(key="w_typed_a").set_value("0.5, -1").run()  # fixed: A follows, no error
    assert at.session_state["point_a"] == {"kind": "z", "z": [0.5, -1.0]}
    assert not at.error


def test_the_typed_box_shows_the_point_when_it_appears(at):
    at.selectbox(key="w_mode_a").set_value("Prior sample").run()
    z = at.session_state["point_a"]["z"]
    at.selectbox(key="w_mode_a").set_value("Typed latent").run()
    assert not at.exception and _modes(at)[0] == "Typed latent"
    assert at.text_area(key="w_typed_a").value == ", ".join(f"{v:.3g}" for v in z)
    assert not at.error
