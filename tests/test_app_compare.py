"""The Compare page through AppTest: a second checkpoint of the same dataset, the pixel baseline,
and the refusal of a checkpoint trained on another dataset."""
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
    make_checkpoint(d / "shapes-z5.safetensors", latent_dim=5, seed=2)
    make_checkpoint(d / "shapes-z3.safetensors", latent_dim=3, seed=3)
    make_checkpoint(d / "mnist-mlp-z5.safetensors", latent_dim=5, arch="mlp", hidden=(32,),
                    dataset="mnist", label_names=[str(i) for i in range(10)], seed=1)
    return d


@pytest.fixture()
def at(ck_dir, tmp_path, monkeypatch):
    app_env(monkeypatch, ck_dir, tmp_path)
    app = AppTest.from_file(APP, default_timeout=180)
    app.run()
    app.switch_page("views/compare.py").run()
    return app


def _ok(app):
    assert not app.exception, [e.message for e in app.exception]


def _texts(app):
    return " ".join(t.value for t in app.text) + " ".join(c.value for c in app.caption)


def test_a_second_checkpoint_of_the_same_dataset_is_aligned_and_tabled(at):
    _ok(at)
    assert [t.value for t in at.title] == ["Compare"]
    at.selectbox(key="w_cmp_with").set_value("ckpt:shapes-z5.safetensors").run()
    _ok(at)
    assert not at.error
    assert "B: shapes-z5.safetensors" in _texts(at)
    assert "orthogonal Procrustes" in _texts(at) and "residual" in _texts(at)
    metrics = at.table[-1].value
    assert list(metrics.iloc[:, 0])[:2] == ["test -ELBO (nats)", "IW NLL (nats)"]
    assert metrics.iloc[0, 1] == "190.00"  # the same likelihood and pixels: compared


def test_the_pixel_baseline_has_scores_and_both_decoders(at):
    at.selectbox(key="w_cmp_with").set_value("pixels:pca").run()
    _ok(at)
    assert "B: pixels (PCA)" in _texts(at)
    quality = at.table[0].value
    assert "trustworthiness" in quality.iloc[2, 0]
    assert all(0.0 <= float(v) <= 1.0 for v in quality.iloc[2, 1:])
    assert "Decoders side by side" in [s.value for s in at.subheader]
    assert len(at.get("image")) == 2  # the VAE's grid beside PCA's inverse grid


def test_a_checkpoint_of_another_dataset_is_refused_with_the_reason(at):
    at.selectbox(key="w_cmp_with").set_value("ckpt:mnist-mlp-z5.safetensors").run()
    _ok(at)
    assert len(at.error) == 1
    assert "different datasets (shapes and mnist)" in at.error[0].value.replace("\\", "")


def test_the_page_choices_go_in_the_url_and_a_shared_link_opens_the_same_compare(at, ck_dir):
    at.selectbox(key="w_cmp_with").set_value("ckpt:shapes-z5.safetensors").run()
    at.segmented_control(key="w_cmp_colour").set_value("moved").run()
    _ok(at)
    qp = {k: at.query_params[k] for k in ("cmp", "cmpcolour", "view")}
    got = {k: v[0] if isinstance(v, list) else v for k, v in qp.items()}
    assert got == {"cmp": "ckpt:shapes-z5.safetensors", "cmpcolour": "moved", "view": "compare"}
    fresh = AppTest.from_file(APP, default_timeout=180)  # a new session opened from that link
    for k, v in got.items():
        fresh.query_params[k] = v
    fresh.run()
    _ok(fresh)
    assert [t.value for t in fresh.title] == ["Compare"]
    assert "B: shapes-z5.safetensors" in _texts(fresh)
    assert fresh.session_state["cmp_colour"] == "moved"
    assert fresh.segmented_control(key="w_cmp_colour").value == "moved"


def test_a_2d_latent_b_decodes_under_the_cursor_through_the_inverse_alignment(at, monkeypatch):
    from vae_explorer import comparemaps

    seen = {}
    real = comparemaps.draw

    def spy(c, key, *a, **kw):
        seen[key] = kw
        return real(c, key, *a, **kw)

    monkeypatch.setattr(comparemaps, "draw", spy)
    at.switch_page("views/map.py").run()  # A: the 5-D checkpoint, B: the default 2-D one
    at.sidebar.selectbox(key="ck_pick").set_value("shapes-z5.safetensors").run()
    at.switch_page("views/compare.py").run()
    at.selectbox(key="w_cmp_with").set_value(f"ckpt:{checkpoints.DEFAULT_NAME}").run()
    _ok(at)
    kw = seen["cmp_b"]
    assert kw["cursor_method"] == "aligned" and kw["grid"] is not None
    images, extent = kw["grid"]
    assert len(images) == len(kw["grid_latents"]) and kw["grid_latents"].shape[1] == 2


class _Job:
    """A stand-in for a background projection (projection_jobs.Job) in a given state."""

    def __init__(self, state):
        self.state = state

    def poll(self):
        return self.state, 0.3, "optimising layout… 2 s"


def _fake_slow_maps(monkeypatch, states: dict):
    """compute.slow_map answering a job in states[sha256] (and recording what it was asked)."""
    from vae_explorer import compute

    asked = []

    def slow_map(sha, data_key, method, mu, init=None):
        asked.append((sha, method, init is not None))
        if states[sha] == "done":
            import numpy as np
            return np.random.default_rng(0).normal(size=(len(mu), 2)).astype(np.float32), None
        return None, _Job(states[sha])

    monkeypatch.setattr(compute, "slow_map", slow_map)
    return asked


def _sha(ck_dir, name):
    from vae_training.checkpoint import file_sha256
    return file_sha256(ck_dir / name)


def test_each_map_has_its_own_progress_and_retry(at, ck_dir, monkeypatch):
    """A's and B's UMAP both failed: each map has its own "Try again" (one key each)."""
    at.switch_page("views/map.py").run()
    at.sidebar.selectbox(key="ck_pick").set_value("shapes-z3.safetensors").run()
    at.switch_page("views/compare.py").run()
    at.selectbox(key="w_cmp_with").set_value("ckpt:shapes-z5.safetensors").run()
    _fake_slow_maps(monkeypatch, {_sha(ck_dir, "shapes-z3.safetensors"): "error",
                                  _sha(ck_dir, "shapes-z5.safetensors"): "error"})
    at.segmented_control(key="w_proj").set_value("umap").run()
    _ok(at)
    keys = {b.key for b in at.button}
    assert {"proj_retry_a", "proj_retry_b"} <= keys


def test_b_waits_for_a_running_umap_then_starts_from_a(at, ck_dir, monkeypatch):
    at.switch_page("views/map.py").run()
    at.sidebar.selectbox(key="ck_pick").set_value("shapes-z3.safetensors").run()
    at.switch_page("views/compare.py").run()
    at.selectbox(key="w_cmp_with").set_value("ckpt:shapes-z5.safetensors").run()
    sha_a, sha_b = _sha(ck_dir, "shapes-z3.safetensors"), _sha(ck_dir, "shapes-z5.safetensors")
    asked = _fake_slow_maps(monkeypatch, {sha_a: "running", sha_b: "running"})
    at.segmented_control(key="w_proj").set_value("umap").run()
    _ok(at)
    assert [a for a in asked if a[0] == sha_b] == []  # B did not start while A computes
    assert "starts from A's layout once A's is ready" in _texts(at)
    assert "B's PCA for now" in _texts(at)
    asked = _fake_slow_maps(monkeypatch, {sha_a: "done", sha_b: "running"})  # A's is ready
    at.run()
    _ok(at)
    assert (sha_b, "umap", True) in asked  # B's UMAP asked for, started from A's layout


def test_b_reconstructions_still_decoding_show_progress_that_reruns_the_page(at, ck_dir, monkeypatch):
    """Without the bar nothing reran the page when B's reconstructions were ready: its hover
    panel showed originals only until the next click."""
    from vae_explorer import compute, mapview

    sha_b = _sha(ck_dir, "shapes-z5.safetensors")
    real = compute.reconstructions
    monkeypatch.setattr(compute, "reconstructions",
                        lambda sha, key: (None, None) if sha == sha_b else real(sha, key))
    monkeypatch.setattr(compute, "start_reconstruction", lambda *a, **k: None)
    asked = []
    real_bar = mapview.recon_progress
    monkeypatch.setattr(mapview, "recon_progress",
                        lambda c, pending=None: (asked.append(pending), real_bar(c, pending)))
    at.selectbox(key="w_cmp_with").set_value("ckpt:shapes-z5.safetensors").run()
    _ok(at)
    assert any(p and p[0] == sha_b for p in asked)
