"""The latent map: an interactive scatter of latent codes as a Streamlit custom component (v2).

JavaScript in the page (components/latent_map/*.js, see JS_FILES) draws every point on a canvas, so
hovering needs no server round trip: a hovered data point's original and reconstruction come
from client-side image atlases, empty space shows the image decoded at the centre of the grid
cell under the cursor. Clicks come back to Python as events.

Transfer: big payloads (coordinates + labels, each atlas) are content-addressed. The browser
keeps decoded payloads for the life of the page; Python remembers per session which ones it
has sent and leaves them out of later reruns, so a rerun that only changes the selection or the
path sends a few hundred bytes instead of megabytes. If the browser lacks one anyway (evicted, a
message lost in a fast rerun), it reports "missing" and Python sends it again with a rerun.
Encoded payloads are cached process-wide by content hash, so a second session or a rerun with the
same arrays does not re-encode images. On the wire (pack_frame) arrays and image pages go raw
after a JSON header, and the map's code itself is such a payload (loader.js imports it).

Decoding anywhere: besides the grid over the data's extent, the page asks (state "view") for a
grid over its view when a pan or zoom ends and no grid it holds covers the view finely enough;
the caller's ``window_grid`` decodes one over a lattice window (vae_explorer.cursor.window_key) and
it is sent like any other atlas. The main map also keeps its view in the page's URL (zoom=).
"""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
import zlib
from collections import OrderedDict
from typing import Any

import numpy as np

from vae_explorer import cache, cursor, mapcomponent, selection as selmod
# Payload encodings live in vae_explorer.wire; named here too for callers and tests.
from vae_explorer.wire import (ATLAS_FORMAT, MODEL_BITS, ZHEAD, atlas_payload,  # noqa: F401
                               grid_payload, pack_frame, points_payload, unpack_frame)
from vae_explorer.atlas import PNG_COMPRESS_LEVEL, content_hash

ASSETS = mapcomponent.ASSETS
# One module in the page, joined in this order (only the last one exports).
JS_FILES = ("store.js", "map.js", "draw.js", "grids.js", "hover.js", "interact.js", "select.js",
            "export.js", "link.js", "entry.js")


def js_source() -> str:
    return "\n".join((ASSETS / f).read_text(encoding="utf-8") for f in JS_FILES)


_CODE: dict[str, str] = {}


def code_payload() -> dict:
    """{"ref", "z"}: the map's code, zlib-compressed and base64'd (sent raw by pack_frame), which
    the registered loader (loader.js) inflates and imports; sent in a session's first render
    only, like the other content-addressed payloads. Compressed it is ~20 of its ~80 kB: 60 kB
    less in each student's first map."""
    if not _CODE:
        src = js_source()
        z = base64.b64encode(zlib.compress(src.encode("utf-8"), 9)).decode("ascii")
        _CODE.update(ref="js-" + content_hash(src), z=z)
    return dict(_CODE)
_SENT_KEY = mapcomponent.SENT_KEY
_MISSING_KEY = "_latent_map_missing_reruns"
_VIEW_KEY = mapcomponent.VIEW_KEY

_lock = threading.Lock()
_PAYLOADS: OrderedDict[str, dict] = OrderedDict()
_PAYLOAD_SIZES: dict[str, int] = {}
PAYLOAD_CACHE_BYTES = 512 * 2**20
# Identity cache: the same ndarray object passed again (e.g. from st.cache_resource) skips hashing.
_ID_HASH: dict[int, tuple[Any, str]] = {}

# Timing of the last call (for the benchmark and for logs): seconds spent in each step.
last_timing: dict[str, float] = {}
# This thread's (= this script run's) last main map: (its packed frame, the refs the page then
# holds, its number of points), for a session's first paint to record (vae_explorer.firstpaint).
_last = threading.local()


def last_frame() -> tuple[bytes, frozenset, int] | None:
    return getattr(_last, "frame", None)


def _array_hash(tag: str, *arrays) -> str:
    """Content hash, memoised on object identity for arrays that stay alive between reruns."""
    if len(arrays) == 1 and isinstance(arrays[0], np.ndarray) and not arrays[0].flags.writeable:
        a = arrays[0]
        hit = _ID_HASH.get(id(a))
        if hit is not None and hit[0]() is a:
            return hit[1]
        h = tag + content_hash(a)
        try:
            import weakref
            _ID_HASH[id(a)] = (weakref.ref(a), h)
            if len(_ID_HASH) > 256:
                for k in list(_ID_HASH)[:128]:
                    _ID_HASH.pop(k, None)
        except TypeError:
            pass
        return h
    return tag + content_hash(*arrays)


def _cache_get(ref: str):
    with _lock:
        p = _PAYLOADS.get(ref)
        if p is not None:
            _PAYLOADS.move_to_end(ref)
        return p


def _cache_put(ref: str, payload: dict, size: int) -> None:
    with _lock:
        _PAYLOADS[ref] = payload
        _PAYLOAD_SIZES[ref] = size
        total = sum(_PAYLOAD_SIZES.values())
        while total > PAYLOAD_CACHE_BYTES and len(_PAYLOADS) > 1:
            old, _ = _PAYLOADS.popitem(last=False)
            total -= _PAYLOAD_SIZES.pop(old, 0)


def _grid_part(images, extent, latents, tag: str, on_disk: bool) -> tuple[str, dict, dict]:
    """(ref, payload, {"g", "extent"}) for one decoded G x G grid."""
    gi = np.asarray(images)
    g = int(round(np.sqrt(gi.shape[0])))
    if g * g != gi.shape[0]:
        raise ValueError(f"grid_images must hold G*G images, got {gi.shape[0]}")
    ext = [float(v) for v in extent]
    if len(ext) != 4 or not (ext[1] > ext[0] and ext[3] > ext[2]):
        raise ValueError(f"grid_extent must be (x0, x1, y0, y1) with x1>x0, y1>y0, got {extent}")
    lat = None if latents is None else np.asarray(latents, np.float32)
    ref = _array_hash(tag, gi) if lat is None else tag + content_hash(gi, lat)
    payload = _get_payload(ref, lambda: grid_payload(gi, lat, ATLAS_FORMAT if on_disk else "png"),
                           on_disk=on_disk)
    return ref, payload, {"g": g, "extent": ext}


def _payload_size(p: dict) -> int:
    return sum(len(v) for v in p.values() if isinstance(v, str)) + \
        sum(len(s) for s in p.get("pages", []))


def _get_payload(ref: str, build, on_disk: bool = False) -> dict:
    """Payload from the process cache, else (on_disk) the explorer's disk cache, else build().

    Atlases go to disk: PNG-encoding 5k-10k thumbnails costs 0.2-0.5 s of the first script run
    after a restart, while reading them back is milliseconds. The ref is a content hash, so a
    stored payload can only ever belong to the same images."""
    p = _cache_get(ref)
    if p is not None:
        return p
    what = "latent-map-payload"
    params = {"v": 4, "png_level": PNG_COMPRESS_LEVEL, "fmt": ATLAS_FORMAT, "bits": MODEL_BITS}
    if on_disk:
        got = cache.load(ref, what, params)
        if got is not None:
            try:
                p = json.loads(got["json"].tobytes())
            except ValueError:
                p = None
    if p is None:
        p = build()
        if on_disk:
            raw = json.dumps(p, separators=(",", ":")).encode()
            cache.save(ref, what, params, {"json": np.frombuffer(raw, np.uint8)})
    _cache_put(ref, p, _payload_size(p))
    return p


def build_data(xy, labels, label_names, images, recons, grid_images, grid_extent,
               color_values=None, color_title="", path=None, selected=(), height=560,
               key="latent_map", client_has: set | None = None, last_event_id: int = 0,
               grid_latents=None, window: dict | None = None, map_is_latent: bool = True,
               map_label: str = "", cursor_method: str = "identity", initial_view=None,
               url_view: bool = False, map_id: str = "", selections: dict | None = None,
               found: dict | None = None, neighbours: dict | None = None,
               link: str = "", color_scale: str = "viridis") -> tuple[dict, dict]:
    """Pure part of latent_map(): the component data dict, and {ref: payload} for every ref.

    Payloads whose ref is in ``client_has`` are left out of ``data["blobs"]``. ``window`` is a
    grid decoded for the browser's view ({"images", "extent", "latents"}); ``grid_latents`` the
    latents of the global grid's cells (both only for the readout, None when the map is the
    latent). ``initial_view`` (x0, x1, y0, y1) is the view to open with (the URL's zoom=);
    ``url_view`` makes the page write its view to the URL when a pan or zoom ends.
    ``selections`` {"s1": indices, "s2": indices, "seq": last gesture seen}; ``found`` (search
    results) {"indices", "id"}; ``neighbours`` {"of": index, "idx": [indices]}: see select.js.
    ``link``: maps on one page with the same link id ring each other's hovered point and mirror
    each other's selection gestures in the browser (link.js). ``color_scale``: "viridis", or "hue"
    for a cyclic value in turns (each point drawn in that hue).
    """
    t = {}
    t0 = time.perf_counter()
    xy = np.asarray(xy)
    n = int(xy.shape[0]) if xy.ndim == 2 else -1
    labels = None if labels is None else np.asarray(labels)
    refs: dict[str, str | None] = {}
    payloads: dict[str, dict] = {}

    points_ref = "pts-" + content_hash(np.asarray(xy, "<f4"), labels, None if color_values is None
                                       else np.asarray(color_values, "<f4"))
    payloads[points_ref] = _get_payload(points_ref, lambda: points_payload(xy, labels, color_values))
    refs["points"] = points_ref
    t["points"] = time.perf_counter() - t0

    for name, arr in (("orig", images), ("recon", recons)):
        t1 = time.perf_counter()
        if arr is None:
            refs[name] = None
            continue
        arr = np.asarray(arr)
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} images for {n} points")
        # The tag keeps a reconstruction atlas (MODEL_BITS) apart from an exact one of the same
        # pixels.
        ref = _array_hash("atl-" if name == "orig" else "rec-", arr)
        bits = MODEL_BITS if name == "recon" else 8
        payloads[ref] = _get_payload(ref, lambda a=arr, b=bits: atlas_payload(a, bits=b),
                                     on_disk=True)
        refs[name] = ref
        t[name] = time.perf_counter() - t1

    grid = None
    if grid_images is not None and grid_extent is not None:
        t1 = time.perf_counter()
        ref, payloads[ref], grid = _grid_part(grid_images, grid_extent, grid_latents, "atl-", True)
        refs["grid"] = ref
        t["grid"] = time.perf_counter() - t1
    else:
        refs["grid"] = None
    win = None
    refs["window"] = None
    if window is not None:
        t1 = time.perf_counter()
        ref, payloads[ref], win = _grid_part(window["images"], window["extent"],
                                             window.get("latents"), "win-", False)
        refs["window"] = ref
        t["window"] = time.perf_counter() - t1

    sel = [int(i) for i in (selected or ()) if i is not None]
    path_list = None
    if path is not None:
        pa = np.asarray(path, dtype=float)
        if pa.ndim == 2 and pa.shape[1] == 2 and len(pa):
            path_list = [[float(a), float(b)] for a, b in pa if np.isfinite(a) and np.isfinite(b)]

    have = client_has or set()
    data = {
        "v": 1,
        "key": str(key),
        "height": int(height),
        "refs": refs,
        "blobs": {r: payloads[r] for r in refs.values() if r and r not in have},
        "labelNames": [str(s) for s in (label_names or [])],
        "colorTitle": str(color_title or ""),
        "colorScale": "hue" if color_scale == "hue" else "viridis",
        "grid": grid,
        "window": win,
        "map": {"id": str(map_id), "latent": bool(map_is_latent), "label": str(map_label),
                "method": str(cursor_method), "urlView": bool(url_view), "link": str(link),
                "initialView": None if initial_view is None else [float(v) for v in initial_view]},
        "path": path_list,
        "selected": sel,
        "select": selections is not None,  # the toolbar (only where Python keeps S1 / S2)
        "selections": selmod.selections_payload(selections, n),
        "found": selmod.found_payload(found, n),
        "neighbours": None if not neighbours else
        {"of": int(neighbours["of"]), "idx": [int(i) for i in neighbours["idx"]]},
        "lastEventId": int(last_event_id),
    }
    t["total"] = time.perf_counter() - t0
    return data, t


def _event_callback(key: str, on_event) -> None:
    """on_event_change: hand the new click to the caller before the script runs."""
    import streamlit as st

    got = st.session_state.get(key)
    event = got.get("event") if hasattr(got, "get") else None
    if on_event is not None and isinstance(event, dict):
        on_event(dict(event))


def latent_map(xy: np.ndarray, labels: np.ndarray, label_names: list[str],
               images: np.ndarray | None, recons: np.ndarray | None,
               grid_images: np.ndarray | None, grid_extent: tuple | None,
               color_values: np.ndarray | None = None, color_title: str = "",
               path: np.ndarray | None = None, selected=(), height: int = 560,
               key: str = "latent_map", window_grid=None, on_event=None, on_ready=None,
               **map_info) -> dict | None:
    """Draw the interactive latent map; return the latest event or None.

    ``on_event(event)`` (optional) is called with a new click before the next script run starts,
    so that the run it causes can already show what the click changed (no second run).
    ``on_ready()`` (optional) is called once the page has drawn the points and decoded the
    images, before the rerun that this causes (vae_explorer.modelstart); None: the page does
    not send it.
    ``window_grid(view)`` (optional) decodes a grid for a view (x0, x1, y0, y1) the page asked
    for when no grid it holds covers its view well: {"images", "extent", "latents"} or None.
    ``map_info``: build_data's grid_latents, map_is_latent, map_label, cursor_method,
    initial_view, url_view, selections, found, neighbours and link. A box or lasso gesture stores its
    selection in session state "sel_s1" / "sel_s2" (vae_explorer.selection.take_from_page).

    The event is the last click, e.g. ``{"type": "click", "index": 123 or None, "xy": [x, y],
    "id": 7, "shift": False}`` (``index`` None when the click was on empty space). It persists
    across reruns, like a widget value; ``id`` increases with every click, so compare it with the
    last one handled to act once per click.
    """
    import streamlit as st

    state = st.session_state
    client_has: set = state.get(_SENT_KEY) or set()
    prev_event = state.get(f"_latent_map_event_{key}")
    last_id = int(prev_event.get("id", 0)) if isinstance(prev_event, dict) else 0
    window = None
    asked = state.get(_VIEW_KEY + key)
    # A view asked for another map (before a projection switch) is not decoded.
    if window_grid is not None and isinstance(asked, dict) and \
            asked.get("map") == str(map_info.get("map_id", "")):
        t0 = time.perf_counter()
        view = cursor.check_view(asked.get("view") or ())
        try:
            window = None if view is None else window_grid(view)
        except Exception:  # e.g. the model failed to load: the map works on without it
            logging.getLogger(__name__).exception("decoding the map's view %s failed", view)
        last_timing["window_decode"] = time.perf_counter() - t0
    data, timing = build_data(xy, labels, label_names, images, recons, grid_images, grid_extent,
                              color_values, color_title, path, selected, height, key,
                              client_has=client_has, last_event_id=last_id, window=window,
                              **map_info)
    t0 = time.perf_counter()
    code = code_payload()
    data["codeRef"] = code["ref"]
    data["wantReady"] = on_ready is not None
    if code["ref"] not in client_has:
        data["code"] = code
    # As bytes: Streamlit scans a dict's values for dataframes, importing pandas (~0.5 s).
    blob = pack_frame(data)
    result = mapcomponent.mount(key, blob, on_event=lambda: _event_callback(key, on_event),
                                on_ready=lambda: on_ready() if on_ready is not None else None,
                                on_view=lambda: mapcomponent.remember_view(key),
                                on_selection=lambda: selmod.take_from_page(key, int(len(xy))))
    timing["mount"] = time.perf_counter() - t0
    decode_s = last_timing.get("window_decode")
    last_timing.clear()
    last_timing.update(timing)
    if window is not None and decode_s is not None:
        last_timing["window_decode"] = decode_s
    last_timing["sent_bytes"] = float(sum(_payload_size(p) for p in data["blobs"].values()))

    state[_SENT_KEY] = client_has | {r for r in data["refs"].values() if r} | {code["ref"]}
    _last.frame = (blob, frozenset(state[_SENT_KEY]), int(len(xy))) if key == "latent_map" else None
    missing = result.get("missing") if hasattr(result, "get") else getattr(result, "missing", None)
    if missing:
        # The page lacks payloads we thought it had: forget them and rerun once to resend.
        now = time.time()
        recent = [t for t in state.get(_MISSING_KEY, []) if now - t < 30]
        if len(recent) < 5:
            state[_MISSING_KEY] = recent + [now]
            state[_SENT_KEY] = state[_SENT_KEY] - set(missing if isinstance(missing, list) else [missing])
            st.rerun()
    event = result.get("event") if hasattr(result, "get") else getattr(result, "event", None)
    if isinstance(event, dict):
        state[f"_latent_map_event_{key}"] = event
        return dict(event)
    return None
