"""Time and peak memory of the per-point figures, rankings and map honesty (vae_explorer.analysis)
at 10,000 and 70,000 points: synthetic 16-D codes in 10 clusters, 28x28 uint8 images and
reconstructions, a 2-D map from the first two code dimensions.

    .venv/bin/python bench/analysis_figures.py [n ...]

Prints the machine's load (uptime) first: other work may share the cores. scikit-learn picks
brute-force k-NN for 16-D codes (chunked: bounded memory, never a whole n x n matrix); measured
here it beat kd_tree 15 s to 43 s at 70k.
"""
from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from vae_explorer.analysis import export, honesty, pointwise, rankings  # noqa: E402


def data(n: int, d: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    centres = rng.normal(0, 3, (10, d))
    mu = (centres[labels] + rng.normal(0, 1, (n, d))).astype(np.float32)
    images = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    recon = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    kl = rng.gamma(2.0, 5.0, n).astype(np.float32)
    return mu, labels, images, recon, kl


def run(n: int) -> None:
    mu, labels, images, recon, kl = data(n)
    tracemalloc.start()
    t = {}
    t0 = time.perf_counter()
    figs = pointwise.figures(images, recon, kl)
    t["pointwise"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    dist, idx = rankings.knn(mu, rankings.K)
    mis = rankings.other_label_share(labels, idx)
    out = rankings.kth_distance(dist)
    for s in (figs["rec_term"], figs["kl"], figs["neg_elbo"], mis, out):
        rankings.top(s, 96)
    t["latent k-NN + rankings"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    kept = honesty.neighbours_kept(mu, mu[:, :2], rankings.K, latent_idx=idx)
    t["honesty (map k-NN)"] = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # timed untraced: tracemalloc slows the csv module's many small objects ~10x
    t0 = time.perf_counter()
    csv_bytes = export.map_csv(labels, [str(i) for i in range(10)], mu[:, :2], mu,
                               figs["rec_term"], figs["kl"], figs["neg_elbo"])
    t["CSV export (on click, not in the total)"] = time.perf_counter() - t0
    total = sum(v for k, v in t.items() if not k.startswith("CSV"))
    parts = ", ".join(f"{k} {v:.2f} s" for k, v in t.items())
    print(f"n={n:,}: total {total:.2f} s ({parts}); peak traced memory {peak / 2**20:.0f} MiB; "
          f"map figure {honesty.map_figure(kept):.3f}; CSV {len(csv_bytes) / 2**20:.1f} MB")


if __name__ == "__main__":
    print("load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    t0 = time.perf_counter()
    import sklearn.neighbors  # noqa: F401  (once per process; timed apart)
    print(f"import sklearn.neighbors: {time.perf_counter() - t0:.2f} s")
    for n in [int(a) for a in sys.argv[1:]] or [10_000, 70_000]:
        run(n)
    import resource
    print(f"peak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
          "(includes the synthetic images)")
