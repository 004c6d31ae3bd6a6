"""Compare: this checkpoint's map beside another checkpoint's (same dataset, same images) or beside
a map of the raw pixels, linked: hover one, the same image is ringed in the other."""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from vae_explorer import comparemaps as cm, images as im, imagegrid, mapview, plaintext, state
from vae_explorer.analysis import compare

c = state.ctx()
ss = st.session_state
st.title("Compare")
if not c.has_data:
    st.warning(c.data_error or "No data.")
    st.stop()

name_a = ss.get("active_ckpt_name") or ss.get("active_label") or "this checkpoint"
opts = cm.choices(ss.get("active_ckpt_name", ""), c.ck)
top = st.columns([2, 2, 1.4])
if state.get("cmp_with") not in opts:  # first visit, or a link naming a file not listed here
    state.put("cmp_with", next(iter(opts)))
choice = top[0].selectbox("Compare with", list(opts), format_func=opts.get, **state.bind("cmp_with"),
                          help="Another checkpoint trained on the same dataset (its map of the same "
                               "images), or a map computed from the raw pixels.")
proj = state.get("proj")
top[1].segmented_control("Projection (for latents above 2-D)", list(mapview.PROJ_LABELS),
                         format_func=mapview.PROJ_LABELS.get, **state.bind("proj"))
top[2].segmented_control("Colour by", ["label", "moved"], **state.bind("cmp_colour"),
                         format_func={"label": "Label", "moved": "What moved"}.get)
colour = state.get("cmp_colour")

m = mapview.current_map(c, proj)
b, why = cm.side_b(c, choice, proj, m)
if b is None:
    st.error(plaintext.md(why))  # names datasets / files from the checkpoints: plain text
    st.stop()

al = compare.align(m.xy, b.xy)
xy_b = al.apply(b.xy)
kept, spread = cm.kept(c.ck.sha256, b.ck.sha256 if b.ck else "pixels", c.data_key, c.enc["mu"],
                       b.space)
moved = colour == "moved"
cv, ct = (kept, cm.MOVED_TITLE if b.ck else cm.MOVED_TITLE_PIXELS) if moved else (None, "")
grid_b = cm.b_hover_grid(c, b, al, xy_b)

# Wide maps: the two columns take the page's width with a small gap; titles, progress and maps
# each in a row of their own, so the maps line up however the titles wrap.
heads, slots, maps = (st.columns(2, gap="small") for _ in range(3))
heads[0].text(f"A: {name_a} — {m.label}")
heads[1].text(f"B: {b.name} — {b.label}, aligned onto A")
# Each map's projection still computing shows its progress above it and reruns the page when
# done (B's UMAP / t-SNE, started from A's layout, waits for A's).
slow = bool({m.wanted, b.wanted} & set(cm.projections.SLOW_METHODS))
with slots[0]:
    cm.progress(m, "proj_retry_a", slow)
with slots[1]:
    wait_note = (f"B's {mapview.PROJ_LABELS.get(b.wanted, b.wanted)} starts from A's layout once "
                 f"A's is ready — showing B's PCA meanwhile.")
    cm.progress(mapview.MapInfo(b.xy, "knn", "", b.label, job=b.job, wanted=b.wanted),
                "proj_retry_b", slow, note=wait_note if b.waits_for_a and b.job is None else "")
with maps[0]:
    cm.draw(c, "cmp_a", m.xy, m.label, "cmp-a:" + m.key, c.enc.get("recon"), cv, ct,
            grid=cm.hover_grid(c, m), height=cm.MAP_PX)
with maps[1]:
    cm.draw(c, "cmp_b", xy_b, b.label,
            f"cmp-b:{b.name}:{b.label}:{c.data_key}:{'from-a' if b.from_a else ''}", b.recon, cv, ct,
            grid=None if grid_b is None else grid_b[:2],
            grid_latents=None if grid_b is None else grid_b[2],
            cursor_method="aligned" if grid_b is not None else "knn", height=cm.MAP_PX)
# Reconstructions still decoding in the background (a first open): the hover panels show them
# once ready (the bars rerun the page), below the maps so that the maps do not move.
mapview.recon_progress(c)
if b.ck is not None and b.recon is None:
    mapview.recon_progress(c, (b.ck.sha256, c.data_key))
st.caption(f"Alignment of B onto A: {cm.alignment_text(b, al)}. Hover a point in either map: the "
           f"same image is ringed in the other. Box / lasso selections are shared by both maps (and the "
           f"Latent map page). Neighbours kept: mean {float(np.mean(kept)):.0%} of each image's "
           f"10 nearest neighbours in A's latent space are among its 10 nearest in B's "
           f"{'pixel space' if b.ck is None else 'latent space'}.")

st.subheader("What moved most")
idx, share = compare.moved_most(kept, 16, spread)
cells = [imagegrid.pair(c.images[i], None) for i in idx]
caps = [f"#{i} · {c.label_names[c.labels[i]] if c.labels[i] < len(c.label_names) else c.labels[i]}"
        f" · kept {s:.0%}" for i, s in zip(idx, share)]
imagegrid.image_grid(cells, caps, idx, key="cmp_moved", scale=2, cell_px=80)

st.subheader("Map quality")
sa = cm.scores(c.ck.sha256 + m.key, c.data_key, c.enc["mu"], m.xy, c.labels)
sb = cm.scores((b.ck.sha256 if b.ck else "pixels") + b.label + (":from-a" if b.from_a else ""),
               c.data_key, b.space, b.xy, c.labels)
space_b = "pixels" if b.ck is None else "codes"
st.table([{"figure": "5-NN label accuracy, full space (codes / pixels)",
           "A": f"{sa['knn_space']:.1%}", "B": f"{sb['knn_space']:.1%} ({space_b})"},
          {"figure": "5-NN label accuracy on the 2-D map",
           "A": f"{sa['knn_map']:.1%}", "B": f"{sb['knn_map']:.1%}"},
          {"figure": f"trustworthiness of the 2-D map (k=10, ≤{compare.TRUST_MAX_POINTS:,} points)",
           "A": f"{sa['trust']:.3f}", "B": f"{sb['trust']:.3f}"}])
st.caption("Leave-one-out: each image's label guessed from its 5 nearest other images. "
           "Trustworthiness (scikit-learn): 1 when no map neighbour is a stranger in the full space.")

if b.ck is None and b.fit is not None:
    st.subheader("Decoders side by side")
    g = 12
    cols = st.columns(2)
    vae = cm.vae_grid(c, m.xy, m.fit if m.key.startswith("pca:") else None, g)
    u, v = cm.pixels.grid_coords(b.xy, g)
    pix = cm.pixels.pca_grid(b.fit, u, v, c.images.shape[1:])
    cols[0].image(im.for_display(im.tile(vae, g, pad=1)), caption=f"A's decoder over {m.label}",
                  width="stretch")
    cols[1].image(im.for_display(im.tile(pix, g, pad=1)),
                  caption="PCA of pixels, decoded by its inverse over PCA 1, PCA 2",
                  width="stretch")

if b.ck is not None:
    st.subheader("Metrics")
    rows, why = compare.metrics_rows(c.ck, b.ck)
    st.table([{"metric": r["metric"], f"A: {name_a}": r["A"], f"B: {b.name}": r["B"]} for r in rows])
    if why:
        st.text(why)
    fig = go.Figure()
    for tag, ck, colour in (("A", c.ck, "#0077BB"), ("B", b.ck, "#EE3377")):
        h = [r for r in (ck.history or []) if isinstance(r, dict) and "epoch" in r]
        for k, dash in (("train_loss", "dot"), ("test_loss", "solid")):
            fig.add_trace(go.Scatter(x=[r["epoch"] for r in h], y=[r.get(k) for r in h],
                                     mode="lines+markers", name=f"{tag} {k.replace('_', ' ')}",
                                     line=dict(color=colour, dash=dash)))
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="epoch",
                      yaxis_title="-ELBO (nats)" if not why else "-ELBO (own units each)",
                      title="Training curves" + ("" if not why else " (likelihoods differ)"))
    st.plotly_chart(fig, width="stretch")
