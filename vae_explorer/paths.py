"""Where the files that ship with the explorer are, in a source tree and when installed.

In a source tree they are the repository's checkpoints/ and .streamlit/ folders. `pip install .`
puts the same files inside the package (pyproject.toml maps checkpoints/ to vae_explorer/shipped
and .streamlit/ to vae_explorer/settings), so that an install adds no top-level names.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _installed_or_repo(package_folder: str, repo_folder: str) -> Path:
    installed = Path(str(resources.files("vae_explorer") / package_folder))
    return installed if installed.is_dir() else REPO / repo_folder


SHIPPED_CHECKPOINTS = _installed_or_repo("shipped", "checkpoints")
STREAMLIT_CONFIG = _installed_or_repo("settings", ".streamlit") / "config.toml"


def user_cache_dir() -> Path:
    """The explorer's disk cache: $VAE_EXPLORER_CACHE, default ~/.cache/vae-explorer."""
    env = os.environ.get("VAE_EXPLORER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vae-explorer"


def checkpoint_dir() -> Path:
    """The folder whose checkpoints the app lists: $VAE_EXPLORER_CHECKPOINTS, else the shipped."""
    env = os.environ.get("VAE_EXPLORER_CHECKPOINTS")
    return Path(env) if env else SHIPPED_CHECKPOINTS
