"""Interpolation between two latents A and B: scrub the path, see it on the map, filmstrip, GIF.

The choosers change A or B only when the user changes one of their widgets (callbacks): showing
this page changes nothing that other pages or the link share.
"""
import numpy as np
import streamlit as st

from vae_explorer import compute, images as im, interpolate, mapview, scrub, state, traversal

c = state.ctx()
ss = st.session_state
if not c.presenter:
    st.title("Interpolation")

MODES = ["Dataset point", "First of a label", "Prior sample", "Typed latent"]
if not c.has_data:
    MODES = MODES[2:]
SCRUB_KEY = "interp_scrub"


def _point_from_inputs(name: str) -> dict | None:
    """The point the chooser's widgets describe now (their defaults where not drawn yet)."""
    mode = ss.get(f"w_mode_{name}")
    if mode == "Dataset point":
        return {"kind": "index", "index": int(ss.get(f"w_idx_{name}", 0 if name == "a" else 1))}
    if mode == "First of a label":
        k = ss.get(f"w_lab_{name}", 0 if name == "a" else 1)
        hits = np.flatnonzero(c.labels == k)
        nth = int(ss.get(f"w_nth_{name}", 0))
        return {"kind": "index", "index": int(hits[min(nth, len(hits) - 1)])} if len(hits) else None
    if mode == "Prior sample":
        seed = int(ss.get(f"w_seed_{name}", 1 if name == "a" else 2))
        return {"kind": "z", "z": [float(v) for v in traversal.prior_samples(1, c.d, seed=seed)[0]]}
    if mode == "Typed latent":
        z, err = state.parse_latent_text(ss.get(f"w_typed_{name}", "0"), c.d)
        return None if err else {"kind": "z", "z": [float(v) for v in z]}
    return None


def _chosen(name: str) -> None:
    p = _point_from_inputs(name)
    if p is not None:
        state.put(f"point_{name}", p)


def _mode_showing(name: str, cur: dict) -> str:
    """The chooser's mode that shows point ``cur``: its own mode while it still describes that
    point (a label's n-th image, a prior sample's seed), else the index or the typed numbers
    (a click on a map set it)."""
    mode, now = ss.get(f"w_mode_{name}"), _point_from_inputs(name)
    if cur.get("kind") == "index" and c.has_data:
        keep = mode == "Dataset point" or (mode == "First of a label" and now == cur)
        return mode if keep else "Dataset point"
    if (mode == "Prior sample" and now and cur.get("kind") == "z"
            and np.allclose(now["z"], cur["z"], atol=1e-6)):
        return mode
    return "Typed latent"


def chooser(name: str) -> None:
    """Widgets that set point_<name>; empty until the user picks, then showing the point
    however it was set (here, or by a click on a map)."""
    cur = ss.get(f"point_{name}")
    kind = cur.get("kind") if cur else None
    # Only when the point changed since the chooser last showed it: a mode the user just picked
    # (its own point not valid yet, e.g. an empty typed latent) stays.
    changed = bool(kind) and cur != ss.get(f"interp_shown_{name}")
    if changed:
        ss[f"w_mode_{name}"] = _mode_showing(name, cur)
    ss[f"interp_shown_{name}"] = cur
    if kind == "index":
        ss[f"w_idx_{name}"] = int(cur["index"])
    z0 = c.resolve(cur)
    # The typed numbers follow a point set elsewhere (a click on a map, another mode) and show
    # the point when their box appears; numbers that do not parse stay as typed, with their
    # error below, and the point keeps its last value.
    mode_now = ss.get(f"w_mode_{name}")
    appears = mode_now == "Typed latent" and ss.get(f"interp_mode_shown_{name}") != mode_now
    ss[f"interp_mode_shown_{name}"] = mode_now
    if (changed or appears) and kind == "z" and z0 is not None:
        typed, _ = state.parse_latent_text(ss.get(f"w_typed_{name}", ""), c.d)
        if typed is None or not np.allclose(typed, z0, atol=1e-4):
            ss[f"w_typed_{name}"] = ", ".join(f"{v:.3g}" for v in z0)
    on = {"on_change": _chosen, "args": (name,)}
    mode = st.selectbox("Choose by", MODES, index=None, placeholder=f"choose {name.upper()}…",
                        key=f"w_mode_{name}", **on)
    if mode == "Dataset point":
        st.number_input("Index", 0, len(c.labels) - 1, key=f"w_idx_{name}", **on)
    elif mode == "First of a label":
        st.selectbox("Label", range(len(c.label_names)), format_func=lambda j: c.label_names[j],
                     index=0 if name == "a" else min(1, len(c.label_names) - 1),
                     key=f"w_lab_{name}", **on)
        st.number_input("Which one (0 = first)", 0, 10_000, 0, key=f"w_nth_{name}", **on)
    elif mode == "Prior sample":
        st.number_input("Seed", 0, 10**6, 1 if name == "a" else 2, key=f"w_seed_{name}", **on)
    elif mode == "Typed latent":
        if f"w_typed_{name}" not in ss:
            ss[f"w_typed_{name}"] = "0"
        st.text_area(f"{c.d} numbers", key=f"w_typed_{name}", height=68, **on)
        _, err = state.parse_latent_text(ss[f"w_typed_{name}"], c.d)
        if err:
            st.error(err)


def _released() -> None:
    t = scrub.released_t(SCRUB_KEY)
    if t is not None:
        state.put("interp_t", t)


# Two rows on the same column grid, so each heading stands over its image.
SPEC = [1, 1, 1.3]
head = st.columns(SPEC)
for col, name in zip(head, ("a", "b")):
    with col:
        st.subheader(name.upper())
        chooser(name)
with head[2]:
    st.subheader("Path")
    st.segmented_control("Method", interpolate.METHODS, **state.bind("interp_method"),
                         help="slerp follows a great circle: for high-dimensional "
                              "Gaussian latents it keeps the norm typical of the prior.")
    method = state.get("interp_method")
    k = st.slider("Frames in the filmstrip", 3, 32, 10, key="interp_k")



def map_section(path_z: np.ndarray | None) -> None:
    """The latent map with the path on it; a click sets A or B."""
    if not c.has_data:
        return
    with st.expander("Path on the latent map (click to choose A / B)", expanded=not c.presenter):
        cc = st.columns([2, 1])
        proj = mapview.projection_control(c, cc[0])
        mapview.pick_target_control(cc[1])
        m = mapview.current_map(c, proj)
        mapview.progress_panel(m, note=mapview.map_note(c.d, m))
        ev = mapview.draw(c, m, "label", path_z, height=460, key="latent_map_interp")
        if mapview.handle_event(c, m, ev, key="latent_map_interp"):
            st.rerun()


a, b = c.resolve(ss.get("point_a")), c.resolve(ss.get("point_b"))
if a is None or b is None:
    # A newcomer arrives here with neither: the map to click them on is on this page too.
    st.info("Choose A and B above" + (", or click two points on the map below."
                                      if c.has_data else "."))
    map_section(None)
    st.stop()

scale = state.image_scale(6)
row = st.columns(SPEC)
ends = compute.decode_memo(c.ck, np.stack([a, b]), c.y_cond)
for col, img, name in zip(row, ends, ("A", "B")):
    col.image(im.for_display(im.upscale(img, scale)), caption=name, width="stretch")
with row[2]:
    zs = interpolate.path(a, b, scrub.FRAMES, method)
    scrub.scrubber(compute.decode_memo(c.ck, zs, c.y_cond), np.linalg.norm(zs, axis=1),
                   state.get("interp_t"), SCRUB_KEY, _released)

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

map_section(interpolate.path(a, b, 24, method))
