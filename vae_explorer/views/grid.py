"""Manifold grid: decode an N x N lattice over a plane of latent space."""
import numpy as np
import streamlit as st

from vae_explorer import compute, grids, images as im, plaintext, state

c = state.ctx()
ss = st.session_state
if not c.presenter:
    st.title("Manifold grid")
    st.caption("Each tile is the decoder's output at one point of a plane in latent space; the "
               "axes show the latent values.")

cols = st.columns([1, 1.2, 1, 0.8])  # the Range control fits down to ~1000 px
n = cols[0].slider("Tiles per side", 3, 30, 15, key="grid_n")
range_opts = ["prior", "data"] if c.has_data else ["prior"]
rng_mode = cols[1].segmented_control(
    "Range from", range_opts, default="prior", key="grid_range",  # short: a column is ~170 px
    format_func={"prior": "prior", "data": "data"}.get,
    help="Prior quantiles: equal probability mass per step under N(0, 1) (Kingma & Welling). "
         "Data extent: evenly spaced over where the encoded test images lie.") or "prior"
q = cols[2].slider("Quantile range", 0.01, 0.2, 0.05, 0.01, key="grid_q",
                   help="Tiles span the prior quantiles q … 1−q.",
                   disabled=rng_mode != "prior")
scale = cols[3].slider("Tile scale", 1, 8, state.image_scale(2), key="grid_scale")

plane = None
if c.d == 1:
    st.info("This model has a 1-D latent: showing a single row.")
if c.d >= 2:
    if c.d == 2:
        plane = grids.dims_plane(2, 0, 1)
    else:
        kinds = ["dims", "pca", "three"] if c.has_data else ["dims", "three"]
        kind = st.segmented_control(
            "Plane", kinds, default="dims", key="grid_plane",
            format_func={"dims": "two dimensions", "pca": "first two principal axes",
                         "three": "through three points"}.get) or "dims"
        if kind == "dims":
            order = list(range(c.d))
            kl = c.kl_per_dim()
            if kl is not None:
                order = [int(i) for i in np.argsort(-kl, kind="stable")]
            fmt = (lambda i: f"z{i + 1} (KL {kl[i]:.2f})") if kl is not None else (lambda i: f"z{i + 1}")
            pc = st.columns(3)
            i = pc[0].selectbox("Horizontal", order, index=0, format_func=fmt, key="grid_i")
            j = pc[1].selectbox("Vertical", order, index=1, format_func=fmt, key="grid_j")
            base_opts = ["zero", "A"] if c.resolve(ss.get("point_a")) is not None else ["zero"]
            base = pc[2].segmented_control("Other dimensions at", base_opts, default="zero",
                                           key="grid_base",
                                           format_func={"zero": "0", "A": "point A"}.get) or "zero"
            if i == j:
                st.error("Choose two different dimensions.")
                st.stop()
            plane = grids.dims_plane(c.d, i, j, c.resolve(ss.get("point_a")) if base == "A" else None)
        elif kind == "pca":
            plane = grids.pca_plane(c.enc["mu"])
        else:
            pts = [c.resolve(ss.get(k)) for k in ("point_a", "point_b")]
            pc = st.columns(3)
            pc[0].text(f"A (0, 0): {c.describe(ss.get('point_a'))}")  # label names: plain text
            pc[1].text(f"B (1, 0): {c.describe(ss.get('point_b'))}")
            if c.has_data:
                ci = pc[2].number_input("C (0, 1): dataset index", 0, len(c.labels) - 1, 2,
                                        key="grid_c")
                cz = c.enc["mu"][int(ci)]
            else:
                seed = pc[2].number_input("C (0, 1): prior sample seed", 0, 10**6, 3, key="grid_c")
                from vae_explorer.traversal import prior_samples
                cz = prior_samples(1, c.d, int(seed))[0]
            if any(p is None for p in pts):
                st.info("Choose A and B first (latent map clicks or the Interpolation page).")
                st.stop()
            try:
                plane = grids.three_point_plane(pts[0], pts[1], cz)
            except ValueError as e:
                st.error(plaintext.md(e))
                st.stop()

if plane is None:  # 1-D latent: a row along z1
    vals = grids.prior_values(n, q) if rng_mode == "prior" else grids.linear_values(
        *np.percentile(c.enc["mu"][:, 0], [1, 99]), n)
    z = vals[:, None].astype(np.float32)
    imgs = compute.decode_memo(c.ck, z, c.y_cond)
    img = im.labelled_grid(imgs, 1, n, scale=scale, col_labels=[grids.fmt(v) for v in vals],
                           x_title="z1")
else:
    if not plane.prior_ok:
        # affine coordinates: A at (0,0), B at (1,0), C at (0,1)
        if rng_mode == "data":
            (u0, u1), (v0, v1) = grids.data_ranges(plane, c.enc["mu"])
        else:
            u0, u1, v0, v1 = -0.25, 1.25, -0.25, 1.25
        u_vals, v_vals = grids.linear_values(u0, u1, n), grids.linear_values(v0, v1, n)
    elif rng_mode == "data":
        (u0, u1), (v0, v1) = grids.data_ranges(plane, c.enc["mu"])
        u_vals, v_vals = grids.linear_values(u0, u1, n), grids.linear_values(v0, v1, n)
    else:
        u_vals = v_vals = grids.prior_values(n, q)
    z = grids.grid_latents(plane, u_vals, v_vals)
    imgs = compute.decode_memo(c.ck, z, c.y_cond)
    img = grids.render(imgs, u_vals, v_vals, plane, scale=scale,
                       font_size=22 if c.presenter else 14)

st.image(im.for_display(img))
st.download_button("Download PNG", im.png_bytes(img), file_name=f"manifold-grid-{n}x{n}.png",
                   mime="image/png")
