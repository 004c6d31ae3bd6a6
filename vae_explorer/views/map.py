"""Latent map: every encoded test image as a point; hover to see it, click to pick A / B."""
import numpy as np
import streamlit as st

from vae_explorer import (compute, compute_analysis, firstpaint, images as im, interpolate,
                          latent_map, mapview, selpanel, plaintext, state)

c = state.ctx()
ss = st.session_state
if not c.presenter:
    st.title("Latent map")

if not c.has_data:
    st.warning(c.data_error or "No data.")  # our own sentence (may use `code`)
    st.info("The map needs the dataset the checkpoint was trained on. Prior samples, manifold "
            "grids, traversals and interpolation between prior samples or typed latents still "
            "work: see the other pages.")
    st.stop()


def _clear_points() -> None:
    state.put("point_a", None)
    state.put("point_b", None)
    state.put("pick_target", "A")


def _controls():
    """The row above the map; returns (projection, colouring, search results, k)."""
    # Colour by's four options need ~360 px: its column gets the most room of its row (it was
    # clipped at "Neighbours kept" in a quarter of the row at 1400 and 1920 px browser widths).
    ctl = st.columns([1.5, 2.4, 0.9], vertical_alignment="bottom")
    proj = mapview.projection_control(c, ctl[0])
    colour_kw = state.bind("colour_by", clears=("colour_factor",))
    if state.get("colour_factor"):  # a factor colours the map: no Colour by button is lit
        ss[colour_kw["key"]] = None
    ctl[1].segmented_control("Colour by", list(mapview.COLOUR_BY), format_func=mapview.COLOUR_BY.get,
                             **colour_kw)
    colour = state.get("colour_by")
    mapview.pick_target_control(ctl[2])

    # The rest in a popover: Streamlit mounts a closed popover's body only when it is opened, so a
    # first open draws four widgets fewer, and fetches the code of two widget types fewer (text and
    # number input; docs/benchmarks.md "Warm open"). Its widgets run on every script run all the
    # same: their values, and the URL's, hold while it is closed. A 2-D latent has no projection
    # to choose: the popover takes that place; otherwise a row of its own below.
    more = (ctl[0] if c.d <= 2 else st).popover(
        mapview.more_label(c.factor_names, c.d, state.get("colour_factor"), ss.get("map_search", "")),
        width="stretch" if c.d <= 2 else "content")
    if c.d > 2:
        more.segmented_control(
            "Empty space decodes", ["knn", "pca"], **state.bind("cursor_mode", in_popover=True),
            format_func={"knn": "nearest codes", "pca": "PCA plane"}.get,
            help="What the image under the cursor shows between points: a distance-weighted mix "
                 "of the nearest codes, or (PCA map only) the point on the PCA plane.")
    if c.factor_names:  # a generated dataset: its known factors colour the map too
        more.selectbox("Colour by factor", ["", *c.factor_names],
                       **state.bind("colour_factor", in_popover=True), format_func=lambda f: f or "— (Colour by above)",
                       help="The values each image was generated from (0..1). A factor a "
                            "dimension encodes shows as a smooth gradient across the map.")
    colour = mapview.colouring(c, colour, state.get("colour_factor"))
    found = selpanel.search_box(c, more)
    nn_k = selpanel.neighbour_controls(more)
    return proj, colour, found, nn_k


if state.get("colour_factor") not in ("", *c.factor_names):  # a link from another dataset
    state.put("colour_factor", "")
# The row is in a slot drawn in every run, so the map's place in the page (its delta path) is
# the same with or without it: the first render's map is not mounted afresh when it comes.
row = st.container()
if c.controls:
    with row:
        proj, colour, found, nn_k = _controls()
else:  # a session's first run: the map first, its controls with the next run (modelstart)
    # Their room, kept free: the map does not move when they come. (The key names the element
    # in the page, class st-key-controls_pending_…: tests wait until it is gone.)
    row.container(height=mapview.controls_px(c.d, c.presenter), border=False,
                  key=mapview.controls_slot_key(c.d))
    proj, colour, found, nn_k = mapview.settings_without_controls(c)

m = mapview.current_map(c, proj)
mapview.progress_panel(m, note=mapview.map_note(c.d, m))
if colour == "rec_err" and "rec_err" not in c.enc:
    st.caption("Colouring by reconstruction error once the reconstructions are ready.")
if colour == "kept":
    compute_analysis.kept_progress(c)

a, b = c.resolve(ss.get("point_a")), c.resolve(ss.get("point_b"))
path_z = None
if a is not None and b is not None:
    path_z = interpolate.path(a, b, 16, state.get("interp_method"))

# The map gets four fifths of the row: at [3, 1] it was 472 px wide at a 1400 px window, the
# A/B column beside it needs no more than a fifth for its images.
left, right = st.columns([4, 1])
with left:
    nb = selpanel.neighbours_of(c, nn_k)
    ev = mapview.draw(c, m, colour, path_z, height=720 if c.presenter else 600,
                      found=found, neighbours=nb)
    mapview.recon_progress(c)  # below the map, so that the map does not move when it goes
    selpanel.neighbour_strip(c, nb)
if mapview.handle_event(c, m, ev):
    st.rerun()
if not c.controls:
    # The default link's first render, nothing but the map below its room: the next new tab
    # mounts this frame before the app is imported (vae_explorer.firstpaint).
    if firstpaint.may_record(ss) and m.wanted == "latent" and nb is None and not c.presenter \
            and colour not in ("rec_err", "kept") and not c.extras.get("recon_pending") \
            and (frame := latent_map.last_frame()) is not None:
        firstpaint.record(*frame, mapview.controls_px(c.d, c.presenter), mapview.controls_slot_key(c.d))
    st.stop()  # A / B beside the map, the caption and the selection below it: the next run

with right:
    scale = state.image_scale(4)
    for name in ("a", "b"):
        p = ss.get(f"point_{name}")
        # c.describe() carries label names from the checkpoint: plain text, never Markdown.
        st.text(f"{name.upper()}: {c.describe(p)}" if p else f"{name.upper()}: click the map")
        z = c.resolve(p)
        if z is None:
            continue
        if p.get("kind") == "index" and "recon" in c.enc:
            i = int(p["index"])
            pair = np.stack([c.images[i], c.enc["recon"][i]])
            st.image(im.for_display(im.upscale(interpolate.filmstrip(pair, pad=1), scale)),
                     caption="original · reconstruction")
        elif p.get("kind") == "index":
            st.image(im.for_display(im.upscale(c.images[int(p["index"])], scale)),
                     caption="original (reconstruction being decoded)")
        else:
            img = compute.decode_memo(c.ck, z[None], c.y_cond)[0]
            st.image(im.for_display(im.upscale(img, scale)), caption="decoded")
    if a is not None and b is not None:
        st.page_link("views/interpolate.py", label="Interpolate A → B",
                     icon=":material/linear_scale:")
    if ss.get("point_a") or ss.get("point_b"):
        st.button("Clear A and B", on_click=_clear_points)

if not c.presenter:
    bits = [c.data_desc, f"map: {m.label}"]  # what a PCA explains: above the map (map_note)
    if "rec_err" in c.enc:
        bits.append(f"mean reconstruction MSE {float(np.mean(c.enc['rec_err'])):.4f}")
    st.caption(" · ".join(bits))

if not c.presenter:
    st.subheader("Selection")
    selpanel.selection_panel(c)
