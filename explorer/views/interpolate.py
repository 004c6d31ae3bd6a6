"""Interpolation between two latents A and B: live slider, path on the map, filmstrip, GIF."""
import numpy as np
import streamlit as st

from explorer import compute, images as im, interpolate, mapview, state, traversal

c = state.ctx()
ss = st.session_state
if not c.presenter:
    st.title("Interpolation")

MODES = ["Dataset point", "First of a label", "Prior sample", "Typed latent"]
if not c.has_data:
    MODES = MODES[2:]


def chooser(name: str, col) -> None:
    """Widgets that set point_<name> (a dict spec)."""
    key = f"point_{name}"
    cur = ss.get(key)
    with col:
        st.subheader(name.upper())
        default = 0
        if cur and cur.get("kind") == "z" and "Prior sample" in MODES:
            default = MODES.index("Typed latent")
        mode = st.selectbox("Choose by", MODES, index=default, key=f"mode_{name}")
        new, sig = None, (mode,)
        if mode == "Dataset point":
            n = len(c.labels)
            cur_i = int(cur["index"]) if cur and cur.get("kind") == "index" else (0 if name == "a" else 1)
            i = st.number_input("Index", 0, n - 1, min(cur_i, n - 1), key=f"idx_{name}_{cur_i}")
            new = {"kind": "index", "index": int(i)}
            sig = (mode, int(i))
        elif mode == "First of a label":
            k = st.selectbox("Label", range(len(c.label_names)), format_func=lambda j: c.label_names[j],
                             index=0 if name == "a" else min(1, len(c.label_names) - 1),
                             key=f"lab_{name}")
            nth = st.number_input("Which one (0 = first)", 0, 10_000, 0, key=f"nth_{name}")
            hits = np.flatnonzero(c.labels == k)
            sig = (mode, int(k), int(nth))
            if len(hits):
                new = {"kind": "index", "index": int(hits[min(nth, len(hits) - 1)])}
            else:
                st.warning("No image with that label in the sample.")
        elif mode == "Prior sample":
            seed = st.number_input("Seed", 0, 10**6, 1 if name == "a" else 2, key=f"seed_{name}")
            z = traversal.prior_samples(1, c.d, seed=int(seed))[0]
            new = {"kind": "z", "z": [float(v) for v in z]}
            sig = (mode, int(seed))
        else:
            z0 = c.resolve(cur)
            txt0 = ", ".join(f"{v:.3g}" for v in (z0 if z0 is not None else np.zeros(c.d)))
            txt = st.text_area(f"{c.d} numbers", txt0, key=f"typed_{name}_{txt0[:40]}", height=68)
            z, err = state.parse_latent_text(txt, c.d)
            if err:
                st.error(err)
            else:
                new = {"kind": "z", "z": [float(v) for v in z]}
            sig = (mode, txt)
        # Only what the user just changed here overrides the point (a map click must stick).
        prev = ss.get(f"_sig_{name}")
        changed = prev is not None and prev != sig
        ss[f"_sig_{name}"] = sig
        if new is not None and new != cur and (changed or cur is None or c.resolve(cur) is None):
            ss[key] = new


top = st.columns([1, 1, 1.2])
chooser("a", top[0])
chooser("b", top[1])
with top[2]:
    st.subheader("Path")
    method = st.segmented_control("Method", interpolate.METHODS, default="linear",
                                  key="interp_method",
                                  help="slerp follows a great circle: for high-dimensional "
                                       "Gaussian latents it keeps the norm typical of the prior.")
    method = method or "linear"
    k = st.slider("Frames in the filmstrip", 3, 32, 10, key="interp_k")

a, b = c.resolve(ss.get("point_a")), c.resolve(ss.get("point_b"))
if a is None or b is None:
    st.info("Choose A and B above, or click two points on the latent map.")
    st.stop()

scale = state.image_scale(6)


@st.fragment
def live():
    cols = st.columns([1, 1, 1] if not c.presenter else [1, 2, 1])
    t = st.slider("A → B", 0.0, 1.0, 0.5, 0.01, key="interp_t")
    z = interpolate.interpolate(a, b, t, method)
    ends = compute.decode_memo(c.ck, np.stack([a, b]), c.y_cond)
    img = compute.decode(c.ck, z[None], c.y_cond)[0]
    cols[0].image(im.for_display(im.upscale(ends[0], scale)), caption="A")
    cols[1].image(im.for_display(im.upscale(img, scale + (4 if c.presenter else 0))),
                  caption=f"t = {t:.2f}, |z| = {np.linalg.norm(z):.2f}")
    cols[2].image(im.for_display(im.upscale(ends[1], scale)), caption="B")


live()

zs = interpolate.path(a, b, k, method)
frames = compute.decode_memo(c.ck, zs, c.y_cond)
strip = interpolate.filmstrip(frames, scale=max(2, scale // 2), pad=2)
st.image(im.for_display(strip), caption=f"{method} interpolation, {k} steps")
d1, d2, _ = st.columns([1, 1, 3])
d1.download_button("Filmstrip PNG", interpolate.filmstrip_png(frames, scale=4),
                   file_name=f"interpolation-{method}-{k}.png", mime="image/png")
d2.download_button("Animated GIF", interpolate.gif_bytes(compute.decode_memo(
    c.ck, interpolate.path(a, b, max(k, 24), method), c.y_cond), scale=6),
    file_name=f"interpolation-{method}.gif", mime="image/gif")

if c.has_data:
    with st.expander("Path on the latent map (click to choose A / B)", expanded=not c.presenter):
        cc = st.columns([2, 1])
        proj = mapview.projection_control(c, cc[0])
        mapview.pick_target_control(cc[1])
        m = mapview.current_map(c, proj)
        mapview.progress_panel(m)
        ev = mapview.draw(c, m, "label", interpolate.path(a, b, 24, method), height=460,
                          key="latent_map_interp")
        if mapview.handle_event(c, m, ev, key="latent_map_interp"):
            st.rerun()
