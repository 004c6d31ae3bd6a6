"""The sidebar's Data section through AppTest: honest sample sizes, a readable missing-data note."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from _explorer_helpers import app_env, make_checkpoint
from vae_explorer import checkpoints

APP = str(Path(__file__).resolve().parent.parent / "vae_explorer" / "app.py")


@pytest.fixture(scope="module")
def ck_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("checkpoints")
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=2)
    make_checkpoint(d / "mnist-conv-z2.safetensors", latent_dim=2, dataset="mnist",
                    label_names=[str(i) for i in range(10)], seed=1)
    return d


@pytest.fixture()
def env(ck_dir, tmp_path, monkeypatch):
    return app_env(monkeypatch, ck_dir, tmp_path)


def _texts(at: AppTest) -> list[str]:
    out = []
    for kind in ("warning", "error", "info", "markdown", "caption", "text", "code", "exception"):
        out += [str(getattr(e, "value", "") or getattr(e, "message", "")) for e in getattr(at, kind)]
    return out


def test_points_on_the_map_offers_only_what_the_split_has(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    slider = at.sidebar.select_slider(key="data_n")
    assert [int(o) for o in slider.options] == [1_000, 2_000, 5_000]  # shapes test: 5,000
    assert int(slider.value) == 5_000
    assert "shapes test, 5,000 images" in " ".join(_texts(at))


def test_wrong_data_root_says_what_is_missing_in_one_sentence(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["ckpt"] = "mnist-conv-z2"
    at.run()
    assert not at.exception
    assert at.session_state["active_ckpt_name"] == "mnist-conv-z2.safetensors"
    warnings = [w.value for w in at.warning]
    assert any(w.startswith(f"MNIST's test images are not in `{env}`") for w in warnings), warnings
    assert any("`t10k-images-idx3-ubyte.gz`" in w and "Data root" in w for w in warnings)
    shown = " ".join(_texts(at))
    for noise in ("RuntimeError", "download=True", "--data-root"):
        assert noise not in shown
    # the full listing is there, folded
    assert any("What is missing" in e.label for e in at.sidebar.expander)


def test_train_and_test_toggle_names_the_real_total(env):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert at.sidebar.toggle(key="data_both").label == "Train + test (up to 25,000)"  # shapes
    at.sidebar.toggle(key="data_both").set_value(True).run()
    assert not at.exception
    slider = at.sidebar.select_slider(key="data_n")
    assert [int(o) for o in slider.options] == [1_000, 2_000, 5_000, 10_000, 20_000, 25_000]
