"""Shared fixtures for the training tests (kept small; other test files add their own)."""
from __future__ import annotations

import pytest
import torch

from _training_helpers import SHARED_DATASETS, make_fake_mnist

torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _private_explorer_cache(tmp_path_factory):
    """Explorer code writes to its disk cache (~/.cache/vae-explorer by default); tests that do
    not choose a cache folder get a temporary one instead of the user's."""
    import os

    if "VAE_EXPLORER_CACHE" not in os.environ:
        os.environ["VAE_EXPLORER_CACHE"] = str(tmp_path_factory.mktemp("explorer-cache"))


@pytest.fixture
def fake_mnist(tmp_path):
    data = make_fake_mnist(tmp_path)
    return tmp_path, data


@pytest.fixture
def shared_datasets():
    if not (SHARED_DATASETS / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS
