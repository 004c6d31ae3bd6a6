"""The Streamlit app through streamlit.testing.v1.AppTest, on small generated checkpoints."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from _explorer_helpers import SHAPE_NAMES, app_env, make_checkpoint
from vae_explorer import checkpoints

APP = str(Path(__file__).resolve().parent.parent / "vae_explorer" / "app.py")
PAGES = ["views/map.py", "views/interpolate.py", "views/grid.py", "views/samples.py",
         "views/info.py"]


@pytest.fixture(scope="module")
def ck_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("checkpoints")
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=2)
    make_checkpoint(d / "mnist-mlp-z5.safetensors", latent_dim=5, arch="mlp", hidden=(32,),
                    dataset="mnist", label_names=[str(i) for i in range(10)], seed=1)
    return d


@pytest.fixture()
def env(ck_dir, tmp_path, monkeypatch):
    app_env(monkeypatch, ck_dir, tmp_path)
    return ck_dir


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at


def test_loads_default_checkpoint(env):
    at = _app()
    _ok(at)
    assert at.session_state["active_ckpt_name"] == checkpoints.DEFAULT_NAME
    assert [t.value for t in at.title] == ["Latent map"]
    assert not at.error
    assert at.query_params.get("ckpt") in (checkpoints.DEFAULT_NAME, [checkpoints.DEFAULT_NAME])


def test_first_run_skips_streamlits_repl_check(env, monkeypatch):
    """The first element of a process made Streamlit walk inspect.stack() (the path of every
    module in sys.modules, 0.07-0.1 s of a warm open) to see whether it runs in a REPL; the app
    marks that hint as shown before drawing anything, so is_repl is never called."""
    from streamlit import delta_generator, env_util

    calls = []
    monkeypatch.setattr(delta_generator, "_use_warning_has_been_displayed", False)
    monkeypatch.setattr(env_util, "is_repl", lambda: calls.append(1) or False)
    _ok(_app())
    assert calls == []


@pytest.mark.parametrize("page", PAGES)
def test_each_page_renders(env, page):
    at = _app()
    at.switch_page(page).run()
    _ok(at)
    assert len(at.title) == 1 and not at.error


def test_bad_path_keeps_previous_model(env, tmp_path):
    at = _app()
    sha = at.session_state["active_ck"].sha256
    bad = tmp_path / "evil.safetensors"
    bad.write_bytes(b"\x80\x02garbage pickle")
    at.sidebar.radio(key="ck_source").set_value("Path on disk").run()
    at.sidebar.text_input(key="ck_path").set_value(str(bad))
    at.sidebar.button[0].click().run()
    _ok(at)
    assert any("pickle" in e.value for e in at.sidebar.error)
    assert at.session_state["active_ck"].sha256 == sha
    at.switch_page("views/info.py").run()
    _ok(at)


def test_info_says_when_the_map_was_shaped_by_the_neighbour_term(env, tmp_path, monkeypatch):
    from vae_training.config import TrainConfig
    d = tmp_path / "cks"
    d.mkdir()
    make_checkpoint(d / checkpoints.DEFAULT_NAME, train=TrainConfig(epochs=1, neighbour_weight=20.0))
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(d))
    at = _app()
    at.switch_page("views/info.py").run()
    _ok(at)
    assert any("weight 20" in i.value and "shaped on purpose" in i.value for i in at.info)
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(env))
    plain = _app()
    plain.switch_page("views/info.py").run()
    assert not any("shaped on purpose" in i.value for i in plain.info)


def test_good_path_switches_model(env):
    at = _app()
    at.sidebar.radio(key="ck_source").set_value("Path on disk").run()
    at.sidebar.text_input(key="ck_path").set_value(str(env / "mnist-mlp-z5.safetensors"))
    at.sidebar.button[0].click().run()
    _ok(at)
    assert at.session_state["active_ck"].model_config.latent_dim == 5


def test_missing_dataset_still_offers_samples_grid_interpolation(env):
    at = _app()
    at.sidebar.selectbox(key="ck_pick").set_value("mnist-mlp-z5.safetensors").run()
    _ok(at)
    assert at.session_state["active_ck"].model_config.latent_dim == 5
    assert any("mnist" in w.value.lower() or "dataset" in w.value.lower() for w in at.warning)
    for page in ("views/samples.py", "views/grid.py", "views/interpolate.py", "views/info.py"):
        at.switch_page(page).run()
        _ok(at)
        assert not at.error, (page, [e.value for e in at.error])
    # looking at the page chose nothing; choosing prior samples works without data
    assert "point_a" not in at.session_state and "point_b" not in at.session_state
    at.switch_page("views/interpolate.py").run()
    assert "point_a" not in at.session_state
    at.selectbox(key="w_mode_a").set_value("Prior sample").run()
    at.selectbox(key="w_mode_b").set_value("Prior sample").run()
    _ok(at)
    assert at.session_state["point_a"]["kind"] == "z"
    assert at.session_state["point_b"]["kind"] == "z" and len(at.image) >= 3


def test_url_state_points_and_page(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["a"] = "i3"
    at.query_params["b"] = "z0.5,-0.5"
    at.query_params["view"] = "interpolate"
    at.query_params["present"] = "1"
    at.run()
    _ok(at)
    assert at.session_state["point_a"] == {"kind": "index", "index": 3}
    assert at.session_state["point_b"] == {"kind": "z", "z": [0.5, -0.5]}
    assert at.session_state["presenter"] is True


def test_conditional_model_all_pages(tmp_path, monkeypatch):
    d = tmp_path / "ck"
    make_checkpoint(d / "cvae.safetensors", latent_dim=3, arch="conv", num_classes=6)
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(d))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    at = _app()
    _ok(at)
    at.sidebar.selectbox(key="y_cond").set_value(2).run()
    _ok(at)
    for page in PAGES[1:]:
        at.switch_page(page).run()
        _ok(at)


OPEN_RUN = r"""
import json, sys, threading, time
importers = []
# What only a click, a selection or another page needs (imported through vae_explorer.lazy_imports)
HEAVY = ("sklearn", "scipy", "pandas", "streamlit.emojis")
heavy = {}  # module -> the thread that first imported it
def hook(event, args):  # the thread that first loads torch
    if event == "import" and args[0] == "torch" and not importers:
        importers.append(threading.current_thread().name)
    if event == "import" and args[0] in HEAVY and args[0] not in heavy:
        heavy[args[0]] = threading.current_thread().name
sys.addaudithook(hook)
from streamlit.testing.v1 import AppTest
from vae_explorer import compute, modelstart
at = AppTest.from_file(sys.argv[1], default_timeout=120).run()
errors = [e.message for e in at.exception]
titles = [t.value for t in at.title]
c = at.session_state["ctx"]
has_recon = "recon" in c.enc
heavy_in_script = sorted(m for m, t in heavy.items() if t.startswith("ScriptRunner"))
# Before the map says it is drawn: what was imported, which threads run (they start in the run)
before_ready = {"importers": list(importers),
                "threads": sorted({t.name for t in threading.enumerate()})}
at.session_state[modelstart.READY_KEY] = True  # what the map's ready trigger's callback sets
at.run()
errors += [e.message for e in at.exception]
threads = sorted({t.name for t in threading.enumerate()})
for _ in range(2400):  # let the background work finish before the process exits
    rec, job = compute.reconstructions(c.ck.sha256, c.data_key)
    if (c.ck.ready or c.ck.error) and (rec is not None or (job is not None and job.error)):
        break
    time.sleep(0.05)
print(json.dumps({"errors": errors, "titles": titles, "importers": importers,
                  "before_ready": before_ready,
                  "ready": c.ck.ready, "error": c.ck.error, "recon_done": rec is not None,
                  "has_recon": has_recon, "threads": threads, "heavy_in_script": heavy_in_script}))
"""


def test_warm_open_draws_the_map_before_torch_loads(env):
    """Second start with a filled disk cache: the script run that draws the map imports no
    torch, nor starts anything that does; the model loads in a background thread once the map
    says it is drawn (its ready trigger, here set as its callback would). (Each start is a fresh
    process, as st.cache_resource would otherwise serve this process's earlier tests.)"""
    import json
    import subprocess
    import sys

    def start() -> dict:
        out = subprocess.run([sys.executable, "-c", OPEN_RUN, APP], capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    cold = start()  # fills the disk cache (dataset sample, codes, hover grid, atlases)
    assert cold["errors"] == [] and cold["titles"] == ["Latent map"]
    assert cold["importers"] == ["ScriptRunner.scriptThread"]  # it had to encode
    assert "reconstructions" not in cold["before_ready"]["threads"]  # not before ready
    assert not cold["has_recon"] and cold["recon_done"]  # decoded after the map was drawn
    warm = start()
    assert warm["errors"] == [] and warm["titles"] == ["Latent map"]
    assert warm["before_ready"]["importers"] == [], warm["before_ready"]
    assert not {"checkpoint-load", "analysis"} & set(warm["before_ready"]["threads"]), warm
    assert warm["importers"] == ["checkpoint-load"], warm
    assert warm["ready"] and warm["error"] is None
    assert warm["has_recon"] and "reconstructions" not in warm["threads"]  # from the disk cache
    # Nor does it import what only a click or another page needs (scikit-learn + scipy ~1.5 s,
    # pandas ~0.6 s, Streamlit's emoji table for an emoji page icon): docs/benchmarks.md.
    assert warm["heavy_in_script"] == [], warm["heavy_in_script"]


@pytest.mark.parametrize("name", ["mnist-mlp-z5", "mnist-mlp-z5.safetensors"])
def test_url_names_an_included_checkpoint_by_file_name_or_stem(env, name):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["ckpt"] = name
    at.run()
    _ok(at)
    assert at.session_state["active_ckpt_name"] == "mnist-mlp-z5.safetensors"
    assert not at.sidebar.warning


def test_url_naming_a_missing_checkpoint_says_so(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["ckpt"] = "no-such-model"
    at.run()
    _ok(at)
    assert at.session_state["active_ckpt_name"] == checkpoints.DEFAULT_NAME
    from vae_explorer.plaintext import md

    assert md("no-such-model") in at.sidebar.warning[0].value  # link text, escaped


def test_colour_and_next_click_survive_a_trip_to_another_page(env):
    at = _app()
    at.segmented_control(key="w_colour_by").set_value("kl").run()
    at.segmented_control(key="w_pick_target").set_value("B").run()
    _ok(at)
    assert at.query_params.get("colour") in ("kl", ["kl"])
    at.switch_page("views/grid.py").run()
    at.switch_page("views/map.py").run()
    _ok(at)
    assert at.segmented_control(key="w_colour_by").value == "kl"
    assert at.segmented_control(key="w_pick_target").value == "B"
    assert at.query_params.get("colour") in ("kl", ["kl"])


def test_shared_link_restores_every_setting_and_keeps_the_zoom(env):
    at = AppTest.from_file(APP, default_timeout=120)
    link = {"colour": "kl", "method": "slerp", "t": "0.25", "a": "i3", "b": "i5",
            "zoom": "-1,2,-3,4.5", "view": "interpolate"}
    for k, v in link.items():
        at.query_params[k] = v
    at.run()
    _ok(at)
    ss = at.session_state
    assert ss["colour_by"] == "kl" and ss["interp_method"] == "slerp" and ss["interp_t"] == 0.25
    assert ss["map_zoom"] == (-1.0, 2.0, -3.0, 4.5)
    assert at.segmented_control(key="w_interp_method").value == "slerp"
    for k, v in link.items():
        if k != "view":
            assert at.query_params.get(k) in (v, [v]), k


def test_label_names_from_a_checkpoint_are_never_markdown(tmp_path, monkeypatch):
    # A label written as a Markdown image made the browser fetch a remote address when a point
    # was clicked (st.markdown on the A/B captions of the map and the grid page).
    hostile = "![x](http://203.0.113.9/beacon.png)"
    d = tmp_path / "ck"
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=2,
                    label_names=[hostile] + SHAPE_NAMES[1:])
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(d))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["a"] = "i0"
    at.query_params["b"] = "i1"
    at.run()
    _ok(at)
    for page in ("views/map.py", "views/grid.py"):
        if page != "views/map.py":
            at.switch_page(page).run()
            _ok(at)
        idx = [i for i in (0, 1) if at.session_state["ctx"].labels[i] == 0]
        md = [m.value for m in at.markdown if "beacon" in m.value]
        assert not md, (page, md)
        if idx and page == "views/map.py":  # the hostile label is on screen, as text
            assert any("beacon" in t.value for t in at.text), page


def test_empty_space_decoding_choice_survives_a_trip_and_lands_in_the_link(tmp_path, monkeypatch):
    d = tmp_path / "ck"
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=3)
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(d))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    at = _app()
    at.segmented_control(key="w_cursor_mode").set_value("pca").run()
    at.switch_page("views/info.py").run()
    at.switch_page("views/map.py").run()
    _ok(at)
    assert at.segmented_control(key="w_cursor_mode").value == "pca"
    assert at.query_params.get("decode") in ("pca", ["pca"])


def test_plaintext_escapes_every_markdown_and_html_construct():
    from vae_explorer.plaintext import md

    for raw in ("![x](http://203.0.113.9/b.png)", "<img src=x>", "**bold** _it_ `code`",
                ":red[alarm] :material/home:", "$x^2$", "# head", "[a](b)"):
        out = md(raw)
        assert out.replace("\\", "") == raw  # same characters on screen
        assert all(out[i - 1] == "\\" for i, ch in enumerate(out) if ch in "![]()<>*_`:$#"), out


def test_a_failed_open_shows_the_hostile_error_text_literally(tmp_path, monkeypatch):
    from vae_explorer import plaintext

    d = tmp_path / "ck"
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=2)
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(d))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VAE_DATA_ROOT", str(tmp_path / "no-data-here"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.session_state["ck_source"] = "Path on disk"
    at.run()
    hostile = tmp_path / "![x](evil.png)"  # a folder: "… is a folder" names it in the error
    hostile.mkdir()
    at.text_input(key="ck_path").set_value(str(hostile))
    next(b for b in at.button if b.label == "Open").click().run()
    shown = [e.value for e in at.sidebar.error]
    assert shown and all("![x](" not in v for v in shown), shown
    assert any(plaintext.md("![x](evil.png)") in v for v in shown), shown


def test_the_map_colours_by_a_known_factor_and_colour_by_takes_over_again(env):
    at = _app()  # the shipped default: built-in shapes, with known factors
    box = at.selectbox(key="w_colour_factor")
    assert box.options == ["— (Colour by above)", "scale", "x", "y", "rotation"]
    box.set_value("scale").run()
    _ok(at)
    assert at.session_state["colour_factor"] == "scale"
    assert at.query_params.get("factor") in ("scale", ["scale"])
    # While a factor colours the map no Colour by button is lit (it showed "Label", which was
    # not what the map showed); clicking one takes over again.
    assert at.segmented_control(key="w_colour_by").value is None
    at.segmented_control(key="w_colour_by").set_value("kl").run()
    _ok(at)
    assert at.session_state["colour_factor"] == "" and at.session_state["colour_by"] == "kl"
    linked = AppTest.from_file(APP, default_timeout=120)
    linked.query_params["factor"] = "hue"  # a link made on another dataset's map: ignored
    linked.run()
    _ok(linked)
    assert linked.session_state["colour_factor"] == ""


def test_the_map_above_a_higher_latent_says_what_its_projection_shows(tmp_path, monkeypatch):
    """The slot above the map that keeps room for a projection's progress says, while none
    runs, what the map is (it was an empty band of 64 px that read as a page still loading)."""
    d = tmp_path / "ck"
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=3)
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(d))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    at = _app()
    _ok(at)
    notes = [t.value for t in at.text if "encoder means" in t.value]
    assert len(notes) == 1 and notes[0].startswith("PCA of the 3-D encoder means"), notes
    assert "% of it)" in notes[0]
    assert not any("PCA explains" in c.value for c in at.caption)  # said once, above the map


def test_map_note_names_the_projection_and_says_nothing_over_a_2d_latent():
    import numpy as np

    from vae_explorer.mapview import MapInfo, map_note

    xy = np.zeros((3, 2), np.float32)
    pca = MapInfo(xy, "knn", "pca:k", "PCA 1, PCA 2",
                  fit={"explained_ratio": [0.234, 0.151]}, wanted="umap")
    assert "(16-D" not in map_note(16, pca) and "(23% + 15% of it)" in map_note(16, pca)
    umap = MapInfo(xy, "knn", "umap:k", "UMAP 1, UMAP 2", wanted="umap")
    assert map_note(8, umap).startswith("UMAP of the 8-D encoder means:")
    assert map_note(2, MapInfo(xy, "identity", "latent:k", "latent z1, z2", wanted="latent")) == ""


def test_a_run_the_page_stops_still_settles_the_heap_and_starts_the_model(env, monkeypatch):
    """The heap is frozen before a run imports the app, and a page that ends with st.stop() (here
    the map page without its dataset) still freezes it and starts the background work. The end of app.main used to read session state after
    the page, which in a stopped run raises StopException again: neither happened, and
    Streamlit's gc after the run walked every object (40-50 ms holding the GIL while the map's
    frame waited to be sent, measured on a warm open)."""
    from vae_explorer import background, modelstart

    calls = []
    monkeypatch.setattr(background, "settle_heap", lambda: calls.append("settle"))
    monkeypatch.setattr(modelstart, "start", lambda c: calls.append("start"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["ckpt"] = "mnist-mlp-z5"  # its data is not there: the map page stops
    at.run()
    _ok(at)
    assert at.warning, "the map page should have stopped with a warning"
    # Once before the app's imports (the server's own heap), once after the page (the run's).
    assert calls == ["settle", "settle", "start"]
