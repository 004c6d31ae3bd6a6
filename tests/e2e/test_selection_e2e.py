"""End-to-end: box and lasso selection on the map, S1 / S2 in the link, the selection panel, and
a clicked point's latent neighbours drawn on the map (issue 11, "Selection on the map").

Run: .venv/bin/python -m pytest -m e2e tests/e2e/test_selection_e2e.py -q
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from harness import (all_client_xy, find_isolated_point, open_map, open_popover, plot_box,
                     point_client_xy, wait_for_app_run)

pytestmark = pytest.mark.e2e

API = "window.__latentMaps['latent_map']"


def drag(page, pts, shift=False):
    page.mouse.move(*pts[0])
    if shift:
        page.keyboard.down("Shift")
    page.mouse.down()
    for p in pts[1:]:
        page.mouse.move(*p, steps=3)
    page.mouse.up()
    if shift:
        page.keyboard.up("Shift")


def tool(page, name):
    page.locator(f'.lm-tool[data-tool="{name}"]').first.click()


def sel_count(page, slot="s1") -> int:
    return page.evaluate(f"() => {API}.selection()['{slot}']")


def test_box_selection_counts_the_points_inside_and_fills_the_panel(page, app_server):
    open_map(page, app_server)
    x0, y0, x1, y1 = plot_box(page, 0.2, 0.2, 0.65, 0.7)
    inside = [i for i, (x, y) in enumerate(all_client_xy(page)) if x0 <= x <= x1 and y0 <= y <= y1]
    assert 5 < len(inside)
    tool(page, "box")
    drag(page, [(x0, y0), ((x0 + x1) / 2, (y0 + y1) / 2), (x1, y1)])
    bx0, by0, _, _, bx1, by1 = page.evaluate(f"() => {API}.instance.lastPoly")[:6]
    o = page.evaluate(f"() => {{ const r = {API}.instance.overlay.getBoundingClientRect(); return [r.left, r.top]; }}")
    x0, y0, x1, y1 = bx0 + o[0], by0 + o[1], bx1 + o[0], by1 + o[1]
    inside = [i for i, (x, y) in enumerate(all_client_xy(page)) if x0 <= x <= x1 and y0 <= y <= y1]
    assert sel_count(page) == len(inside)
    assert page.evaluate(f"() => {API}.selectedIndices('s1')") == inside
    # the panel (Python) shows the same count once the rerun is done
    page.get_by_text(f"S1: {len(inside):,} points").first.wait_for(timeout=60_000)
    page.get_by_text("Decode the mean code").first.wait_for()
    # ... and it survives the rerun (Python sends it back as the map's S1)
    wait_for_app_run(page)
    assert sel_count(page) == len(inside)
    url = parse_qs(urlparse(page.url).query)
    if len(inside) <= 2000:
        assert "s1" in url


def test_shift_drag_in_pan_mode_selects_a_box_and_clear_empties_it(page, app_server):
    open_map(page, app_server)
    x0, y0, x1, y1 = plot_box(page, 0.0, 0.0, 1.0, 1.0)
    n = page.evaluate(f"() => {API}.instance.points.n")
    view_before = page.evaluate(f"() => {{ const v = {API}.instance.view; return [v.cx, v.cy]; }}")
    drag(page, [(x0 + 1, y0 + 1), (x1 - 1, y1 - 1)], shift=True)
    assert sel_count(page) > 0.9 * n
    assert page.evaluate(f"() => {{ const v = {API}.instance.view; return [v.cx, v.cy]; }}") == view_before
    tool(page, "clear")
    assert sel_count(page) == 0


def test_lasso_selects_the_points_inside_a_triangle_into_s2(page, app_server):
    open_map(page, app_server)
    ax, ay, bx, by = plot_box(page, 0.1, 0.1, 0.9, 0.9)
    tri = [(ax, by), ((ax + bx) / 2, ay), (bx, by)]
    # reference: the same even-odd test in Python over the map's own client coordinates
    import numpy as np
    from vae_explorer.selection import points_in_polygon
    xy = np.array(all_client_xy(page))
    tool(page, "lasso")
    tool(page, "s2")
    drag(page, tri + [tri[0]])
    # the page's lasso is the polyline it saw; compare with the polygon it recorded
    poly = page.evaluate(f"() => {API}.instance.lastPoly")
    o = page.evaluate(f"() => {{ const r = {API}.instance.overlay.getBoundingClientRect(); return [r.left, r.top]; }}")
    poly = np.array(poly).reshape(-1, 2) + o
    want = np.flatnonzero(points_in_polygon(xy, poly)).tolist()
    assert len(want) > 5
    assert page.evaluate(f"() => {API}.selectedIndices('s2')") == want
    assert sel_count(page, "s1") == 0
    page.get_by_text(f"S2: {len(want):,} points").first.wait_for(timeout=60_000)


def test_selections_travel_in_the_link(page, app_server):
    open_map(page, app_server, "/?s1=0-9.20&s2=5")
    page.get_by_text("S1: 11 points").first.wait_for(timeout=60_000)
    assert sel_count(page, "s1") == 11 and sel_count(page, "s2") == 1
    assert page.evaluate(f"() => {API}.selectedIndices('s1')") == list(range(10)) + [20]
    q = parse_qs(urlparse(page.url).query)
    assert q.get("s1") == ["0-9.20"] and q.get("s2") == ["5"]


def test_click_shows_latent_neighbours_on_the_map(page, app_server):
    open_map(page, app_server)
    i = find_isolated_point(page)
    page.mouse.click(*point_client_xy(page, i))
    page.wait_for_function(f"() => {{ const nb = {API}.neighbours(); return nb && nb.of === {i}; }}",
                           timeout=60_000)
    nb = page.evaluate(f"() => {API}.neighbours()")
    assert len(nb["idx"]) == 10 and i not in nb["idx"]
    page.get_by_text(f"Nearest 10 codes to #{i}").first.wait_for()


def test_invert_and_isolate(page, app_server):
    open_map(page, app_server)
    n = page.evaluate(f"() => {API}.instance.points.n")
    x0, y0, x1, y1 = plot_box(page, 0.3, 0.3, 0.6, 0.6)
    drag(page, [(x0, y0), (x1, y1)], shift=True)
    k = sel_count(page)
    assert k > 0
    tool(page, "invert")
    assert sel_count(page) == n - k
    drawn = page.evaluate(f"() => {API}.stats.points")
    tool(page, "isolate")
    page.wait_for_function(f"() => {API}.stats.points <= {n - k} && {API}.stats.points < {drawn}")


def test_search_by_index_highlights_and_zooms_to_the_point(page, app_server):
    open_map(page, app_server)
    rect = lambda: page.evaluate(f"() => {API}.instance.viewRect()")  # noqa: E731
    before = rect()
    open_popover(page, "Find")  # the less used map controls
    box = page.get_by_role("textbox", name="Find points")
    box.fill("#5")
    box.press("Enter")
    page.wait_for_function(f"() => {API}.selection().found === 1", timeout=60_000)
    after = rect()
    assert after[1] - after[0] < (before[1] - before[0]) / 2
    x, y = page.evaluate(f"() => {{ const p = {API}.instance.points; return [p.xy[10], p.xy[11]]; }}")
    assert after[0] < x < after[1] and after[2] < y < after[3]
