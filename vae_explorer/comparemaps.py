"""The Compare page's Streamlit glue: the second map (another checkpoint, or pixels), its
alignment onto the first, the cached figures, and the two linked map components.

The figures themselves are plain functions (vae_explorer.analysis.compare / pixels); here they
are cached (st.cache_resource, keyed by checkpoint sha256s and the data sample's key) and drawn.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from . import checkpoints, compute, cursor, mapview, projections, state
from .analysis import compare, pixels
from .mapview import PROJ_LABELS, MapInfo, _display_images

PIXEL_CHOICES = {f"pixels:{m}": f"pixels ({PROJ_LABELS[m]})" for m in pixels.METHODS}
LINK = "compare"  # the two maps' link id (components/latent_map/link.js)
MOVED_TITLE = "share of latent neighbours kept in B"
MOVED_TITLE_PIXELS = "share of latent neighbours that are pixel neighbours"
# Each map's height: at 1280 px the columns are ~390 px wide and the hover images go under the
# plot (latent_map.css, narrow maps), leaving a plot about as tall as it is wide.
MAP_PX = 700


@dataclass
class Side:
    """One map of the page: what it shows and how to describe it."""
    name: str  # plain text: a file name or "pixels (PCA)"
    xy: np.ndarray  # as drawn (B aligned onto A)
    space: np.ndarray  # the high-dimensional points the map was made from (codes or pixels)
    label: str  # what the axes are
    ck: object | None = None  # None for pixels
    recon: np.ndarray | None = None
    job: object | None = None  # a projection still running (PCA shown meanwhile)
    fit: dict | None = None  # PCA fit when the map is a PCA
    wanted: str = ""  # the projection asked for (pca / umap / tsne; "latent" for a 2-D latent)
    from_a: bool = False  # shows a UMAP / t-SNE started from map A's layout
    waits_for_a: bool = False  # ... that is computing or waits for A's own (B's PCA meanwhile)


@functools.lru_cache(maxsize=64)
def _header(path: str, mtime: float, size: int):
    """(dataset, image shape) from a checkpoint's header, or None if it cannot be read."""
    from vae_training.checkpoint import CheckpointError, read_metadata

    try:
        doc = read_metadata(path)
        return str(doc["data"]["dataset"]), tuple(doc["model"]["image_shape"])
    except (CheckpointError, OSError, KeyError, TypeError):
        return None


def choices(active_name: str, ck) -> dict[str, str]:
    """key -> label: the other listed checkpoints of the same dataset and image shape, the pixel
    baselines, then the rest (listed, so that choosing one says why it cannot be compared)."""
    same, other = {}, {}
    want = (ck.data.dataset, tuple(ck.model_config.image_shape))
    for p in checkpoints.list_checkpoints():
        if p.name == active_name:
            continue
        st_ = p.stat()
        got = _header(str(p), st_.st_mtime, st_.st_size)
        if got == want:
            same[f"ckpt:{p.name}"] = p.name
        else:
            other[f"ckpt:{p.name}"] = f"{p.name} (another dataset or image shape)"
    return {**same, **PIXEL_CHOICES, **other}


def open_listed(name: str):
    """(checkpoint, error) for a listed checkpoint's file name (as the sidebar opens them)."""
    hits = [p for p in checkpoints.list_checkpoints() if p.name == name]
    if not hits:
        return None, f"{name} is no longer in the checkpoints folder."
    p: Path = hits[0]
    stt = p.stat()
    return compute.load_path(str(p), stt.st_mtime, stt.st_size)


def _x_nchw(c: state.Ctx):
    """The active sample's NCHW images (compute.dataset is cached: the same objects again)."""
    ss = st.session_state
    split = "train+test" if ss.get("data_both") else "test"
    return compute.dataset(c.ck.data.dataset, ss.get("data_root"), split, ss.get("data_n"))[2]


def map_of(sha: str, data_key: str, points: np.ndarray, proj: str, init=None,
           wait: bool = False) -> tuple[np.ndarray, str, object, dict | None]:
    """(xy, axes label, running job or None, PCA fit or None) of a 2-D map of `points`; a UMAP /
    t-SNE starts from layout `init` when given, and not at all while `wait` (PCA meanwhile)."""
    if points.shape[1] <= 2:
        return projections.identity_xy(points), "latent z1, z2", None, None
    pxy, fit = compute.pca_map(sha, data_key, points)
    if proj == "pca" or wait:
        return pxy, "PCA 1, PCA 2", None, fit
    xy, job = compute.slow_map(sha, data_key, proj, points, init)
    if xy is None:
        return pxy, "PCA 1, PCA 2", job, fit
    return np.asarray(xy, np.float32), f"{PROJ_LABELS[proj]} 1, {PROJ_LABELS[proj]} 2", None, None


def progress(m: MapInfo, key: str, slow: bool, note: str = "") -> None:
    """One map's projection progress (its own retry button, its own rerun when done), in a slot
    of constant height whenever the page shows a UMAP / t-SNE (so both maps line up and do not
    move when a job starts or ends); nothing for PCA or latent maps, which never compute.
    ``slow``: either map of the page is a UMAP / t-SNE."""
    if not slow:
        return
    if m.wanted == "latent":  # the other map may compute: keep the same space
        st.container(height=mapview.PROGRESS_SLOT_PX, border=False)
        return
    mapview.progress_panel(m, key=key, note=note)


def alignment_text(b: Side, al: compare.Alignment) -> str:
    """Which alignment brought map B onto A, in words (plain text)."""
    proc = al.describe()
    if b.from_a:
        name = PROJ_LABELS.get(b.wanted, b.wanted)
        return f"B's {name} initialised from A's layout, then {proc}"
    if b.waits_for_a:
        return (f"{proc} (B's PCA for now: its {PROJ_LABELS.get(b.wanted, b.wanted)}, started from "
                f"A's layout, is not ready yet)")
    return proc


@st.cache_resource(max_entries=4, show_spinner="Flattening the pixels…")
def pixel_space(data_key: str, _images) -> np.ndarray:
    return pixels.flat(_images)


def start_from(m: MapInfo, proj: str) -> tuple[np.ndarray | None, bool]:
    """(layout B's UMAP / t-SNE starts from, whether B must wait for it): map A's layout once A
    shows what was asked for (a 2-D latent, or A's own finished UMAP / t-SNE), so that both maps
    put the same images in about the same places; (None, True) while A's is still computing."""
    if proj not in projections.SLOW_METHODS:
        return None, False
    if m.wanted == "latent" or m.key.startswith(f"{proj}:"):
        flat = float(np.ptp(np.asarray(m.xy, np.float64), 0).min()) == 0.0  # a 1-D latent's line
        return (None if flat else m.xy), False
    failed = m.job is None or m.job.poll()[0] == "error"  # then B starts from its own default
    return None, not failed


def side_b(c: state.Ctx, choice: str, proj: str, m: MapInfo | None = None) -> tuple[Side | None, str | None]:
    """The second map, or (None, why not). A second checkpoint's UMAP / t-SNE starts from map A
    (`m`) when given; pixel maps start from their own default (the shipped precomputed ones)."""
    if choice.startswith("pixels:"):
        method = choice.split(":", 1)[1]
        flat = pixel_space(c.data_key, c.images)
        xy, label, job, fit = map_of(pixels.CACHE_SHA, c.data_key, flat, method)
        return Side(PIXEL_CHOICES[choice], xy, flat, label.replace("PCA", "pixel PCA"),
                    job=job, fit=fit, wanted=method), None
    ck, err = open_listed(choice.split(":", 1)[1])
    if err:
        return None, err
    why = compare.refusal(c.ck, ck)
    if why:
        return None, why
    x = _x_nchw(c)
    with st.spinner("Encoding the same images with the second checkpoint (once; cached on disk)…"):
        enc, _ = compute.codes(ck.sha256, c.data_key, ck, x, c.labels)
    rec, _ = compute.reconstructions(ck.sha256, c.data_key)
    if rec is None:
        compute.start_reconstruction(ck.sha256, c.data_key, ck, x, c.labels, enc["mu"])
    init, wait = start_from(m, proj) if m is not None else (None, False)
    xy, label, job, fit = map_of(ck.sha256, c.data_key, enc["mu"], proj, init, wait)
    latent = ck.model_config.latent_dim <= 2
    return Side(choice.split(":", 1)[1], xy, enc["mu"], label, ck=ck,
                recon=(rec or {}).get("recon"), job=job, fit=fit,
                wanted="latent" if latent else proj,
                from_a=init is not None and not latent and job is None,  # shown, not computing
                waits_for_a=(wait or (init is not None and job is not None)) and not latent), None


@st.cache_resource(max_entries=8, show_spinner="Comparing neighbourhoods…")
def kept(key_a: str, key_b: str, data_key: str, _space_a, _space_b) -> tuple[np.ndarray, np.ndarray]:
    """(share of neighbours kept, spread of the old neighbours) per point: see analysis.compare."""
    return compare.kept_between(_space_a, _space_b), compare.spread(_space_a, _space_b)


@st.cache_resource(max_entries=16, show_spinner="Scoring the maps…")
def scores(key: str, data_key: str, _space, _xy, _labels) -> dict:
    """k-NN label accuracy in the full space and on the map, and the map's trustworthiness."""
    return {"knn_space": compare.knn_accuracy(_space, _labels),
            "knn_map": compare.knn_accuracy(_xy, _labels),
            "trust": compare.trustworthiness(_space, _xy)}


def draw(c: state.Ctx, key: str, xy: np.ndarray, label: str, map_id: str, recon=None,
         color_values=None, color_title: str = "", grid=None, height: int = 520,
         grid_latents=None, cursor_method: str = "knn"):
    """One of the two linked maps. Both share the session's selections S1 / S2 (a gesture in
    either sets them) and the link id, so hovering one rings the same image in the other."""
    from .latent_map import latent_map

    ss = st.session_state
    grid_images, extent = grid if grid is not None else (None, None)
    return latent_map(xy=np.asarray(xy, np.float32), labels=np.asarray(c.labels),
                      label_names=list(c.label_names), images=_display_images(c.images),
                      recons=_display_images(recon), grid_images=_display_images(grid_images),
                      grid_extent=extent, color_values=color_values, color_title=color_title,
                      height=height, key=key,
                      map_is_latent=label.startswith("latent") and grid_latents is None,
                      grid_latents=grid_latents, map_label=label, cursor_method=cursor_method,
                      map_id=map_id, link=LINK,
                      selections={"s1": ss.get("sel_s1"), "s2": ss.get("sel_s2"),
                                  "seq": ss.get("_sel_seq", 0)})


def hover_grid(c: state.Ctx, m: MapInfo):
    """Map A's decoded grid (the decoder under the cursor), as the latent map page has it."""
    return compute.hover_images(c.ck.sha256, m.key, m.method, c.y_cond, c.ck, m.xy, c.enc["mu"],
                                m.fit)


def b_hover_grid(c: state.Ctx, b: Side, al: compare.Alignment, xy_b: np.ndarray):
    """(images, extent, latents) of the decoder under the cursor on map B when B is a 2-D latent
    drawn aligned onto A: a lattice over the aligned map, each cell taken back to B's own latent
    plane by the inverse alignment and decoded by B. None for other maps (a projection has no
    exact inverse; map A's page does its k-NN stand-in, not repeated here)."""
    if b.ck is None or b.ck.model_config.latent_dim != 2 or b.wanted != "latent":
        return None
    extent = cursor.map_extent(xy_b)
    z = al.invert(cursor.grid_centres(extent, compute.HOVER_G)).astype(np.float32)
    y = (c.y_cond or 0) if getattr(b.ck.model_config, "num_classes", 0) else None
    return compute.decode_memo(b.ck, z, y), extent, z


def vae_grid(c: state.Ctx, xy_a: np.ndarray, fit: dict | None, g: int) -> np.ndarray:
    """The VAE's manifold grid over the central part of map A (a latent plane, or the PCA plane
    of the codes with `fit`), rows from the top."""
    u, v = pixels.grid_coords(xy_a, g)
    uu, vv = np.meshgrid(u, v)
    uv = np.stack([uu.ravel(), vv.ravel()], 1).astype(np.float32)
    z = uv if fit is None else projections.pca_inverse(uv, fit)
    return compute.decode_memo(c.ck, z[:, : c.d], c.y_cond)
