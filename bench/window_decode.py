"""Cost of one window re-decode of the latent map (issue 9): server time and bytes sent.

    python bench/window_decode.py            (shapes-conv-z2; mnist-conv-z16 too if MNIST is there)

For each checkpoint: encode a map sample, then for a few views decode the G x G window grid the
browser would ask for (vae_explorer.cursor.window_key), as vae_explorer.compute.window_images does
(chunks under one lock), and pack it as the payload vae_explorer.latent_map sends. Prints figures;
asserts nothing.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vae_explorer import cursor, encode, latent_map, projections, sample  # noqa: E402
from vae_training.checkpoint import load_checkpoint  # noqa: E402
from vae_training.config import default_data_root  # noqa: E402

G, CHUNK = 24, 128  # vae_explorer.compute.WINDOW_G, _WINDOW_CHUNK


def window(ck, mapper, view, want_latents):
    t0 = time.perf_counter()
    ext = cursor.window_extent(cursor.window_key(view))
    lat = mapper(cursor.grid_centres(ext, G))
    t1 = time.perf_counter()
    imgs = np.concatenate([encode.decode(ck.model, lat[i:i + CHUNK], ck.data.preprocess)
                           for i in range(0, len(lat), CHUNK)])
    t2 = time.perf_counter()
    if imgs.shape[-1] not in (1, 3):
        imgs = imgs[..., :1]
    payload = latent_map.grid_payload(imgs, lat if want_latents else None)
    t3 = time.perf_counter()
    return {"map_s": t1 - t0, "decode_s": t2 - t1, "png_s": t3 - t2,
            "bytes": len(json.dumps(payload, separators=(",", ":"))),
            "latent_bytes": sum(len(payload.get(k, "")) for k in ("zhead", "znorm"))}


def run(name, dataset, want_latents, views):
    path = Path("checkpoints") / f"{name}.safetensors"
    if not path.is_file():
        print(f"{name}: no checkpoint")
        return
    ck = load_checkpoint(str(path))
    encode.set_threads()
    try:
        x, y = sample.load_split(dataset, default_data_root(), "test", 5000)
    except Exception as e:  # noqa: BLE001 - a bench: say why and go on
        print(f"{name}: no data ({type(e).__name__})")
        return
    mu = encode.encode_codes(ck.model, x, y, ck.data.preprocess)["mu"]
    if mu.shape[1] == 2:
        mapper = cursor.CursorMapper(mu, mu, "identity")
        xy = mu
    else:
        xy, _ = projections.pca(mu)
        mapper = cursor.CursorMapper(xy, mu, "knn")
    ext = cursor.map_extent(xy)
    print(f"{name}: latent {mu.shape[1]}-D, data extent {np.round(ext, 2).tolist()}")
    window(ck, mapper, ext, want_latents)  # warm-up (first torch call)
    for label, view in views(ext):
        r = [window(ck, mapper, view, want_latents) for _ in range(3)]
        best = {k: min(d[k] for d in r) for k in r[0]}
        print(f"  {label:28s} map {1e3 * best['map_s']:5.1f} ms  decode {1e3 * best['decode_s']:6.1f} ms"
              f"  png {1e3 * best['png_s']:5.1f} ms  payload {best['bytes'] / 1024:6.1f} kB"
              f" (latents {best['latent_bytes'] / 1024:.1f} kB)")


def views(ext):
    x0, x1, y0, y1 = ext
    w, h = x1 - x0, y1 - y0
    yield "whole data", ext
    yield "zoomed 8x at the centre", ((x0 + x1) / 2 - w / 16, (x0 + x1) / 2 + w / 16,
                                      (y0 + y1) / 2 - h / 16, (y0 + y1) / 2 + h / 16)
    yield "panned far outside", (x1 + 3 * w, x1 + 3.5 * w, y1 + 2 * h, y1 + 2.5 * h)


if __name__ == "__main__":
    run("shapes-conv-z2", "shapes", False, views)
    run("mnist-conv-z16", "mnist", True, views)
