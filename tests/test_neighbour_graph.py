"""vae_training.neighbour_graph: the parametric-UMAP term and its graph, on small known data."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vae_training import neighbour_graph as ng


def _reference_ce(zh, zt, perm, a, b, rate):
    """Parametric UMAP's _umap_loss written out in numpy, for one fixed shuffle."""
    zh, zt = zh.numpy().astype(np.float64), zt.numpy().astype(np.float64)
    neg_to = np.repeat(zt, rate, 0)
    neg_from = np.repeat(zh, rate, 0)[perm]
    d = np.concatenate([np.linalg.norm(zt - zh, axis=1), np.linalg.norm(neg_to - neg_from, axis=1)])
    logq = -np.log1p(a * d ** (2 * b))
    p = np.concatenate([np.ones(len(zh)), np.zeros(len(neg_to))])
    logsig = -np.log1p(np.exp(-logq))
    return float(np.mean(-p * logsig - (1 - p) * (logsig - logq)))


def test_cross_entropy_matches_the_parametric_umap_formula():
    g = torch.Generator().manual_seed(3)
    zh, zt = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
    a, b, rate = 1.58, 0.9, 5
    perm = torch.randperm(16 * rate, generator=torch.Generator().manual_seed(7)).numpy()
    got = ng.umap_cross_entropy(zh, zt, a, b, rate, generator=torch.Generator().manual_seed(7))
    assert got.item() == pytest.approx(_reference_ce(zh, zt, perm, a, b, rate), rel=1e-5)


def test_cross_entropy_pulls_edges_together_and_pushes_negatives_apart():
    a, b = ng.umap_ab(0.1)
    zh = torch.tensor([[0.0, 0.0], [5.0, 5.0]])
    far = ng.umap_cross_entropy(zh, zh + torch.tensor([3.0, 0.0]), a, b,
                                generator=torch.Generator().manual_seed(0))
    near = ng.umap_cross_entropy(zh, zh + torch.tensor([0.05, 0.0]), a, b,
                                 generator=torch.Generator().manual_seed(0))
    assert near < far
    zt = (zh + 1.0).requires_grad_()
    ng.umap_cross_entropy(zh, zt, a, b, generator=torch.Generator().manual_seed(0)).backward()
    # a gradient step moves each tail towards its head
    assert (F.pairwise_distance(zt.detach() - 0.1 * zt.grad, zh) < F.pairwise_distance(zt.detach(), zh)).all()


def test_cross_entropy_stays_fp32_and_finite_for_coincident_points():
    z = torch.zeros(8, 2, dtype=torch.bfloat16, requires_grad=True)
    loss = ng.umap_cross_entropy(z, z, 1.58, 0.9, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss) and torch.isfinite(z.grad).all()


def test_edge_sampler_follows_weights_and_is_seeded():
    g = ng.Graph(head=np.array([0, 1]), tail=np.array([1, 2]),
                 weight=np.array([0.9, 0.1], np.float32), n=3)
    h1, _ = ng.EdgeSampler(g, torch.Generator().manual_seed(1)).sample(20_000)
    h2, _ = ng.EdgeSampler(g, torch.Generator().manual_seed(1)).sample(20_000)
    assert torch.equal(h1, h2)
    assert (h1 == 0).float().mean().item() == pytest.approx(0.9, abs=0.02)


def _two_clusters(n=300, seed=0):
    rs = np.random.RandomState(seed)
    x = np.concatenate([rs.normal(0, 0.3, (n // 2, 10)), rs.normal(8, 0.3, (n // 2, 10))])
    return x.astype(np.float32), np.repeat([0, 1], n // 2)


@pytest.mark.slow
def test_graph_joins_neighbours_and_is_cached(tmp_path, monkeypatch):
    x, y = _two_clusters()
    g = ng.cached_graph(x, n_neighbors=10, cache_dir=tmp_path)
    assert g.n == len(x) and len(g.head) >= len(x)
    assert (y[g.head] == y[g.tail]).all()          # no edge crosses the gap between clusters
    assert (g.weight > 0).all() and (g.weight <= 1).all()
    monkeypatch.setattr(ng, "build_graph", lambda *a, **k: pytest.fail("rebuilt a cached graph"))
    again = ng.cached_graph(x, n_neighbors=10, cache_dir=tmp_path)
    assert np.array_equal(again.head, g.head) and np.allclose(again.weight, g.weight)


def test_a_corrupt_cached_graph_is_rebuilt(tmp_path, monkeypatch):
    x, _ = _two_clusters(40)
    (tmp_path / f"{ng.graph_key(x, 10, 0)}.npz").write_bytes(b"not an npz")
    built = ng.Graph(head=np.array([0]), tail=np.array([1]), weight=np.array([1.0], np.float32),
                     n=len(x))
    monkeypatch.setattr(ng, "build_graph", lambda *a, **k: built)
    assert ng.cached_graph(x, n_neighbors=10, cache_dir=tmp_path) is built
