"""A tutorial's .pth uploaded through the sidebar opens as a converted model (issue 10)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from harness import REPO, wait_for_app_run, wait_for_map
from playwright.sync_api import expect

sys.path.insert(0, str(REPO))
from tests.test_tutorial_models import SequentialMLP  # noqa: E402

pytestmark = pytest.mark.e2e


def test_upload_tutorial_pth_asks_dataset_then_shows_the_converted_model(page, app_server,
                                                                         tmp_path):
    torch.manual_seed(0)
    src = tmp_path / "tutorial_vae.pth"
    torch.save(SequentialMLP().state_dict(), src)
    page.goto(app_server.url + "/")
    wait_for_app_run(page)
    wait_for_map(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Upload", exact=True).click()
    wait_for_app_run(page)
    sidebar.locator('input[type="file"]').set_input_files(str(src))
    button = page.get_by_role("button", name="Convert and open")
    button.wait_for(timeout=120_000)
    wait_for_app_run(page, timeout=180_000)
    assert sidebar.get_by_text("the file cannot tell which dataset").count() == 1
    # A rerun in flight (e.g. the one the map's `ready` causes) can leave the previous run's form
    # on the page beside the new one for a moment: wait for one button, and for none after the click
    # (a strict locator raised on the pair in CI).
    expect(button).to_have_count(1, timeout=120_000)
    button.click()
    expect(button).to_have_count(0, timeout=180_000)
    wait_for_app_run(page, timeout=180_000)
    assert sidebar.locator('[data-testid="stAlertContentError"]').count() == 0
    data = (Path(REPO).parent / "shared" / "datasets" / "MNIST").is_dir()
    if data:  # the map of the converted model, 2-D latent: drawn without a projection
        root = wait_for_map(page, timeout=180_000)
        assert int(root.get_attribute("data-points")) > 0
    page.get_by_role("link", name="Checkpoint info").click()
    wait_for_app_run(page)
    page.get_by_text("Source: upload: tutorial_vae.pth").wait_for()
    page.get_by_text("Full metadata document").click()
    page.get_by_text("sequential-mlp", exact=False).first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
