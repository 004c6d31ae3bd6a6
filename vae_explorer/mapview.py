"""The latent map as the pages use it: pick the projection, poll slow projections, decode the
hover grid, draw (vae_explorer.latent_map), turn clicks into points A / B. Streamlit-side glue.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from . import compute, cursor, modelstart, plaintext, projections, state

PROJ_LABELS = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
COLOUR_BY = {"label": "Label", "rec_err": "Recon. error", "kl": "KL", "kept": "Neighbours kept"}
COLOUR_TITLES = {"label": "", "rec_err": "reconstruction MSE", "kl": "KL (nats)",
                 "kept": "share of latent neighbours kept"}


@dataclass
class MapInfo:
    xy: np.ndarray
    method: str  # cursor method: identity | pca | knn
    key: str
    label: str  # what the axes are
    fit: dict | None = None
    job: object | None = None
    wanted: str = ""  # the projection asked for (may still be computing)


def projection_control(c: state.Ctx, container=None) -> str:
    """Projection selector for latents > 2 (the shared setting 'proj')."""
    if c.d <= 2:
        return "latent"
    (container or st).segmented_control(
        "Projection", list(PROJ_LABELS), format_func=PROJ_LABELS.get, **state.bind("proj"),
        help="PCA is instant. UMAP and t-SNE run in the background (fixed seed, cached on disk); "
             "PCA is shown until they finish.")
    return state.get("proj")


def current_map(c: state.Ctx, proj: str) -> MapInfo:
    mu = c.enc["mu"]
    sha = c.ck.sha256
    if c.d <= 2:
        xy = projections.identity_xy(mu)
        return MapInfo(xy, "identity" if c.d == 2 else "knn", f"latent:{c.data_key}",
                       "latent z1, z2" if c.d == 2 else "latent z1", wanted="latent")
    pxy, fit = compute.pca_map(sha, c.data_key, mu)
    cursor_mode = st.session_state.get("cursor_mode", "knn")
    pca_info = MapInfo(pxy, "pca" if cursor_mode == "pca" else "knn",
                       f"pca:{c.data_key}", "PCA 1, PCA 2", fit=fit, wanted=proj)
    if proj == "pca":
        return pca_info
    xy, job = compute.slow_map(sha, c.data_key, proj, mu)
    if xy is None:
        pca_info.job = job
        return pca_info
    return MapInfo(np.asarray(xy, np.float32), "knn", f"{proj}:{c.data_key}",
                   f"{PROJ_LABELS[proj]} 1, {PROJ_LABELS[proj]} 2", wanted=proj)


def map_note(d: int, m: MapInfo) -> str:
    """What the map above a d-D latent shows, in words (plain text), for the progress slot
    while no projection runs: that slot keeps its height so the map never moves, and a band of
    empty space there read as a page still loading."""
    if m.wanted == "latent":
        return ""
    if m.key.startswith("pca:"):
        held = ""
        if m.fit is not None and "explained_ratio" in m.fit:
            r = m.fit["explained_ratio"]
            held = f" ({100 * r[0]:.0f}% + {100 * r[1]:.0f}% of it)"
        return (f"PCA of the {d}-D encoder means: their 2 directions of most variance{held}. "
                "UMAP and t-SNE keep near neighbours together.")
    method = PROJ_LABELS.get(m.key.split(":", 1)[0], m.label)
    return (f"{method} of the {d}-D encoder means: near points are near in the latent space; "
            "gaps between clusters and their sizes mean little.")


PROGRESS_SLOT_PX = 64  # one progress bar with its text line
# The height of the map page's controls above the map (Chromium, 1280x900, measured in
# tests/e2e/test_ready_e2e.py): one row of columns over a 2-D latent, the popover on a row of its
# own below them otherwise; presenter view's larger font makes both taller. A session's first
# render keeps their room free, so the map does not move when they arrive.
CONTROLS_PX = {(False, False): 64, (False, True): 69, (True, False): 123, (True, True): 133}


def controls_px(d: int, presenter: bool) -> int:
    return CONTROLS_PX[(d > 2, bool(presenter))]


def controls_slot_key(d: int) -> str:
    """The key of that free room: its class (st-key-...) gets a taller room in a narrow window
    from the app's CSS (styles.NARROW_CSS), where Streamlit stacks the columns."""
    return "controls_pending_nd" if d > 2 else "controls_pending_2d"


def settings_without_controls(c: state.Ctx) -> tuple[str, str, dict | None, int]:
    """What the map page's controls would return, from the session and the URL alone (a
    session's first render, drawn before its controls): (projection, colouring, search
    results, neighbours k). Nothing is searched yet, and no point's neighbours are shown."""
    proj = state.get("proj") if c.d > 2 else "latent"
    colour = colouring(c, state.get("colour_by"), state.get("colour_factor"))
    return proj, colour, None, int(st.session_state.get("nn_k", 10))


def progress_panel(m: MapInfo, key: str = "proj_retry", note: str = "") -> None:
    """Progress of a background projection in a slot of constant height above the map, there
    whether or not a projection runs, so that the map never moves when one starts or ends.
    Reruns the app when the projection is ready. ``key``: the retry button's key (one panel per
    map on a page with two); ``note``: plain text shown in the slot when no job runs."""
    if m.wanted == "latent":  # a 1-D or 2-D latent is its own map: nothing ever runs
        return
    # (keyed: a narrow window gives the slot more height, styles.NARROW_CSS, as the note wraps)
    slot = st.container(height=PROGRESS_SLOT_PX, border=False, key=f"progress_slot_{key}")
    if m.job is None:
        if note:
            slot.text(note)
        return
    label = PROJ_LABELS.get(m.wanted, m.wanted)

    @st.fragment(run_every=1.0)
    def _poll():
        status, frac, stage = m.job.poll()
        if status == "running":  # the stage ends in its seconds so far: it visibly works
            st.progress(min(1.0, max(0.0, frac)),
                        text=f"Computing {label} in the background: {stage} — showing PCA meanwhile")
        elif status == "done":
            st.rerun()
        else:
            cols = st.columns([4, 1], vertical_alignment="center")
            with cols[0].expander(f"{label} failed; showing PCA. Details"):
                st.code(str(stage)[-1500:], language=None)
            if cols[1].button("Try again", key=key):
                compute.forget_job(m.job)
                st.rerun()

    with slot:
        _poll()


def recon_progress(c: state.Ctx, pending: tuple | None = None) -> None:
    """Progress of the background reconstructions (this checkpoint's, or those of ``pending``
    = (sha256, data key), e.g. the Compare page's second checkpoint); reruns the app when they
    are ready."""
    pending = pending or c.extras.get("recon_pending")
    if not pending:
        return

    @st.fragment(run_every=0.5)
    def _poll():
        _, job = compute.reconstructions(pending[0], pending[1])
        if job is not None and job.arrays is not None:
            st.rerun()
        elif job is not None and job.error:
            st.warning(f"Reconstructions failed ({plaintext.md(job.error)}); the map shows originals only.")
        else:
            frac = 0.0 if job is None else job.frac
            st.progress(min(1.0, frac), text="Decoding reconstructions in the background — "
                                             "hover shows the originals meanwhile")

    _poll()


def path_on_map(c: state.Ctx, m: MapInfo, z_path: np.ndarray) -> np.ndarray:
    z_path = np.asarray(z_path, np.float32)
    if m.method == "identity" or c.d <= 2:
        return projections.identity_xy(z_path)
    if m.key.startswith("pca:") and m.fit is not None:
        return projections.pca_transform(z_path, m.fit)
    return cursor.latents_to_map(z_path, c.enc["mu"], m.xy)


def _display_images(a: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None
    ch = a.shape[-1]
    if ch in (1, 3):
        return a
    return a[..., :3] if ch == 4 else a[..., :1]


def _fallback_map(xy, labels, label_names, color_values, color_title, path, selected, height, key):
    """Plotly stand-in used only if vae_explorer.latent_map is missing."""
    import plotly.graph_objects as go

    fig = go.Figure()
    idx = np.arange(len(xy))
    if color_values is not None:
        fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", customdata=idx,
                                   marker=dict(size=4, color=color_values, colorscale="Viridis",
                                               colorbar=dict(title=color_title))))
    else:
        for k, name in enumerate(label_names):
            sel = labels == k
            if sel.any():
                fig.add_trace(go.Scattergl(x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=name,
                                           customdata=idx[sel], marker=dict(size=4)))
    if path is not None:
        fig.add_trace(go.Scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers", name="path",
                                 line=dict(color="black")))
    if len(selected):
        s = np.asarray(list(selected))
        fig.add_trace(go.Scatter(x=xy[s, 0], y=xy[s, 1], mode="markers+text", name="A/B",
                                 text=["A", "B"][: len(s)], textposition="top center",
                                 marker=dict(size=14, symbol="star", color="black")))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), dragmode="pan")
    ev = st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points")
    pts = (ev or {}).get("selection", {}).get("points", []) if ev else []
    if pts and "customdata" in pts[0]:
        i = int(pts[0]["customdata"])
        return {"type": "click", "index": i, "xy": [float(xy[i, 0]), float(xy[i, 1])], "id": i}
    return None


def colouring(c: state.Ctx, colour: str, factor: str) -> str:
    """What the map is coloured by: a known factor ("f:<name>") when one is chosen and the
    sample has it, else the Colour by layer."""
    return f"f:{factor}" if factor and factor in c.factor_names else colour


def more_label(factor_names: list[str], d: int, factor: str = "", search: str = "") -> str:
    """The label of the map page's popover for its less used controls: what is in it, and what
    of it is in use while it is closed (a factor colouring the map, a search). Labels render
    Markdown: the search is the user's text, escaped."""
    inside = ["find", "neighbours"] + (["factors"] if factor_names else []) \
        + (["empty space"] if d > 2 else [])
    used = []
    if factor and factor in factor_names:
        used.append(f"colour: {factor}")
    if search and search.strip():
        q = search.strip()
        used.append(f"find: {plaintext.md(q if len(q) <= 16 else q[:15] + '…')}")
    return " · ".join(used) if used else ", ".join(inside).capitalize()


# The generators' hue is a colour's hue in turns (0 and 1 are the same red): drawn on a hue wheel,
# each point in its own shape's colour, not on viridis, where 0 and 1 would be the two extremes.
CYCLIC = {"f:hue": "hue"}


def factor_layer(c: state.Ctx, colour: str):
    """(values, title) of a "f:<name>" colouring, or None when the sample has no such factor."""
    if not colour.startswith("f:") or c.factors is None or colour[2:] not in c.factor_names:
        return None
    j = c.factor_names.index(colour[2:])
    return c.factors[:, j], colour[2:]


def draw(c: state.Ctx, m: MapInfo, colour: str = "label", path_z: np.ndarray | None = None,
         height: int = 560, key: str = "latent_map", hover: bool = True,
         found: dict | None = None, neighbours: dict | None = None):
    """Draw the map; returns the latest event dict (or None). The main map also shows the
    selections S1 / S2 (box / lasso gestures set them), ``found`` search results
    ({"indices", "id"}) and ``neighbours`` ({"of": index, "idx": [...]}) of a clicked point."""
    ss = st.session_state
    selected = [p["index"] for p in (ss.get("point_a"), ss.get("point_b"))
                if p and p.get("kind") == "index" and 0 <= p["index"] < len(m.xy)]
    path_xy = None if path_z is None else path_on_map(c, m, path_z)
    layers = {k: (c.enc[k], COLOUR_TITLES[k]) for k in ("rec_err", "kl") if k in c.enc}
    if colour == "kept":  # how honest the map is: per point, with the map's mean in the title
        from .compute_analysis import kept_layer
        if (layer := kept_layer(c, m)) is not None:
            layers["kept"] = layer
    if (layer := factor_layer(c, colour)) is not None:
        layers[colour] = layer
    if colour not in layers:  # reconstruction error while the reconstructions are computed
        colour = "label"
    color_values = None if colour == "label" else np.asarray(layers[colour][0], np.float32)
    color_title = layers[colour][1] if colour in layers else ""
    grid_images = extent = grid_lat = window_grid = None
    if hover:
        mu = c.enc["mu"]
        grid_images, extent = compute.hover_images(c.ck.sha256, m.key, m.method, c.y_cond, c.ck,
                                                   m.xy, mu, m.fit)
        if m.method != "identity":
            g = int(round(np.sqrt(len(grid_images))))
            grid_lat = compute.grid_latents(m.key, m.method, m.xy, mu, m.fit, extent, g)

        def window_grid(view):
            win = compute.window_images(c.ck.sha256, m.key, m.method, c.y_cond,
                                        cursor.window_key(view), c.ck, m.xy, mu, m.fit)
            return {"images": _display_images(win["images"]), "extent": win["extent"],
                    "latents": None if m.method == "identity" else win["latents"]}
    # Only the main map keeps its view in the URL (zoom=x0,x1,y0,y1, written by the page).
    url_view = key == "latent_map"
    initial_view = state.map_view() if url_view else None
    kwargs = dict(xy=np.asarray(m.xy, np.float32), labels=np.asarray(c.labels),
                  label_names=list(c.label_names),
                  color_values=color_values, color_title=color_title,
                  path=path_xy, selected=selected, height=height, key=key)
    map_info = dict(grid_latents=grid_lat, map_is_latent=m.method == "identity", map_label=m.label,
                    cursor_method=m.method, initial_view=initial_view, url_view=url_view,
                    map_id=m.key, color_scale=CYCLIC.get(colour, "viridis"))
    if key == "latent_map":
        map_info.update(selections={"s1": ss.get("sel_s1"), "s2": ss.get("sel_s2"),
                                    "seq": ss.get("_sel_seq", 0)},
                        found=found, neighbours=neighbours)
    try:
        from .latent_map import latent_map
    except ImportError:
        return _fallback_map(kwargs["xy"], kwargs["labels"], kwargs["label_names"],
                             color_values, kwargs["color_title"], path_xy, selected, height, key)
    # The main map tells when it is drawn: the model starts loading then (modelstart).
    on_ready = None
    if key == "latent_map" and modelstart.want_ready(ss, c):  # (always before the controls)
        on_ready = lambda: modelstart.map_drawn(st.session_state)  # noqa: E731
    # A click is taken before the run it triggers (the page's handle_event after the map then
    # sees it done): one script run a click instead of a run and an st.rerun().
    return latent_map(images=_display_images(c.images),
                      recons=_display_images(c.enc.get("recon")),
                      grid_images=_display_images(grid_images), grid_extent=extent,
                      window_grid=window_grid, on_event=lambda ev: handle_event(c, m, ev, key),
                      on_ready=on_ready,
                      **map_info, **kwargs)


def handle_event(c: state.Ctx, m: MapInfo, ev, key: str = "latent_map") -> bool:
    """A click sets the next of A / B; a click on a point also shows its latent neighbours
    (session key "nn_of"), as does the key "n" over a point (event type "neighbours", A and B
    unchanged). Returns True if a point changed (caller reruns)."""
    ss = st.session_state
    if not ev or ev.get("type") not in ("click", "neighbours"):
        return False
    ev_id = (key, ev.get("id"), ev.get("index"), tuple(ev.get("xy") or ()))
    if ss.get("_last_event") == ev_id:
        return False
    ss["_last_event"] = ev_id
    idx = ev.get("index")
    if ev["type"] == "neighbours":  # "n" over a point: its neighbours, A and B unchanged
        ok = isinstance(idx, int) and 0 <= idx < len(m.xy)
        if ok:
            ss["nn_of"] = idx
        return ok
    if idx is not None and 0 <= int(idx) < len(m.xy):
        point = {"kind": "index", "index": int(idx)}
        ss["nn_of"] = int(idx)
    elif ev.get("xy") is not None:
        mp = compute.mapper(m.key, m.method, m.xy, c.enc["mu"], m.fit)
        z = mp(np.asarray(ev["xy"], np.float64)[None])[0]
        point = {"kind": "z", "z": [float(v) for v in z]}
    else:
        return False
    target = state.get("pick_target")
    ss["point_a" if target == "A" else "point_b"] = point
    if ss.get("pick_alternate", True):
        state.put("pick_target", "B" if target == "A" else "A")
    return True


def pick_target_control(container=None) -> None:
    """Which point the next click sets (alternates A, B, A, … unless fixed)."""
    (container or st).segmented_control("Next click sets", ["A", "B"], **state.bind("pick_target"),
                                        help="Click points on the map to choose the end points "
                                             "of an interpolation; it alternates A, B, A…")
