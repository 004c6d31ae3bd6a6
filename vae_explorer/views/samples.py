"""Samples from the prior, and per-dimension traversals ordered by KL."""
import numpy as np
import streamlit as st

from vae_explorer import compute, images as im, state, traversal
from vae_explorer.analysis import factors

c = state.ctx()
ss = st.session_state
if not c.presenter:
    st.title("Samples & traversal")

st.subheader("Samples from the prior  z ~ N(0, I)")
cols = st.columns([1, 1, 1, 1], vertical_alignment="bottom")  # button level with the seed
side = cols[0].slider("Grid side", 2, 16, 8, key="samp_side")
temp = cols[1].slider("Temperature (std)", 0.1, 2.0, 1.0, 0.1, key="samp_temp",
                      help="Scale of the prior samples; below 1 gives more typical, blurrier images.")
# The seed lives in session state ("New samples" moves it on), so the widget gets no default of
# its own: a default plus a value set through st.session_state makes Streamlit log a warning.
ss.setdefault("samp_seed", 0)
seed = cols[2].number_input("Seed", min_value=0, max_value=10**9, key="samp_seed")


def _next_seed():
    ss["samp_seed"] = int(ss.get("samp_seed", 0)) + 1


cols[3].button("New samples", icon=":material/casino:", on_click=_next_seed)
z = traversal.prior_samples(side * side, c.d, seed=int(seed), temperature=temp)
imgs = compute.decode_memo(c.ck, z, c.y_cond)
scale = state.image_scale(3)
grid = im.tile(im.upscale(imgs, scale), side, pad=max(1, scale // 2))
st.image(im.for_display(grid))
st.download_button("Download PNG", im.png_bytes(grid), file_name=f"prior-samples-seed{seed}.png",
                   mime="image/png", key="dl_samples")

st.subheader("Traversal: one dimension at a time")
kl = c.kl_per_dim()
order = traversal.dims_by_kl(kl, c.d)
if kl is None:
    st.caption("No KL per dimension available (no data, none in the checkpoint): natural order.")
else:
    au = traversal.active_units(kl)
    st.caption(f"Rows ordered by mean KL per dimension (nats); {au} of {c.d} dimensions carry "
               "more than 0.01 nats. Dimensions with ~0 KL are unused: the decoder ignores them.")
tc = st.columns(4)
rows = tc[0].slider("Dimensions shown", 1, min(c.d, 32), min(c.d, 10), key="trav_rows")
steps = tc[1].slider("Steps", 3, 21, 11, key="trav_steps")
span = tc[2].slider("Range ± (std)", 0.5, 5.0, 3.0, 0.5, key="trav_span")
base_opts = ["zero"] + (["A"] if c.resolve(ss.get("point_a")) is not None else [])
base = tc[3].segmented_control("Start from", base_opts, default="zero", key="trav_base",
                               format_func={"zero": "z = 0", "A": "point A"}.get) or "zero"
base_z = c.resolve(ss.get("point_a")) if base == "A" else np.zeros(c.d, np.float32)
dims = order[:rows]
vals = traversal.traversal_values(steps, span)
zt = traversal.traversal_latents(base_z, dims, vals)
if base == "A":
    zt = zt.copy()
    for r, d in enumerate(dims):  # around A's value in that dimension
        zt[r * steps:(r + 1) * steps, d] = base_z[d] + vals
timgs = compute.decode_memo(c.ck, zt, c.y_cond)
row_labels = [f"z{d + 1}" + (f" · KL {kl[d]:.2f}" if kl is not None else "") for d in dims]
col_labels = [f"{v:+.1f}" for v in vals]
timg = im.labelled_grid(timgs, len(dims), steps, scale=max(1, scale - 1), col_labels=col_labels,
                        row_labels=row_labels, x_title="offset (prior std)" if base == "A" else "value",
                        font_size=20 if c.presenter else 13)
st.image(im.for_display(timg))
st.download_button("Download PNG", im.png_bytes(timg), file_name="traversal.png", mime="image/png",
                   key="dl_trav")

if c.factors is not None and c.enc is not None:
    st.subheader("Which dimension encodes which factor")
    fs = compute.factor_scores(c.ck.sha256, c.data_key, c.enc["mu"], c.labels, c.factors,
                               tuple(c.factor_names))
    st.caption("This dataset was generated from known factors. Each cell: how much the "
               "dimension's value tells about the factor (mutual information over the factor's "
               "entropy; 1 = all of it, 0 = nothing), rows in the traversal's KL order. MIG "
               "(mutual information gap, Chen et al. 2018): per factor, the best dimension's share "
               "minus the second best's, averaged; 1 = every factor in exactly one dimension.")
    m1, m2 = st.columns([1, 4])
    m1.metric("MIG", f"{fs.mig:.2f}")
    m2.text("Best dimension per factor (its share, gap to the next):\n"
            + " · ".join(factors.best_dimensions(fs)))
    # Seven factor columns at their default width ran past the page's edge (y and rotation
    # needed a horizontal scroll at 1400 px); at 100 px each, five still did in a 1024 px window
    # (589 of 533 px): 80 px fits the bar and its number.
    st.dataframe(factors.table(fs, list(order), kl), hide_index=True,
                 column_config={n: st.column_config.ProgressColumn(n, min_value=0.0, max_value=1.0,
                                                                   format="%.2f", width=80)
                                for n in fs.factor_names})

