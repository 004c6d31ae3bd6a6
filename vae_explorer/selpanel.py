"""Below the latent map: search, the clicked point's latent neighbours, and the panel for the
selections S1 / S2 (box / lasso on the map). Streamlit arrangement only; the figures come from
vae_explorer.selection and vae_explorer.analysis.neighbours."""
from __future__ import annotations

import numpy as np
import streamlit as st

from . import compute, imagegrid, images as im, plaintext, selection, state
from .analysis import neighbours as nbrs
from .lazy_imports import load

PER_PAGE = 48


def search_box(c: state.Ctx, container=None) -> dict | None:
    """A text box that finds points by label name or index; returns draw()'s ``found``."""
    ss = st.session_state
    q = (container or st).text_input("Find points", key=state.hold("map_search", ""),
                                     placeholder="label or #index",
                                     help="A label name (e.g. 'circle'), or a point's index: "
                                          "'#123' (or '123' when no label is called that).")
    idx, what = selection.search(q, c.labels, list(c.label_names), len(c.enc["mu"]))
    if q != ss.get("_map_search_last"):
        ss["_map_search_last"] = q
        ss["_map_search_id"] = ss.get("_map_search_id", 0) + 1
    if what:
        (container or st).text(what)  # names a label from the checkpoint: plain text
    return {"indices": idx, "id": ss.get("_map_search_id", 0)} if idx.size else None


def neighbour_controls(container=None) -> int:
    # One above the other: side by side in the map page's popover, "Cosine" was clipped.
    a = b = container or st
    a.segmented_control("Neighbours by", ["euclidean", "cosine"],
                        **state.bind("nn_metric", in_popover=True), format_func=str.capitalize,
                        help="Distance between full latent codes (not positions on the map).")
    return int(b.number_input("k", 1, 50, key=state.hold("nn_k", 10),
                              help="How many neighbours a clicked point shows"))


def neighbours_of(c: state.Ctx, k: int) -> dict | None:
    i = st.session_state.get("nn_of")
    mu = c.enc["mu"]
    if i is None or not 0 <= int(i) < len(mu):
        return None
    index = compute.neighbour_index(c.ck.sha256, c.data_key, state.get("nn_metric"), mu)
    idx, dist = nbrs.query(index, mu, int(i), k)
    return {"of": int(i), "idx": idx.tolist(), "dist": dist.tolist()}


def _name(c: state.Ctx, i: int) -> str:
    return str(c.label_names[int(c.labels[i])]) if c.labels is not None else ""


def neighbour_strip(c: state.Ctx, nb: dict | None) -> None:
    if not nb:
        return
    i = nb["of"]
    st.text(f"Nearest {len(nb['idx'])} codes to #{i} ({_name(c, i)}), "
            f"{state.get('nn_metric')} distance in the {c.d}-D latent space:")
    imgs = [im.for_display(im.upscale(c.images[j], 2)) for j in [i] + nb["idx"]]
    st.image(imgs, caption=neighbour_captions(c, nb), width=84)
    # the PNG's captions are drawn as pixels by Pillow: plain text, nothing to escape
    caps = [f"#{i} itself"] + [f"#{j} · {_name(c, j)}\nd={d:.3g}"
                               for j, d in zip(nb["idx"], nb["dist"])]
    st.download_button("Neighbours as PNG", lambda: imagegrid.grid_png(
        [c.images[j] for j in [i] + nb["idx"]], caps, cols=len(caps)),
        file_name=f"neighbours-{i}.png", mime="image/png", key="nn_png", on_click="ignore")


def neighbour_captions(c: state.Ctx, nb: dict) -> list[str]:
    """st.image captions render Markdown (images included): label names are escaped."""
    return [f"#{nb['of']} itself"] + [f"#{j} · {plaintext.md(_name(c, j))} d={d:.3g}"
                                      for j, d in zip(nb["idx"], nb["dist"])]


def selection_panel(c: state.Ctx) -> None:
    ss = st.session_state
    n = len(c.enc["mu"])
    have = [(s, selection.valid(ss.get("sel_" + s), n)) for s in ("s1", "s2")]
    have = [(s, idx) for s, idx in have if idx.size]
    if not have:
        st.caption("Select points on the map with Box or Lasso (toolbar above the map; "
                   "shift-drag adds a box in Pan mode, alt-drag removes one). Press N over a "
                   "point to see its neighbours without changing A / B.")
        return
    tabs = st.tabs([f"{s.upper()}: {idx.size:,} points" for s, idx in have])
    for tab, (s, idx) in zip(tabs, have):
        with tab:
            _one_selection(c, s, idx)


def _one_selection(c: state.Ctx, slot: str, idx: np.ndarray) -> None:
    summ = selection.summary(idx, c.labels, list(c.label_names), c.enc)
    cols = st.columns([1, 1, 1, 2])
    cols[0].metric("Points", f"{summ['count']:,}")
    cols[1].metric("Mean recon. error", "—" if summ["rec_err"] is None else f"{summ['rec_err']:.4g}")
    cols[2].metric("Mean KL (nats)", "—" if summ["kl"] is None else f"{summ['kl']:.3g}")
    with cols[3]:
        if summ["hist"]:
            # here, not at the top: ~0.6 s of a warm open's first run (lazy_imports' lock)
            df = load("pandas").DataFrame({"label": list(summ["hist"]), "points": list(summ["hist"].values())})
            st.bar_chart(df, x="label", y="points", height=160)
    pages = max(1, -(-idx.size // PER_PAGE))
    left, right = st.columns([3, 1])
    if idx.size > selection.MAX_URL_POINTS:
        st.caption(f"{slot.upper()} has more than {selection.MAX_URL_POINTS:,} points: it is left "
                   "out of the page's link (export it instead).")
    page_key = f"sel_page_{slot}"
    if st.session_state.get(page_key, 1) > pages:  # a smaller selection than the last one
        st.session_state[page_key] = pages
    with right:
        p = int(st.number_input(f"Page (of {pages})", 1, pages, key=page_key)) - 1
        if st.button("Decode the mean code", key=f"sel_mean_{slot}"):
            z = c.enc["mu"][idx].mean(axis=0, keepdims=True).astype(np.float32)
            img = compute.decode_memo(c.ck, z, c.y_cond)[0]
            st.image(im.for_display(im.upscale(img, 4)), caption=f"decoded mean of {slot.upper()}")
    with left:
        chunk, _ = selection.page(idx, p, PER_PAGE)
        rec = c.enc.get("recon")
        st.caption(f"{slot.upper()} points {p * PER_PAGE + 1}–{p * PER_PAGE + len(chunk)}: "
                   + ("each original above its reconstruction" if rec is not None else "originals"))
        for row in range(0, len(chunk), 12):
            part = chunk[row:row + 12]
            # two rows a chunk: originals, then their reconstructions
            pics = c.images[part] if rec is None else np.concatenate([c.images[part], rec[part]])
            grid = im.tile(pics, len(part), pad=1)
            st.image(im.for_display(im.upscale(grid, 2)))
        st.download_button(
            "This page as PNG", lambda: imagegrid.grid_png(
                [imagegrid.pair(c.images[j], None if rec is None else rec[j]) for j in chunk],
                [f"#{j} · {_name(c, j)}" for j in chunk], cols=8),
            file_name=f"selection-{slot}-page{p + 1}.png", mime="image/png", key=f"sel_png_{slot}",
            on_click="ignore",
            help="Each point of this page: original · reconstruction, with its index and label.")
