"""A session's first run on the map page draws the map before its controls (modelstart.
first_render_staged): the sidebar's widgets and the map page's come with the next run, which
the map's ready trigger causes. Here through AppTest, with a connected client pretended
(AppTest has none, so the app's other tests see full runs); the browser's side is
tests/e2e/test_ready_e2e.py."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from _explorer_helpers import app_env, make_checkpoint
from vae_explorer import checkpoints, compute, firstpaint, latent_map as lm, modelstart, state

APP = str(Path(__file__).resolve().parent.parent / "vae_explorer" / "app.py")
Z3 = "shapes-conv-z3.safetensors"


@pytest.fixture(scope="module")
def ck_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("checkpoints")
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=2)
    make_checkpoint(d / Z3, latent_dim=3, seed=2)
    make_checkpoint(d / "mnist-mlp-z5.safetensors", latent_dim=5, arch="mlp", hidden=(32,),
                    dataset="mnist", label_names=[str(i) for i in range(10)], seed=1)
    return d


@pytest.fixture()
def browser(ck_dir, tmp_path, monkeypatch):
    """A session as a browser's: a client connected."""
    app_env(monkeypatch, ck_dir, tmp_path)
    monkeypatch.setattr(state, "client_connected", lambda: True)
    return ck_dir


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def _map_data(at: AppTest) -> dict | None:
    """What the latent map element of the last run carries (latent_map.pack_frame's frame)."""
    todo = [at._tree]
    while todo:
        node = todo.pop()
        if getattr(node, "type", "") == "bidi_component":
            return lm.unpack_frame(node.proto.bytes)
        children = getattr(node, "children", None)
        todo += list(children.values()) if isinstance(children, dict) else []
    return None


def _widgets(at: AppTest) -> int:
    return sum(len(getattr(at.sidebar, kind)) for kind in
               ("radio", "selectbox", "toggle", "text_input", "select_slider"))


def test_the_first_map_render_leaves_the_controls_to_the_next_run(browser):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["ckpt"] = Z3
    at.query_params["colour"] = "kl"
    at.query_params["present"] = "1"
    at.run()
    _ok(at)
    assert _widgets(at) == 0 and not at.segmented_control and not at.text_input
    data = _map_data(at)
    assert data is not None and data["wantReady"] is True  # ready brings the controls
    # The link's settings apply to the first render's map already.
    assert at.session_state["active_ckpt_name"] == Z3
    assert data["colorTitle"] == "KL (nats)" and data["map"]["label"] == "PCA 1, PCA 2"
    assert data["height"] == 720  # presenter view
    # The map says ready: its callback marks the session, and the rerun draws everything,
    # the widgets showing the link's settings.
    modelstart.map_drawn(at.session_state)
    at.run()
    _ok(at)
    assert at.sidebar.selectbox(key="ck_pick").value == Z3
    assert at.sidebar.toggle(key="w_presenter").value is True
    assert at.segmented_control(key="w_colour_by").value == "kl"
    assert at.segmented_control(key="w_proj").value == "pca"
    data = _map_data(at)
    assert data["colorTitle"] == "KL (nats)" and data["wantReady"] is False
    assert at.query_params["colour"] in ("kl", ["kl"]) and at.query_params["ckpt"] in (Z3, [Z3])


def test_any_later_run_draws_the_controls_when_ready_never_comes(browser):
    """A client that never runs the map's JavaScript: its next run (a click) draws everything,
    with the sample size that the first render used."""
    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    assert _widgets(at) == 0
    n = at.session_state["data_n"]
    at.run()
    _ok(at)
    assert at.sidebar.selectbox(key="ck_pick").value == checkpoints.DEFAULT_NAME
    assert at.session_state["data_n"] == n and at.segmented_control(key="w_colour_by")
    assert _map_data(at)["wantReady"] is True  # still asked once (no ready came)


def test_other_pages_and_a_return_to_the_map_render_in_full(browser):
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("views/grid.py").run()  # a link to another page: nothing staged
    _ok(at)
    assert _widgets(at) >= 3
    at.switch_page("views/map.py").run()
    _ok(at)
    assert _widgets(at) >= 3 and at.segmented_control(key="w_colour_by")


def test_a_first_render_without_a_map_draws_everything_at_once(browser):
    """No map (here: the checkpoint's dataset is missing) means no ready: the staged run gives
    way to a full one, which shows what is missing and the sidebar's ways out."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["ckpt"] = "mnist-mlp-z5.safetensors"
    at.run()
    _ok(at)
    assert at.sidebar.selectbox(key="ck_pick").value == "mnist-mlp-z5.safetensors"
    assert at.warning and _map_data(at) is None


def test_without_a_client_the_first_run_is_whole(ck_dir, tmp_path, monkeypatch):
    app_env(monkeypatch, ck_dir, tmp_path)
    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    assert _widgets(at) >= 3 and at.segmented_control(key="w_colour_by")


def _tree(at: AppTest) -> list:
    """Every element and block of the page as (path, type, its proto's bytes): what the browser
    is sent, so two runs that give the same list draw the same page."""
    out, todo = [], [((), at._tree)]
    while todo:
        path, node = todo.pop()
        proto = getattr(node, "proto", None)
        out.append((path, getattr(node, "type", type(node).__name__),
                    proto.SerializeToString() if proto is not None else None))
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            todo += [((*path, k), v) for k, v in children.items()]
    return sorted(out, key=lambda t: t[0])


@pytest.fixture()
def new_tabs(browser, monkeypatch):
    """Sessions as a browser's, whose first run may replay a recorded first render."""
    monkeypatch.setattr(firstpaint, "client_connected", lambda: True)
    return browser


def _first_render_recorded() -> AppTest:
    """A usual first render on the default link, once the reconstructions are in (while they
    are computed the map says so below it, and nothing is recorded)."""
    for _ in range(600):
        at = AppTest.from_file(APP, default_timeout=120).run()
        _ok(at)
        if firstpaint.read() is not None:
            return at
        assert "ctx" in at.session_state  # the usual run
        modelstart.map_drawn(at.session_state)
        at.run()  # ready: the reconstructions start
        c = at.session_state["ctx"]
        while compute.reconstructions(c.ck.sha256, c.data_key)[0] is None:
            time.sleep(0.05)
    raise AssertionError("no first render was recorded")


def test_a_new_tab_on_the_default_link_gets_the_recorded_first_render(new_tabs):
    usual = _first_render_recorded()
    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    assert "ctx" not in at.session_state  # replayed: the app's own run never came
    assert _tree(at) == _tree(usual)  # the same elements, paths, map frame
    assert _map_data(at)["wantReady"] is True
    # Ready brings the controls; the map stays where it was and is sent no payload again.
    modelstart.map_drawn(at.session_state)
    at.run()
    _ok(at)
    assert at.sidebar.selectbox(key="ck_pick").value == checkpoints.DEFAULT_NAME
    assert at.segmented_control(key="w_colour_by")
    again = _map_data(at)
    assert again["blobs"] == {} and again["refs"] == _map_data(usual)["refs"]


def test_a_link_with_settings_another_page_or_a_changed_folder_is_not_replayed(
        new_tabs, monkeypatch):
    _first_render_recorded()
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["colour"] = "kl"
    at.run()
    _ok(at)
    assert "ctx" in at.session_state and _map_data(at)["colorTitle"] == "KL (nats)"
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("views/grid.py").run()
    _ok(at)
    assert "ctx" in at.session_state and _map_data(at) is None
    make_checkpoint(new_tabs / "another-z2.safetensors", latent_dim=2, seed=5)
    assert firstpaint.read() is None  # the folder's listing is in the record's key
    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    assert "ctx" in at.session_state


def test_a_damaged_record_is_ignored_and_rewritten(new_tabs):
    """Empty, foreign, a header that does not parse or is nested too deep, cut short in the
    header or in the frame: no replay, and the usual first render writes a new record."""
    _first_render_recorded()
    path = firstpaint._path()
    whole = path.read_bytes()
    nested = b"[" * 100_000 + b"]" * 100_000
    for junk in (b"", b"not a record", firstpaint.MAGIC + b"\xff\xff\xff\x7f{", whole[:200],
                 whole[:-10],  # the frame cut short
                 firstpaint.MAGIC + len(nested).to_bytes(4, "little") + nested):
        path.write_bytes(junk)
        assert firstpaint.read() is None
        at = AppTest.from_file(APP, default_timeout=120).run()
        _ok(at)
        assert "ctx" in at.session_state and _map_data(at) is not None
        assert firstpaint.read() is not None  # the usual first render wrote a new one


def test_a_record_that_cannot_be_written_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(firstpaint, "key", lambda: "k")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(firstpaint.os, "replace", full_disk)
    assert firstpaint.record(b"frame", {"ref"}, 3, 60, "slot") is False
    assert list((tmp_path / "cache").iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(firstpaint, "key", lambda: "k")
    assert firstpaint.record(b"frame", {"ref"}, 3, 60, "slot") is True
    head, frame = firstpaint.read("k")
    assert frame == b"frame" and head["refs"] == ["ref"] and head["n"] == 3
    assert firstpaint.record(b"other", {"ref"}, 3, 60, "slot") is False  # a valid one stays
