"""The neighbour-preserving term: parametric UMAP's cross-entropy on the latent means.

A plain 2-D VAE lets classes overlap; UMAP of the pixels separates them but cannot decode. The
option adds to the negative ELBO the loss parametric UMAP (Sainburg, McInnes & Gentner 2021)
trains its encoder with: the data's fuzzy k-NN graph (umap-learn's own ``fuzzy_simplicial_set``,
built once and cached) says which images are neighbours; edges are drawn in proportion to their
weight, and the encoder means of an edge's two ends are pulled together while ``negative_rate``
random pairs are pushed apart. With weight 0 the objective is the plain ELBO, exactly.

Two settings make the term work beside the ELBO (measured on MNIST, issue 14): distances are
multiplied by ``neighbour_scale`` (5) before UMAP's curve sees them, because the curve separates
clusters a few units apart while the prior holds codes within ~3 of 0 (unscaled, the term and the
KL fight: the KL doubled); and ``neighbour_edges`` (4) edges are drawn per training image, since
one per image is well under one pass over the graph's ~1.2M edges in 10 epochs.

The formulas mirror ``umap.parametric_umap`` (0.5.x) so that "parametric UMAP's loss" means the
same thing here as in the paper's code, including its numerically stable repulsion.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

GRAPH_VERSION = 1  # bump when the way a graph is built changes (invalidates cached graphs)


@dataclass(frozen=True)
class Graph:
    """A fuzzy k-NN graph as weighted edges (COO), ready to sample from."""
    head: np.ndarray    # int64 (E,)
    tail: np.ndarray    # int64 (E,)
    weight: np.ndarray  # float32 (E,), in (0, 1]
    n: int              # number of vertices (images)
    seconds: float = 0.0  # what building it cost (0 when read from the cache)


def umap_ab(min_dist: float = 0.1, spread: float = 1.0) -> tuple[float, float]:
    """The curve 1 / (1 + a d^2b) UMAP fits for ``min_dist`` (umap-learn's find_ab_params)."""
    from umap.umap_ import find_ab_params
    a, b = find_ab_params(spread, min_dist)
    return float(a), float(b)


def build_graph(x: np.ndarray, n_neighbors: int = 15, seed: int = 0,
                n_epochs: int = 200) -> Graph:
    """The fuzzy simplicial set of ``x`` (N, D) as edges, pruned as parametric UMAP prunes it.

    Edges whose weight is below max / n_epochs would be sampled less than once in a UMAP run;
    parametric UMAP drops them (get_graph_elements) and so do we.
    """
    from umap.umap_ import fuzzy_simplicial_set  # numba: slow to import, so only when asked
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
    if len(x) <= n_neighbors:
        raise ValueError(f"a neighbour graph needs more than {n_neighbors} images (got {len(x)})")
    t0 = time.perf_counter()
    rs = np.random.RandomState(seed)
    graph, _, _ = fuzzy_simplicial_set(x, n_neighbors, rs, "euclidean")
    coo = graph.tocoo()
    coo.sum_duplicates()
    keep = coo.data >= coo.data.max() / float(n_epochs)
    return Graph(head=coo.row[keep].astype(np.int64), tail=coo.col[keep].astype(np.int64),
                 weight=coo.data[keep].astype(np.float32), n=int(x.shape[0]),
                 seconds=time.perf_counter() - t0)


def graph_key(x: np.ndarray, n_neighbors: int, seed: int) -> str:
    """A cache key from the data's bytes and the settings (same images -> same graph)."""
    h = hashlib.sha256()
    h.update(json.dumps({"v": GRAPH_VERSION, "k": n_neighbors, "seed": seed,
                         "shape": list(x.shape), "dtype": str(x.dtype)}).encode())
    h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()[:32]


def default_cache_dir() -> Path:
    base = os.environ.get("VAE_EXPLORER_CACHE") or Path.home() / ".cache" / "vae-explorer"
    return Path(base) / "neighbour-graphs"


def cached_graph(x: np.ndarray, n_neighbors: int = 15, seed: int = 0,
                 cache_dir: Path | None = None) -> Graph:
    """build_graph, read from / written to ``cache_dir`` (npz, no pickle) when it can be."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache_dir / f"{graph_key(x, n_neighbors, seed)}.npz"
    try:
        with np.load(path, allow_pickle=False) as f:
            g = Graph(head=f["head"].astype(np.int64), tail=f["tail"].astype(np.int64),
                      weight=f["weight"].astype(np.float32), n=int(f["n"]))
        if (g.head.shape == g.tail.shape == g.weight.shape and g.n == len(x)
                and len(g.head) and int(max(g.head.max(), g.tail.max())) < g.n):
            return g
    except (OSError, KeyError, ValueError):
        pass  # missing or unreadable: build it again
    g = build_graph(x, n_neighbors, seed)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, head=g.head, tail=g.tail, weight=g.weight, n=np.int64(g.n))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache costs a rebuild next time, nothing else
    return g


class EdgeSampler:
    """Draws edges in proportion to their weight, from a seeded torch.Generator (resumable)."""

    def __init__(self, graph: Graph, generator: torch.Generator):
        self.head = torch.from_numpy(graph.head)
        self.tail = torch.from_numpy(graph.tail)
        # inverse-CDF sampling: O(n log E) per draw, where torch.multinomial rebuilds the
        # ~1.2M-edge (60k MNIST) distribution on every call
        cdf = torch.from_numpy(graph.weight).double().cumsum(0)
        self.cdf = cdf / cdf[-1]
        self.gen = generator

    def sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        u = torch.rand(n, generator=self.gen, dtype=torch.float64)
        idx = torch.searchsorted(self.cdf, u).clamp_(max=len(self.cdf) - 1)
        return self.head[idx], self.tail[idx]


def umap_cross_entropy(z_head: torch.Tensor, z_tail: torch.Tensor, a: float, b: float,
                       negative_rate: int = 5, generator: torch.Generator | None = None,
                       repulsion: float = 1.0) -> torch.Tensor:
    """Parametric UMAP's loss for a batch of edges (head_i, tail_i): mean over edges + negatives.

    Negatives pair each tail with a head from a shuffled repeat of the batch, as
    umap.parametric_umap._umap_loss does. Computed in fp32 whatever the autocast context.
    """
    z_head, z_tail = z_head.float(), z_tail.float()
    neg_to = z_tail.repeat_interleave(negative_rate, 0)
    rep = z_head.repeat_interleave(negative_rate, 0)
    perm = torch.randperm(rep.shape[0], generator=generator, device="cpu").to(rep.device)
    neg_from = rep[perm]
    d = torch.cat([(z_tail - z_head).norm(dim=1), (neg_to - neg_from).norm(dim=1)])
    # log q = -log(1 + a d^2b); the library passes it through log_sigmoid as logits
    logq = -torch.log1p(a * d.clamp_min(1e-12).pow(2 * b))
    p = torch.cat([torch.ones(len(z_head), device=d.device),
                   torch.zeros(len(neg_to), device=d.device)])
    attraction = -p * F.logsigmoid(logq)
    repulsion_term = -(1.0 - p) * (F.logsigmoid(logq) - logq) * repulsion
    return (attraction + repulsion_term).mean()
