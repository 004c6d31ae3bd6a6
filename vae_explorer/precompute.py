"""Precompute the slow maps for a checkpoint into the shipped cache, so a classroom's first
open of UMAP / t-SNE is instant:

    python -m vae_explorer.precompute checkpoints/mnist-conv-z16.safetensors [--methods umap,tsne]
        [--n 10000] [--split test] [--data-root DIR] [--out checkpoints/cache]
    python -m vae_explorer.precompute --pixels mnist [--methods umap,tsne] [--n 10000]
        # the Compare page's pixel baselines: keyed by the data sample alone, so --prune keeps them
    python -m vae_explorer.precompute --prune    # drop maps of checkpoints no longer in checkpoints/

Only the 2-D coordinates are stored (about 80 kB per map for 10k points); the encoding itself
takes seconds and is cached per machine. Keys match what the app computes (checkpoint sha256 +
the sample's content hash), so the files are used only for exactly this checkpoint and sample.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from vae_training.checkpoint import file_sha256

from . import cache, encode, projections, sample
from .analysis import pixels
from .images import chw_to_hwc
from .checkpoints import list_checkpoints, open_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vae_explorer.precompute", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?")
    ap.add_argument("--methods", default="umap,tsne")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--split", default="test", choices=["test", "train+test"])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=str(cache.SHIPPED_DIR))
    ap.add_argument("--prune", action="store_true",
                    help="delete files in --out that belong to no checkpoint in checkpoints/ "
                         "(a retrained checkpoint has a new sha256, so its old maps are dead weight)")
    ap.add_argument("--pixels", metavar="DATASET", default=None,
                    help="precompute the maps of this dataset's raw pixels (Compare page)")
    a = ap.parse_args(argv)
    if a.prune:
        shas = [file_sha256(p) for p in list_checkpoints()] + [pixels.CACHE_SHA]
        for p in cache.orphans(Path(a.out), shas):
            p.unlink()
            print(f"removed {p}")
    if a.pixels:
        return _pixel_maps(a)
    if not a.checkpoint:
        if not a.prune:
            ap.error("give a checkpoint, --pixels DATASET, or --prune")
        return 0
    ck, err = open_path(a.checkpoint)
    if err:
        print(err, file=sys.stderr)
        return 2
    if ck.model_config.latent_dim <= 2:
        print("2-D latent: the map is the latent plane itself; nothing to precompute.")
        return 0
    from vae_training.data import default_root

    encode.set_threads()
    x, y = sample.load_split(ck.data.dataset, a.data_root or default_root(), a.split, a.n)
    key = sample.data_key(ck.data.dataset, a.split, x, y)
    enc = encode.encode_codes(ck.model, x, y, ck.data.preprocess)
    for method in [m for m in a.methods.split(",") if m]:
        params = projections.cache_params(method, len(y), projections.DEFAULT_SEED, key)
        t = time.time()
        xy = projections.project(enc["mu"], method, seed=projections.DEFAULT_SEED,
                                 progress=lambda f, s: print(f"\r{method}: {100 * f:3.0f}% {s:50s}",
                                                             end="", flush=True))
        p = cache.save(ck.sha256, f"proj-{method}", params, {"xy": xy}, directory=Path(a.out))
        print(f"\r{method}: {time.time() - t:.0f} s -> {p}" + " " * 30)
    return 0


def _pixel_maps(a) -> int:
    """The maps the Compare page computes from pixels (compute.slow_map with pixels.CACHE_SHA),
    from the same flattened NHWC pixels, so that the keys and inputs match."""
    from vae_training.data import default_root

    x, y = sample.load_split(a.pixels, a.data_root or default_root(), a.split, a.n)
    key = sample.data_key(a.pixels, a.split, x, y)
    flat = pixels.flat(chw_to_hwc(x))
    for method in [m for m in a.methods.split(",") if m]:
        params = projections.cache_params(method, len(y), projections.DEFAULT_SEED, key)
        t = time.time()
        xy = projections.project(flat, method, seed=projections.DEFAULT_SEED)
        p = cache.save(pixels.CACHE_SHA, f"proj-{method}", params, {"xy": xy},
                       directory=Path(a.out))
        print(f"pixels {method}: {time.time() - t:.0f} s -> {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
