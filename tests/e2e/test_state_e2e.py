"""End-to-end: state that survives page trips and links, the presenter view, the interpolation
page's layout and in-browser scrubbing (issue 9). Playwright + Debian's Chromium.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect
from harness import (MAP, REPO, find_isolated_point, open_popover, point_client_xy,
                     wait_for_app_run, wait_for_map)

pytestmark = pytest.mark.e2e

MNIST = REPO.parent / "shared" / "datasets" / "MNIST"
COUNT_RUNS = """() => { window.__runs = 0; const a = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => { if (a.getAttribute('data-test-script-state') === 'running')
    window.__runs++; }).observe(a, {attributes: true}); }"""


def query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def goto(page, app_server, path: str):
    page.goto(app_server.url + path)
    wait_for_app_run(page)


def nav(page, title: str):
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    wait_for_app_run(page)


def active_in(page, label: str) -> list[str]:
    """Texts of the highlighted options of the segmented control with this label."""
    ctl = page.get_by_role("radiogroup", name=label, exact=True).first
    return [t.strip() for t in ctl.locator('[aria-checked="true"]').all_inner_texts()]


def seg(page, label: str, option: str):
    """Click an option of the segmented control with this label, wait for the rerun."""
    ctl = page.get_by_role("radiogroup", name=label, exact=True).first
    ctl.get_by_role("radio", name=option, exact=True).click()
    ctl.locator('[aria-checked="true"]').filter(has_text=option).wait_for()
    wait_for_app_run(page)


def wait_query(page, key: str, value: str | None):
    page.wait_for_function("([k, v]) => new URLSearchParams(location.search).get(k) === v",
                           arg=[key, value])


def test_projection_colour_and_next_click_survive_a_trip(page, app_server):
    if not (MNIST / "raw").is_dir():
        pytest.skip(f"MNIST not found at {MNIST}")
    goto(page, app_server, "/?ckpt=mnist-conv-z16")
    wait_for_map(page, ready=False)
    seg(page, "Projection", "UMAP")
    seg(page, "Colour by", "KL")
    wait_query(page, "proj", "umap")
    wait_query(page, "colour", "kl")
    nav(page, "Interpolation")
    assert query(page)["proj"] == "umap"
    nav(page, "Latent map")
    wait_for_map(page, ready=False)
    q = query(page)
    assert q["proj"] == "umap" and q["colour"] == "kl", q
    assert active_in(page, "Projection") == ["UMAP"]
    assert active_in(page, "Colour by") == ["KL"]
    assert active_in(page, "Next click sets") == ["A"]


def test_looking_at_interpolation_chooses_no_points(page, app_server):
    goto(page, app_server, "/")
    # The map's ready signal (the first session on a fresh server) reruns the map page; a page
    # link clicked just before that rerun request reaches the server is lost (Streamlit keeps
    # the newer request's page). Known, rare for a person; here: wait for it to be over.
    wait_for_map(page)
    wait_for_app_run(page)
    nav(page, "Interpolation")
    page.get_by_text("Choose A and B above").wait_for()
    assert "a" not in query(page) and "b" not in query(page)
    assert page.locator(".sc-root").count() == 0
    nav(page, "Latent map")
    wait_for_map(page, ready=False)
    assert "a" not in query(page) and "b" not in query(page)
    page.get_by_text("A: click the map").wait_for()
    page.get_by_text("B: click the map").wait_for()


def test_interpolation_offers_its_map_before_a_and_b_and_two_clicks_choose_them(
        page, app_server):
    """A newcomer on Interpolation with no A / B: the map to click them on is on the page (it
    was only on the Latent map page before A and B were set)."""
    goto(page, app_server, "/interpolate")
    page.get_by_text("or click two points on the map below").wait_for()
    key = "latent_map_interp"
    wait_for_map(page, key, ready=False)
    picked = []
    for _ in range(2):
        i = find_isolated_point(page, key, skip=tuple(picked))
        picked.append(i)
        page.mouse.click(*point_client_xy(page, i, key))
        wait_for_app_run(page)
        if len(picked) == 1:
            page.wait_for_function("() => new URL(location.href).searchParams.get('a') !== null")
            wait_for_map(page, key, ready=False)
    page.wait_for_selector('.sc-root[data-ready="1"]', state="attached", timeout=60_000)
    q = query(page)
    assert (q.get("a"), q.get("b")) == (f"i{picked[0]}", f"i{picked[1]}"), q
    # and the choosers, drawn empty before the clicks, say which points they are
    # (a selectbox shows its choice in its input's value)
    shown = page.get_by_test_id("stSelectbox").filter(has_text="Choose by").locator("input")
    assert [shown.nth(i).input_value() for i in range(2)] == ["Dataset point"] * 2
    index = page.get_by_test_id("stNumberInput").filter(has_text="Index").locator("input")
    assert [int(index.nth(i).input_value()) for i in range(2)] == picked


def test_shared_link_restores_colour_method_position_and_zoom(page, app_server):
    goto(page, app_server, "/interpolate?a=i3&b=i5&method=slerp&t=0.25&colour=kl"
                           "&zoom=-1.5,2.5,-2,3")
    page.wait_for_selector('.sc-root[data-ready="1"]', state="attached")
    assert page.get_attribute(".sc-root", "data-frame") == "16"
    assert active_in(page, "Method") == ["slerp"]
    q = query(page)
    assert (q["method"], q["t"], q["colour"], q["zoom"]) == ("slerp", "0.25", "kl", "-1.5,2.5,-2,3")
    nav(page, "Latent map")  # a page switch drops the query: every setting comes back
    wait_for_map(page, ready=False)
    q = query(page)
    assert (q["method"], q["t"], q["colour"], q["a"], q["b"]) == ("slerp", "0.25", "kl", "i3", "i5")
    assert q["zoom"] == "-1.5,2.5,-2,3"
    assert active_in(page, "Colour by") == ["KL"]


def test_zoom_from_a_link_is_kept_and_dropped_with_its_map(page, app_server):
    goto(page, app_server, "/?zoom=0,1,0,1")
    wait_for_map(page, ready=False)
    seg(page, "Colour by", "KL")  # the server writes the query: the view stays in it
    wait_query(page, "colour", "kl")
    assert query(page)["zoom"] == "0,1,0,1"
    # another data sample: the view of the old map means nothing
    body = open_popover(page, "Data:")  # the sidebar's data settings
    slider = body.locator('[data-testid="stSlider"] input').first
    slider.focus()
    page.keyboard.press("Home")  # 1,000 points: another sample (the test split has 5,000)
    wait_for_app_run(page)
    wait_query(page, "zoom", None)
    assert query(page)["colour"] == "kl"


def _bar(page):
    return page.locator('[class*="st-key-presenter_bar"]')


@pytest.mark.parametrize("width", [1280, 1400, 1920])
def test_presenter_map_fills_the_width(page, app_server, width):
    page.set_viewport_size({"width": width, "height": 1000})
    goto(page, app_server, "/?present=1&a=i3&b=i5")
    root = wait_for_map(page, ready=False)
    # A / B's images come with the run after the first map render (modelstart.
    # first_render_staged), then load over HTTP: measured before they have, one was 164 px wide.
    page.wait_for_function("""() => { const i = [...document.querySelectorAll(
        '[data-testid="stImage"] img')].pop(); return !!i && i.complete && i.naturalWidth > 0; }""")
    box = root.bounding_box()
    right = page.locator('[data-testid="stImage"]').last.bounding_box()
    assert box["width"] >= 0.6 * width, box
    assert right["x"] + right["width"] >= width - 80 and box["x"] <= 60, (box, right)
    assert box["height"] >= 600


def test_presenter_view_navigates_shares_and_leaves(page, app_server):
    goto(page, app_server, "/?present=1&a=i3&b=i5")
    wait_for_map(page, ready=False)
    bar = _bar(page)
    assert bar.is_visible()
    bar.get_by_text("Interpolation", exact=True).click()
    wait_for_app_run(page)
    assert urlsplit(page.url).path.endswith("/interpolate") and query(page)["present"] == "1"
    page.get_by_role("button", name="For students").click()
    pop = page.locator('[data-testid="stPopoverBody"]')
    pop.get_by_text("students cannot open it").wait_for()  # the test server is on 127.0.0.1
    pop.get_by_text("--server.address 0.0.0.0").wait_for()
    link = pop.locator("code").last.inner_text()
    assert "present=1" in link and "a=i3" in link and "/interpolate" in link, link
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Leave presenter view").click()
    wait_for_app_run(page)
    wait_query(page, "present", None)
    expect(page.locator('[data-testid="stSidebar"]')).to_be_visible()  # it slides in
    assert _bar(page).count() == 0


def test_interpolation_headings_stand_over_their_images(page, app_server):
    goto(page, app_server, "/interpolate?a=i3&b=i5")
    page.wait_for_selector('.sc-root[data-ready="1"]', state="attached")
    main = page.locator('[data-testid="stMain"]')
    heads = {h: main.locator("h3").get_by_text(h, exact=True).first.bounding_box()
             for h in ("A", "B", "Path")}
    imgs = page.locator('[data-testid="stImage"]')
    below = {"A": imgs.nth(0), "B": imgs.nth(1), "Path": page.locator(".sc-frame")}
    for h, el in below.items():
        hb, ib = heads[h], el.bounding_box()
        assert abs(hb["x"] - ib["x"]) < 4 and ib["y"] > hb["y"], (h, hb, ib)
    assert imgs.nth(0).inner_text().strip() == "A" and imgs.nth(1).inner_text().strip() == "B"


def test_scrubbing_swaps_frames_in_the_browser_and_reports_on_release(page, app_server):
    goto(page, app_server, "/interpolate?a=i3&b=i5")
    page.wait_for_selector('.sc-root[data-ready="1"]', state="attached")
    assert page.get_attribute(".sc-root", "data-frame") == "32"
    pixels = """() => { const el = window.__scrubs['interp_scrub'].canvas;
      return Array.from(el.getContext('2d').getImageData(0, 0, el.width, el.height).data)
                  .join(','); }"""
    before = page.evaluate(pixels)
    page.evaluate(COUNT_RUNS)
    r = page.locator(".sc-range").bounding_box()
    y = r["y"] + r["height"] / 2
    page.mouse.move(r["x"] + r["width"] / 2, y)
    page.mouse.down()
    seen = set()
    for f in (0.4, 0.25, 0.1, 0.02):
        page.mouse.move(r["x"] + f * r["width"], y)
        seen.add(page.get_attribute(".sc-root", "data-frame"))
    assert len(seen) >= 3, seen  # frames changed while dragging...
    assert page.evaluate(pixels) != before
    assert page.evaluate("() => window.__runs") == 0  # ...with no server round trip
    assert "t" not in query(page)
    page.mouse.up()
    wait_for_app_run(page)
    page.wait_for_function("() => new URLSearchParams(location.search).has('t')")
    t = float(query(page)["t"])
    assert t < 0.1 and abs(t - int(page.get_attribute(".sc-root", "data-frame")) / 64) < 1e-3


def test_a_popover_opened_after_a_rerun_shows_and_keeps_the_sessions_values(page, app_server):
    """A popover's body mounts only when opened (the sidebar's data settings, the map's less used
    controls). Opened after a later run, its widgets must show the session's values and send
    them back: the sample-size slider showed its default (1,000 points) and the next rerun drew
    1,000 points, before state.hold set each such widget's value on every run."""
    goto(page, app_server, "/?nn=cosine")  # a setting bound to a popover's widget (state.bind)
    wait_for_map(page, ready=False)
    n = page.evaluate("() => window.__latentMaps.latent_map.stats.totalPoints")
    assert n > 1000  # the default sample is not the slider's first choice
    seg(page, "Colour by", "KL")  # a later run: the widgets' values are not sent as set any more
    body = open_popover(page, "Data:")
    expect(body.get_by_test_id("stSliderThumbValue")).to_have_text(str(n))
    page.keyboard.press("Escape")
    expect(body).to_have_count(0)
    body = open_popover(page, "Find")
    expect(body.get_by_role("spinbutton", name="k")).to_have_value("10")
    nn = body.get_by_role("radiogroup", name="Neighbours by", exact=True)
    expect(nn.locator('[aria-checked="true"]')).to_have_text("Cosine")
    page.keyboard.press("Escape")
    wait_query(page, "nn", "cosine")  # and not sent back as the default
    seg(page, "Colour by", "Label")
    wait_for_map(page)
    assert page.evaluate("() => window.__latentMaps.latent_map.stats.totalPoints") == n
