"""End-to-end: the Compare page (issue 15) on the shipped MNIST checkpoints: hovering a point in
one map rings the same image in the other, a box selection in one is the selection of both, and a
Fashion-MNIST checkpoint is refused with the reason.

Run: .venv/bin/python -m pytest -m e2e tests/e2e/test_compare_e2e.py -q
"""
from __future__ import annotations

import pytest
from harness import (REPO, AppServer, all_client_xy, find_empty_spot, find_isolated_point,
                     hover_point, map_stats, plot_box, slot_pixels_varied, wait_for_app_run,
                     wait_for_map)

pytestmark = pytest.mark.e2e
DATA = REPO.parent / "shared" / "datasets"
CKPTS = REPO / "checkpoints"
if not (DATA / "MNIST").is_dir() or not (CKPTS / "mnist-conv-z16.safetensors").is_file():
    pytest.skip("needs MNIST in ../shared/datasets and the shipped MNIST checkpoints",
                allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    cache = tmp_path_factory.mktemp("compare-cache")
    log = tmp_path_factory.mktemp("logs") / "streamlit.log"
    srv = AppServer(cache, CKPTS, log_path=log, extra_env={"VAE_DATA_ROOT": str(DATA)})
    srv.start()
    yield srv
    srv.stop()


def open_compare(page, server, ckpt="mnist-conv-z2.safetensors"):
    page.goto(f"{server.url}/compare?ckpt={ckpt}")
    wait_for_app_run(page, timeout=180_000)


def choose(page, label: str) -> None:
    box = page.get_by_test_id("stSelectbox").filter(has_text="Compare with")
    box.locator("input").click()
    page.get_by_role("option", name=label, exact=True).click()
    wait_for_app_run(page, timeout=180_000)  # may return before the rerun starts: wait_for_map
    # and the alerts below wait for what the new choice shows, not for the run


# The maps live in shadow roots: read the attribute through the map's test hook.
LINKED = ("([k, i]) => window.__latentMaps[k] &&"
          " window.__latentMaps[k].instance.root.getAttribute('data-linked-index') === String(i)")


def centre(page, key: str) -> None:
    """Scroll the map's plot to the middle of the window: the page with two maps is taller than
    the window, and a mouse moved outside the window hovers nothing."""
    page.locator(f'.lm-root[data-key="{key}"] .lm-overlay').evaluate(
        "e => e.scrollIntoView({block: 'center'})")


def linked_index(page, key: str) -> str | None:
    return page.locator(f'.lm-root[data-key="{key}"]').get_attribute("data-linked-index")


def test_hover_in_one_map_rings_the_same_image_in_the_other(page, server):
    open_compare(page, server)
    choose(page, "mnist-conv-z16.safetensors")
    wait_for_map(page, "cmp_a", timeout=180_000)
    wait_for_map(page, "cmp_b", timeout=180_000)
    centre(page, "cmp_a")  # both maps side by side: B's plot is in view too
    i = find_isolated_point(page, "cmp_a")
    assert hover_point(page, i, "cmp_a") == i
    page.wait_for_function(LINKED, arg=["cmp_b", i])
    assert linked_index(page, "cmp_b") == str(i)
    j = find_isolated_point(page, "cmp_b")
    assert hover_point(page, j, "cmp_b") == j
    page.wait_for_function(LINKED, arg=["cmp_a", j])
    # A box drawn on map A selects the same images on map B.
    x0, y0, x1, y1 = plot_box(page, 0.3, 0.3, 0.7, 0.7, key="cmp_a")
    inside = {k for k, (x, y) in enumerate(all_client_xy(page, "cmp_a"))
              if x0 <= x <= x1 and y0 <= y <= y1}
    assert len(inside) > 5
    page.locator('.lm-root[data-key="cmp_a"] .lm-tool[data-tool="box"]').click()
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=3)
    page.mouse.move(x1, y1, steps=3)
    page.mouse.up()
    got = "k => window.__latentMaps[k].selectedIndices('s1')"
    a = set(page.evaluate(got, "cmp_a"))
    assert abs(len(a) - len(inside)) <= max(2, len(inside) // 100)  # on the box edge, rounding
    assert set(page.evaluate(got, "cmp_b")) == a
    wait_for_app_run(page)  # and after the rerun the gesture caused, both still hold it
    wait_for_map(page, "cmp_b")
    assert set(page.evaluate(got, "cmp_b")) == a


def test_a_checkpoint_of_another_dataset_is_refused(page, server):
    open_compare(page, server)
    choose(page, "fashion-mnist-conv-z16.safetensors (another dataset or image shape)")
    alert = page.get_by_test_id("stAlert").filter(has_text="different datasets")
    try:
        alert.wait_for()
    except Exception as e:  # say what the page showed instead (a CI failure left no clue)
        state = page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
        shown = page.get_by_test_id("stMain").inner_text()[:1500]
        raise AssertionError(f"no refusal; script {state}; the page showed:\n{shown}") from e
    assert "(mnist and fashion-mnist)" in alert.inner_text()
    assert page.locator('.lm-root[data-key="cmp_b"]').count() == 0


def test_hovering_empty_space_of_a_2d_latent_b_decodes_there(page, server):
    open_compare(page, server)
    choose(page, "mnist-conv-z2-neighbours.safetensors")
    page.get_by_text("B: mnist-conv-z2-neighbours.safetensors").first.wait_for()
    wait_for_map(page, "cmp_b", timeout=180_000)
    centre(page, "cmp_b")
    spot = find_empty_spot(page, "cmp_b")
    assert spot is not None, "map B has a decoded grid under its empty space"
    page.mouse.move(spot[0] - 30, spot[1] - 30)
    page.mouse.move(*spot)
    page.wait_for_function("k => window.__latentMaps[k].stats.hoverKind === 'grid'", arg="cmp_b")
    assert map_stats(page, "cmp_b")["hoverKind"] == "grid"
    page.wait_for_function("k => { const c = window.__latentMaps[k].instance.slots[0].cv;"
                           " return c.width > 0; }", arg="cmp_b")
    assert slot_pixels_varied(page, 0, "cmp_b")  # B's decoder drew an image there
