"""What the model gets wrong: rankings as clickable image grids (original · reconstruction and
the score); a click puts point A on that image and opens the map. The per-point figures come
from a background job (vae_explorer.compute_analysis), never delaying the map."""
import numpy as np
import streamlit as st

from vae_explorer import compute_analysis, imagegrid, mapview, plaintext, state
from vae_explorer.analysis import attributes, export, rankings

c = state.ctx()
ss = st.session_state
if not c.presenter:
    st.title("What it gets wrong")

if not c.has_data:
    st.warning(c.data_error or "No data.")  # our own sentence (may use `code`)
    st.stop()

job = compute_analysis.start(c)
figs = job.arrays if job is not None else None
if figs is None and job is not None and job.error:
    st.warning(f"The per-point figures could not be computed ({plaintext.md(job.error)}).")
    st.stop()
if figs is None:
    @st.fragment(run_every=1.0)
    def _wait():
        if job.done:
            st.rerun()
        st.info(f"Per-point figures: {job.stage} (in the background; the map works meanwhile)…")

    _wait()
    st.stop()

ctl = st.columns([3, 1])
rank = ctl[0].segmented_control("Ranking", list(rankings.RANKINGS), default="rec",
                                format_func=lambda k: rankings.RANKINGS[k][0], key="wrong_rank")
rank = rank or "rec"
n_show = ctl[1].select_slider("How many", [12, 24, 48, 96], value=24, key="wrong_n")
title, score_name, field = rankings.RANKINGS[rank]
idx, scores = rankings.top(figs[field], n_show)
st.caption(f"{title}: worst first, by {score_name}. Each image: original · reconstruction. "
           "Click one to show it on the map (as point A).")

recon = c.enc.get("recon")
pairs = [imagegrid.pair(c.images[i], None if recon is None else recon[i]) for i in idx]
# "#604 · 5": with MNIST's digit labels "#604 5" read as one number in the PNG's small font
caps = [f"#{i} · {c.label_names[int(c.labels[i])]}\n{s:.3g}" for i, s in zip(idx, scores)]
clicked = imagegrid.image_grid(pairs, caps, idx, key=f"wrong_grid_{rank}",
                               scale=3 if c.presenter else 2)
st.download_button("These images as PNG", lambda: imagegrid.grid_png(pairs, caps, cols=8),
                   file_name=f"worst-{rank}.png", mime="image/png", key="wrong_png",
                   on_click="ignore",
                   help="The grid above in one image, each with its caption.")
if clicked is not None and 0 <= clicked < len(c.labels):
    state.put("point_a", {"kind": "index", "index": int(clicked)})
    st.switch_page("views/map.py")


def _csv() -> bytes:
    m = mapview.current_map(c, state.get("proj"))
    sel = [s for s in (attributes.read_selection(ss.get(k), len(c.labels))
                       for k in ("sel_s1", "sel_s2")) if s is not None]
    return export.map_csv(c.labels, c.label_names, m.xy, c.enc["mu"], rec_err=c.enc.get("rec_err"),
                          kl=figs["kl"], neg_elbo=figs["neg_elbo"],
                          selected=np.concatenate(sel) if sel else None)


st.download_button("The map as CSV", _csv, file_name="latent-map.csv", mime="text/csv",
                   help="index, label, map x/y, the latent code, reconstruction error, KL, "
                        "-ELBO and whether the point is in S1 or S2, one row per point.")
