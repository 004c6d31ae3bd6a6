"""Development demo for the latent map component, without a model.

    streamlit run vae_explorer/components/latent_map/demo.py
    (query parameters: ?n=70000 points, ?color=1 continuous colouring, ?noimages=1)

Points are the built-in shapes dataset placed by their generative factors (x position, scale)
plus class offsets; "reconstructions" are blurred originals; the grid shows synthetic images.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import streamlit as st

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vae_explorer.latent_map import latent_map, last_timing  # noqa: E402
from vae_training.shapes import SHAPE_NAMES, generate_shapes  # noqa: E402

st.set_page_config(page_title="latent map demo", layout="wide")


@st.cache_resource
def demo_data(n: int):
    imgs, labels, factors = generate_shapes(n, seed=7)
    imgs = imgs.transpose(0, 2, 3, 1)  # NHWC
    rng = np.random.default_rng(0)
    ang = labels * (2 * np.pi / len(SHAPE_NAMES))
    r = 1.5 + factors[:, 0]
    xy = np.stack([r * np.cos(ang) + 0.6 * (factors[:, 1] - 0.5),
                   r * np.sin(ang) + 0.6 * (factors[:, 2] - 0.5)], 1)
    xy = (xy + rng.normal(0, 0.25, xy.shape)).astype(np.float32)
    f = imgs.astype(np.float32)
    blur = (f + np.roll(f, 1, 1) + np.roll(f, -1, 1) + np.roll(f, 1, 2) + np.roll(f, -1, 2)) / 5
    recons = blur.clip(0, 255).astype(np.uint8)
    g = 16
    x0, x1, y0, y1 = -3.5, 3.5, -3.5, 3.5
    yy, xx = np.mgrid[0:28, 0:28]
    grid = np.zeros((g * g, 28, 28, 1), np.uint8)
    for row in range(g):
        for col in range(g):
            cx = 4 + 20 * col / (g - 1)
            cy = 4 + 20 * row / (g - 1)
            grid[row * g + col, ..., 0] = (255 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 18)).astype(np.uint8)
    for a in (imgs, recons, grid, xy, labels):
        a.setflags(write=False)
    return xy, labels, imgs, recons, grid, (x0, x1, y0, y1), factors[:, 0].copy()


qp = st.query_params
n = int(qp.get("n", 10000))
xy, labels, imgs, recons, grid, extent, scale = demo_data(n)
st.title("Latent map demo")
c1, c2 = st.columns([3, 1])
with c2:
    use_color = st.toggle("colour by scale", value=qp.get("color") == "1")
    show_path = st.toggle("draw a path", value=True)
    no_images = st.toggle("no dataset images", value=qp.get("noimages") == "1")
sel = st.session_state.setdefault("sel", [])
path = np.linspace(xy[sel[0]], xy[sel[1]], 9) if show_path and len(sel) == 2 else None
with c1:
    ev = latent_map(xy, labels, SHAPE_NAMES, None if no_images else imgs, None if no_images else recons,
                    grid, extent, color_values=scale if use_color else None, color_title="scale factor",
                    path=path, selected=sel, key="demo_map")
if ev and ev.get("id") != st.session_state.get("handled"):
    st.session_state.handled = ev.get("id")
    if ev.get("index") is not None:
        sel = (sel + [ev["index"]])[-2:]
        st.session_state.sel = sel
        st.rerun()
with c2:
    st.write("last event:", ev)
    st.write("selected:", sel)
    st.caption(f"python timing: { {k: round(v, 4) for k, v in last_timing.items()} }")
