"""vae_explorer.modelstart: the map page starts the model load once its map says it is drawn.

The app-level check (a warm open imports no torch until then, and loads it after) is
tests/test_app.py::test_warm_open_draws_the_map_before_torch_loads; the browser's side is
tests/e2e/test_ready_e2e.py.
"""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from vae_explorer import latent_map as lm, modelstart

REPO = Path(__file__).resolve().parent.parent


def test_the_map_page_waits_for_ready_and_other_pages_start_at_once():
    ss: dict = {}
    assert not modelstart.should_start(ss, "", has_data=True)  # the map page: url path ""
    assert not modelstart.should_start(ss, "map", has_data=True)
    assert modelstart.should_start(ss, "interpolate", has_data=True)  # decodes: wants the model
    assert modelstart.should_start(ss, "", has_data=False)  # no map to draw, nothing says ready
    modelstart.map_drawn(ss)
    assert modelstart.should_start(ss, "", has_data=True)


def _ctx(loaded: bool, pending=None, controls: bool = True):
    from types import SimpleNamespace as NS

    return NS(ck=NS(load_started=loaded, sha256="ab" * 32), data_key="dk-modelstart",
              has_data=True, extras={} if pending is None else {"recon_pending": pending},
              controls=controls)


def test_only_a_sessions_first_run_on_the_map_page_with_a_client_is_staged():
    ss: dict = {}
    assert modelstart.first_render_staged(ss, "", client=True)  # the map page: url path ""
    assert not modelstart.first_render_staged(ss, "", client=True)  # any later run: everything
    assert modelstart.first_render_staged({}, "map", client=True)
    assert not modelstart.first_render_staged({}, "grid", client=True)  # other pages in full
    assert not modelstart.first_render_staged({}, "", client=False)  # AppTest: never says ready
    other = {}
    modelstart.first_render_staged(other, "grid", client=True)
    assert not modelstart.first_render_staged(other, "", client=True)  # a return to the map


def test_a_map_drawn_before_its_controls_is_asked_for_ready_even_when_all_is_started(monkeypatch):
    from vae_explorer import compute_analysis

    monkeypatch.setattr(compute_analysis, "started", lambda c: True)
    assert not modelstart.want_ready({}, _ctx(loaded=True))  # started by another session
    assert modelstart.want_ready({}, _ctx(loaded=True, controls=False))  # ready brings them


def test_the_map_asks_for_ready_only_until_it_came(monkeypatch):
    from vae_explorer import compute_analysis

    monkeypatch.setattr(compute_analysis, "started", lambda c: False)
    ss: dict = {}
    c = _ctx(loaded=False)
    assert modelstart.want_ready(ss, c)
    modelstart.map_drawn(ss)
    assert not modelstart.want_ready(ss, c)  # later mounts send nothing: no extra rerun


def test_a_later_session_is_not_asked_for_ready_once_everything_is_started(monkeypatch):
    from vae_explorer import compute, compute_analysis

    figures = {"started": False}
    monkeypatch.setattr(compute_analysis, "started", lambda c: figures["started"])
    assert modelstart.want_ready({}, _ctx(loaded=True))  # model loading, figures not started
    figures["started"] = True
    assert not modelstart.want_ready({}, _ctx(loaded=True))  # another session started both
    assert modelstart.want_ready({}, _ctx(loaded=False))
    # A sample of its own whose reconstructions nobody started: it asks.
    monkeypatch.setattr(compute, "reconstructions", lambda sha, dk: (None, None))
    assert modelstart.want_ready({}, _ctx(loaded=True, pending=("sha", "dk-other")))
    monkeypatch.setattr(compute, "reconstructions", lambda sha, dk: (None, object()))
    assert not modelstart.want_ready({}, _ctx(loaded=True, pending=("sha", "dk-other")))


def test_every_script_run_after_ready_starts_the_work_and_starting_twice_is_harmless(monkeypatch):
    """start() hands each job to its once-only starter (a later session finds them started)."""
    from types import SimpleNamespace as NS

    from vae_explorer import compute, compute_analysis

    calls = []
    monkeypatch.setattr(compute, "warm_up", lambda ck: calls.append(("model", ck)))
    monkeypatch.setattr(compute, "start_reconstruction", lambda *a: calls.append(("recon", a[0])))
    monkeypatch.setattr(compute_analysis, "start", lambda c: calls.append(("figures", c.data_key)))
    modelstart.start(NS(ck="ck", extras={}, data_key="dk"))
    assert calls == [("model", "ck"), ("figures", "dk")]
    calls.clear()
    modelstart.start(NS(ck="ck", extras={"recon_pending": ("sha", "dk")}, data_key="dk"))
    assert calls == [("model", "ck"), ("recon", "sha"), ("figures", "dk")]


MAP_APP = """
import sys
sys.path.insert(0, {repo!r})
import numpy as np, streamlit as st
from vae_explorer.latent_map import latent_map
rng = np.random.default_rng(0)
xy = rng.normal(size=(50, 2)).astype(np.float32)
imgs = rng.integers(0, 255, (50, 4, 4, 1), dtype=np.uint8)
on_ready = None if st.session_state.get("no_ready") else (lambda: None)
latent_map(xy, np.arange(50) % 3, ["a", "b", "c"], imgs, imgs, imgs[:16], (-1, 1, -1, 1),
           key="m", on_ready=on_ready)
"""


def test_the_component_is_told_whether_to_send_ready(tmp_path):
    script = tmp_path / "app.py"
    script.write_text(MAP_APP.format(repo=str(REPO)))
    at = AppTest.from_file(str(script)).run()
    assert not at.exception

    def sent() -> dict:
        for node in at._tree.children[0].children.values():
            if getattr(node, "type", "") == "bidi_component":
                return lm.unpack_frame(node.proto.bytes)
        raise AssertionError("no component element")

    assert sent()["wantReady"] is True
    at.session_state["no_ready"] = True
    at.run()
    assert sent()["wantReady"] is False
