"""Attribute vectors: the mean code of one group minus that of another is a direction; move a
point A along it and decode. Groups are two labels, or the map's selections S1 and S2."""
import numpy as np
import streamlit as st

from vae_explorer import compute, images as im, interpolate, plaintext, state
from vae_explorer.analysis import attributes

c = state.ctx()
ss = st.session_state
if not c.presenter:
    st.title("Attribute vectors")

if not c.has_data:
    st.warning(c.data_error or "No data.")  # our own sentence (may use `code`)
    st.stop()

n = len(c.labels)
s1, s2 = (attributes.read_selection(ss.get(k), n) for k in ("sel_s1", "sel_s2"))
sources = ["Two labels"] + (["S1 → S2"] if s1 is not None and s2 is not None else [])
ctl = st.columns([1, 1, 1])
src = ctl[0].radio("Direction from", sources, key="attr_src", horizontal=True,
                   help="S1 → S2 appears once two selections are kept on the map.")
if src == "S1 → S2":
    g1, g2, what = s1, s2, f"S1 ({len(s1)} points) → S2 ({len(s2)} points)"
else:
    present = sorted(int(v) for v in np.unique(c.labels))
    name = lambda k: c.label_names[k] if 0 <= k < len(c.label_names) else str(k)  # noqa: E731
    l1 = ctl[1].selectbox("From label", present, format_func=name, key="attr_l1")
    l2 = ctl[2].selectbox("To label", present, index=min(1, len(present) - 1), format_func=name,
                          key="attr_l2")
    g1, g2 = attributes.label_group(c.labels, l1), attributes.label_group(c.labels, l2)
    what = f"{name(l1)} → {name(l2)}"
try:
    v = attributes.attribute_vector(c.enc["mu"], g1, g2)
except ValueError as e:
    st.warning(plaintext.md(e))
    st.stop()

p = ss.get("point_a")
a = c.resolve(p)
if a is None:
    p = {"kind": "index", "index": int(g1[0])}
    a = c.resolve(p)
    st.caption("Point A is not set: starting from the first point of the first group. "
               "Click a point on the latent map to choose A.")
# c.describe() and `what` carry label names from the checkpoint: plain text, never Markdown.
st.text(f"Direction: {what}, |v| = {float(np.linalg.norm(v)):.3g} · applied to A: {c.describe(p)}")
if c.y_cond is not None:
    st.caption("Decoded as the class chosen in the sidebar (conditional VAE).")

alpha = st.slider("alpha (A + alpha · v)", -3.0, 3.0, 1.0, 0.1, key="attr_alpha")
lo, hi = st.slider("Filmstrip range of alpha", -3.0, 3.0, (0.0, 2.0), 0.25, key="attr_range")
k = st.slider("Frames", 3, 16, 9, key="attr_k")

scale = state.image_scale(6)
row = st.columns([1, 1, 3])
ends = compute.decode_memo(c.ck, np.stack([a, attributes.apply(a, v, alpha)]), c.y_cond)
row[0].image(im.for_display(im.upscale(ends[0], scale)), caption="A decoded", width="stretch")
row[1].image(im.for_display(im.upscale(ends[1], scale)), caption=f"A + {alpha:g} · v",
             width="stretch")
alphas = np.linspace(lo, hi, k)
frames = compute.decode_memo(c.ck, attributes.filmstrip_latents(a, v, alphas), c.y_cond)
st.image(im.for_display(interpolate.filmstrip(frames, scale=max(2, scale // 2), pad=2)),
         caption=f"alpha from {lo:g} to {hi:g}, {k} frames")
st.download_button("Filmstrip PNG", interpolate.filmstrip_png(frames, scale=4),
                   file_name="attribute-filmstrip.png", mime="image/png")
