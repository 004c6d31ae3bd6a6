"""When the background work starts: the model load (torch's import, ~1-2 s of CPU), the
reconstructions of a new sample and the per-point figures for the rankings.

On a warm open the map is drawn from the disk cache without the model. Started right after
the first script run, that work took the 2 cores while the browser was still drawing the map
(a warm open 1.25x slower, docs/benchmarks.md "Warm open"); a delay of 2 s did not help on a
loaded machine. So the map page waits for its map to say it is drawn: the component sends a
`ready` trigger once its points and images are out (map.js reportReady), its callback marks
the session (map_drawn) and the rerun it causes starts the work (app.py). Every start is once
per checkpoint and sample (compute.warm_up, compute.start_reconstruction,
compute_analysis.start); a later session finds them started, and its map is not asked for
ready (which would only cost it a rerun).

The same trigger brings a session's controls (first_render_staged): in its first run on the map
page the app draws the map and leaves out the widgets of the sidebar and of the map page (the
browser drew ~25 elements before it drew the map: docs/benchmarks.md "Warm open"); the ready
trigger's rerun, like any later run, draws everything. So a session whose controls are not out
is always asked for ready, even when another session has started everything. Should ready
never come (a client that does not run the map's JavaScript), the session's next run, e.g. its
first click, draws them.

A session that never draws the map (a script speaking Streamlit's protocol, AppTest) never
sends ready and never loads torch on the map page; what needs the model before ready (a click
on empty space, a zoomed window) builds it in the script run (OpenedCheckpoint.model), and the
hover images come from the disk cache. Other pages start the work at once: they decode.
"""
from __future__ import annotations

from typing import MutableMapping

READY_KEY = "_map_drawn"  # session state: this session's map said it is drawn
RAN_KEY = "_had_a_run"  # session state: this session's first script run has begun
WAITS = "map"  # the page (url path, "" = map) whose runs wait for the ready trigger


def map_drawn(session: MutableMapping) -> None:
    """The map component's on_ready callback (before the rerun it causes)."""
    session[READY_KEY] = True


def first_render_staged(session: MutableMapping, page: str, client: bool) -> bool:
    """Whether this run draws the map without the controls (the sidebar's widgets and the map
    page's): only in a session's first script run, on the map page, with a client connected
    that may draw the map (a browser; AppTest has none: it would never send ready). Every other
    run draws everything. Call once at the start of each run: it marks the session."""
    first = not session.get(RAN_KEY)
    session[RAN_KEY] = True
    return first and client and (page or WAITS) == WAITS


def want_ready(session: MutableMapping, c) -> bool:
    """Whether the map should send ready: always while its controls are not drawn (ready's rerun
    brings them); otherwise until it did once (later renders and mounts send nothing, so a trip
    to another page and back costs no extra rerun), and not when another session has started
    everything already (its ready would only cost a rerun)."""
    if not c.controls:
        return True
    return not session.get(READY_KEY) and not started(c)


def should_start(session: MutableMapping, page: str, has_data: bool) -> bool:
    """Whether this script run starts the background work: on the map page (with a map to
    draw) only once its map said it is drawn; elsewhere at once."""
    if (page or WAITS) != WAITS or not has_data:
        return True
    return bool(session.get(READY_KEY))


def started(c) -> bool:
    """Whether everything start(c) starts is started already (by any session)."""
    from . import compute, compute_analysis

    model = getattr(c.ck, "load_started", True)  # a plain Checkpoint is loaded
    pending = c.extras.get("recon_pending")
    recon = pending is None or compute.reconstructions(pending[0], pending[1])[1] is not None
    return model and recon and (not c.has_data or compute_analysis.started(c))


def start(c) -> None:
    """Build the model, decode a sample's missing reconstructions, compute the per-point
    figures: each in a background thread, each once (a no-op when started already)."""
    from . import compute, compute_analysis  # Streamlit caches: imported by the app anyway

    compute.warm_up(c.ck)
    if "recon_pending" in c.extras:
        compute.start_reconstruction(*c.extras["recon_pending"])
    compute_analysis.start(c)  # per-point figures for the rankings
