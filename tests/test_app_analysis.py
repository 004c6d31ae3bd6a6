"""The analysis pages through AppTest on small generated checkpoints (shapes: no download)."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from _explorer_helpers import make_checkpoint
from vae_explorer import checkpoints

APP = str(Path(__file__).resolve().parent.parent / "vae_explorer" / "app.py")


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
    shared = AppTest.from_file(APP, default_timeout=120)  # the link restores the layer
    shared.query_params["colour"] = "kept"
    shared.run()
    _ok(shared)
    assert shared.session_state["colour_by"] == "kept"
    assert "Neighbours kept" in shared.segmented_control(key="w_colour_by").options


def _fake_ck(likelihood="bernoulli"):
    from types import SimpleNamespace as NS

    return NS(sha256="ab" * 32, data=NS(preprocess="unit"),
              model_config=NS(likelihood=likelihood, gaussian_sigma=0.1))


def _sample(n=60, seed=0):
    rng = np.random.default_rng(seed)
    mu = np.vstack([rng.normal(0, 1, (n // 2, 4)), rng.normal(40, 1, (n // 2, 4))]).astype(np.float32)
    labels = np.repeat([0, 1], n // 2)
    labels[5] = 1  # planted among label 0
    images = rng.integers(0, 256, (n, 4, 4, 1), dtype=np.uint8)
    recon = rng.integers(0, 256, (n, 4, 4, 1), dtype=np.uint8)
    return mu, labels, images, recon, rng.gamma(2.0, 1.0, n).astype(np.float32)


def test_background_figures_wait_for_reconstructions_and_are_cached_on_disk(tmp_path, monkeypatch):
    from vae_explorer import cache, compute, compute_analysis

    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    mu, labels, images, recon, kl = _sample()
    calls = []

    me = threading.get_ident()

    def reconstructions(sha, data_key):  # decoded on the third look (of this thread: jobs
        if threading.get_ident() != me:   # other tests left running may look too)
            return None, None
        calls.append(1)
        return ({"recon": recon}, None) if len(calls) >= 3 else (None, None)

    monkeypatch.setattr(compute, "reconstructions", reconstructions)
    # Isolated from the process-wide stop flag that other tests' servers/apps may toggle.
    monkeypatch.setattr(compute_analysis.background, "check", lambda: None)
    job = compute_analysis.AnalysisJob()
    job.run(_fake_ck("gaussian"), "dk", images, labels, {"mu": mu, "kl": kl})
    assert job.error is None and len(calls) == 3
    a = job.arrays
    assert {"rec_term", "kl", "neg_elbo", "mislabel", "outlier", "knn_idx"} <= set(a)
    assert np.allclose(a["neg_elbo"], a["rec_term"] + kl, rtol=1e-5)
    assert int(np.argmax(a["mislabel"])) == 5
    assert cache.load("ab" * 32, "analysis", compute_analysis._params("dk")) is not None

    def boom(*_):
        raise AssertionError("recomputed despite the disk cache")

    monkeypatch.setattr(compute_analysis, "figures", boom)
    again = compute_analysis.AnalysisJob()
    again.run(_fake_ck("gaussian"), "dk", images, labels, {"mu": mu, "kl": kl})
    assert again.error is None and np.array_equal(again.arrays["outlier"], a["outlier"])


def test_background_figures_report_failed_reconstructions(tmp_path, monkeypatch):
    from types import SimpleNamespace as NS

    from vae_explorer import compute, compute_analysis

    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    mu, labels, images, _, kl = _sample()
    monkeypatch.setattr(compute, "reconstructions", lambda *_: (None, NS(error="boom")))
    job = compute_analysis.AnalysisJob()
    job.run(_fake_ck(), "dk", images, labels, {"mu": mu, "kl": kl})
    assert job.done and "boom" in job.error


def test_conditional_model_opens_both_pages(tmp_path, monkeypatch):
    d = tmp_path / "checkpoints"
    d.mkdir()
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=3, num_classes=6)
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(d))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    _ok(at)
    at.sidebar.selectbox(key="y_cond").set_value(2).run()
    at.switch_page("views/attributes.py").run()
    _ok(at)
    assert any("conditional VAE" in c.value for c in at.caption)
    _ready(at, "views/wrong.py")


def test_kept_layer_carries_the_map_figure_and_waits_for_large_samples(tmp_path, monkeypatch):
    from types import SimpleNamespace as NS

    from vae_explorer import compute_analysis

    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    mu = _sample()[0]
    c = NS(ck=_fake_ck(), data_key="dk-kept", enc={"mu": mu})
    vals, title = compute_analysis.kept_layer(c, NS(key="kept-test:identity", xy=mu[:, :2]))
    assert vals.shape == (len(mu),) and 0 <= vals.min() and vals.max() <= 1
    assert title.endswith(f"(map: {vals.mean():.2f})")
    monkeypatch.setattr(compute_analysis, "SYNC_KNN_MAX", 10)  # too large to do in the page run
    assert compute_analysis.kept_layer(c, NS(key="kept-test:other", xy=mu[:, :2])) is None
