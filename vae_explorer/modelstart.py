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

A session that never draws the map (a script speaking Streamlit's protocol, AppTest) never
sends ready and never loads torch on the map page; what needs the model before ready (a click
on empty space, a zoomed window) builds it in the script run (OpenedCheckpoint.model), and the
hover images come from the disk cache. Other pages start the work at once: they decode.
"""
from __future__ import annotations

from typing import MutableMapping

READY_KEY = "_map_drawn"  # session state: this session's map said it is drawn
WAITS = "map"  # the page (url path, "" = map) whose runs wait for the ready trigger


def map_drawn(session: MutableMapping) -> None:
    """The map component's on_ready callback (before the rerun it causes)."""
    session[READY_KEY] = True


def want_ready(session: MutableMapping, c) -> bool:
    """Whether the map should send ready: until it did once (later renders and mounts send
    nothing, so a trip to another page and back costs no extra rerun), and not when another
    session has started everything already (its ready would only cost a rerun)."""
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
