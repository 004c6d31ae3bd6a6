"""End-to-end: clicking a ranked image on "What it gets wrong" opens the map with point A on
that image (a=i<index> in the link). Playwright + Debian's Chromium."""
from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from harness import wait_for_app_run, wait_for_map

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("VAE_E2E_SHOTS")  # a folder: keep screenshots to look at


def test_clicking_a_ranked_image_locates_it_on_the_map(page, app_server):
    page.goto(app_server.url + "/wrong")
    wait_for_app_run(page)
    cells = page.locator(".ig-cell")
    cells.first.wait_for(timeout=120_000)  # after the background figures are in
    assert cells.count() == 24
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "rankings.png"), full_page=True)
    target = cells.nth(2)
    idx = int(target.get_attribute("data-index"))
    target.click()
    page.wait_for_function("(v) => new URLSearchParams(location.search).get('a') === v",
                           arg=f"i{idx}", timeout=60_000)
    wait_for_map(page, ready=False)
    q = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert q["a"] == f"i{idx}" and q.get("view") in (None, "map")
    page.get_by_text(f"A: #{idx} (", exact=False).first.wait_for(timeout=30_000)
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "map-after-click.png"), full_page=True)


def test_the_map_csv_downloads_one_row_per_point(page, app_server):
    import csv
    import io

    page.goto(app_server.url + "/wrong")
    wait_for_app_run(page)
    page.locator(".ig-cell").first.wait_for(timeout=120_000)
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="The map as CSV").click()
    assert dl.value.suggested_filename == "latent-map.csv"
    rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text(encoding="utf-8"))))
    assert rows[0][:5] == ["index", "label", "label_name", "x", "y"]
    assert rows[0][-4:] == ["rec_err", "kl", "neg_elbo", "selected"]
    n = len(rows) - 1
    assert n >= 1000 and [int(r[0]) for r in rows[1:]] == list(range(n))
    assert all(r[-2] != "" for r in rows[1:])  # -ELBO filled in for every point
