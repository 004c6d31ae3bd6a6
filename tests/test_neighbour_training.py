"""--neighbour-weight: the parametric-UMAP term in the trainer (issue 14).

The graph is built with umap-learn (numba: ~45 s of JIT in a fresh process), so the tests that
build one are marked slow."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vae_training import neighbour_graph
from vae_training.checkpoint import load_checkpoint, load_trainer_state
from vae_training.train import RunConfig, train

from _training_helpers import write_idx


def _two_clusters(root, n_train=600, n_test=200, seed=0):
    """MNIST-format files: class 0 lights the left half, class 1 the right half, plus noise."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 2
        imgs = rng.integers(0, 60, size=(n, 28, 28))
        imgs[labels == 0, :, :14] += 180
        imgs[labels == 1, :, 14:] += 180
        write_idx(root / "MNIST" / "raw" / f"{split}-images-idx3-ubyte", imgs.astype(np.uint8))
        write_idx(root / "MNIST" / "raw" / f"{split}-labels-idx1-ubyte", labels.astype(np.uint8))


def _cfg(tmp_path, root, **kw) -> RunConfig:
    base = dict(dataset="mnist", data_root=str(root), download=False, arch="mlp", hidden=[64],
                latent_dim=2, batch_size=64, epochs=2, lr=2e-3, seed=1, device="cpu",
                threads=1, precision="fp32", out=str(tmp_path / "run"), progress=False,
                images=False)
    base.update(kw)
    return RunConfig(**base)


def test_weight_zero_is_the_plain_elbo_and_builds_no_graph(tmp_path, monkeypatch):
    _two_clusters(tmp_path / "data", 128, 64)
    plain = train(_cfg(tmp_path, tmp_path / "data", out=str(tmp_path / "plain")))
    monkeypatch.setattr(neighbour_graph, "cached_graph",
                        lambda *a, **k: pytest.fail("weight 0 built a graph"))
    zero = train(_cfg(tmp_path, tmp_path / "data", out=str(tmp_path / "zero"),
                      neighbour_weight=0.0))
    a, b = load_trainer_state(plain / "trainer_state.pt"), load_trainer_state(zero / "trainer_state.pt")
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert [r["train_loss"] for r in a["history"]] == [r["train_loss"] for r in b["history"]]


def test_bad_neighbour_settings_are_refused(tmp_path):
    from vae_training.config import ConfigError
    _two_clusters(tmp_path / "data", 128, 64)
    with pytest.raises(ConfigError, match="neighbour"):
        train(_cfg(tmp_path, tmp_path / "data", neighbour_weight=-1.0))
    with pytest.raises(ConfigError, match="neighbour"):
        train(_cfg(tmp_path, tmp_path / "data", neighbour_weight=1.0, neighbour_k=1))
    with pytest.raises(ConfigError, match="neighbour-scale"):
        train(_cfg(tmp_path, tmp_path / "data", neighbour_weight=1.0, neighbour_scale=0.0))
    with pytest.raises(ConfigError, match="neighbour-edges"):
        train(_cfg(tmp_path, tmp_path / "data", neighbour_weight=1.0, neighbour_edges=0))


def test_a_run_saved_before_scale_and_edges_existed_resumes_as_it_ran(tmp_path):
    # --neighbour-scale / --neighbour-edges came with defaults of 5 and 4; a run saved without
    # them used distances as they were and one edge per image, and must go on doing so
    import dataclasses

    from vae_training.checkpoint import save_trainer_state
    from vae_training.runconfig import resume_config
    old = dataclasses.asdict(_cfg(tmp_path, tmp_path / "data", neighbour_weight=400.0))
    del old["neighbour_scale"], old["neighbour_edges"]
    (tmp_path / "run").mkdir()
    save_trainer_state(tmp_path / "run" / "trainer_state.pt",
                       {"run_config": old, "epoch": 1, "model": {}, "history": []})
    cfg, _ = resume_config(_cfg(tmp_path, tmp_path / "data", resume=True))
    assert (cfg.neighbour_weight, cfg.neighbour_scale, cfg.neighbour_edges) == (400.0, 1.0, 1)
    assert (RunConfig().neighbour_scale, RunConfig().neighbour_edges) == (5.0, 4)


def _sampled_code_accuracy(run_dir, root) -> tuple[float, float]:
    """How often z ~ q(z|x) lies nearer its own cluster's mean code than the other's, and the
    gap between the two cluster means in units of the posterior's standard deviation."""
    from vae_training.data import load_dataset, to_data_space
    ck = load_checkpoint(run_dir / "model.safetensors")
    ds = load_dataset("mnist", root, "test", False)
    y = ds.labels.numpy()
    with torch.no_grad():
        mu, logvar = ck.model.encode(to_data_space(ds.images, "unit"), None)
    mu, sd = mu.numpy(), (0.5 * logvar).exp().numpy()
    z = mu + sd * np.random.default_rng(0).standard_normal(mu.shape)
    c = np.stack([mu[y == 0].mean(0), mu[y == 1].mean(0)])
    nearest = np.linalg.norm(z[:, None] - c[None], axis=2).argmin(1)
    return float((nearest == y).mean()), float(np.linalg.norm(c[0] - c[1]) / sd.mean())


@pytest.mark.slow
def test_the_term_keeps_clusters_apart_where_the_plain_vae_merges_them(tmp_path, monkeypatch):
    # With a very wide Gaussian likelihood the reconstruction barely rewards a code, so the plain
    # VAE's posterior collapses onto the prior and its two clusters overlap; the neighbour term
    # keeps the pixel-space neighbourhoods, hence the clusters, apart. Here the posterior is as
    # wide as the prior, so the clusters must be apart by several latent units: scale 1 (the
    # default 5 is for MNIST-like posteriors, ~0.1 wide, where a smaller gap suffices).
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "data"
    _two_clusters(root)
    kw = dict(likelihood="gaussian", gaussian_sigma=10.0, epochs=6)
    plain = train(_cfg(tmp_path, root, out=str(tmp_path / "plain"), **kw))
    kept = train(_cfg(tmp_path, root, out=str(tmp_path / "kept"), neighbour_weight=50.0,
                      neighbour_k=10, neighbour_scale=1.0, **kw))
    assert load_checkpoint(kept / "model.safetensors").train.neighbour_weight == 50.0
    acc_plain, gap_plain = _sampled_code_accuracy(plain, root)
    acc_kept, gap_kept = _sampled_code_accuracy(kept, root)
    assert acc_plain < 0.7 and gap_plain < 0.5, (acc_plain, gap_plain)
    assert acc_kept > 0.95 and gap_kept > 3, (acc_kept, gap_kept)


@pytest.mark.slow
def test_resume_is_exact_with_the_term_on(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    _two_clusters(tmp_path / "data", 256, 64)
    kw = dict(neighbour_weight=2.0, neighbour_k=10)
    full = train(_cfg(tmp_path, tmp_path / "data", epochs=3, out=str(tmp_path / "full"), **kw))
    train(_cfg(tmp_path, tmp_path / "data", epochs=1, out=str(tmp_path / "part"), **kw))
    train(_cfg(tmp_path, tmp_path / "data", epochs=3, out=str(tmp_path / "part"), resume=True, **kw))
    a = load_trainer_state(full / "trainer_state.pt")
    b = load_trainer_state(tmp_path / "part" / "trainer_state.pt")
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
