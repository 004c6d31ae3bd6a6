"""`vae-explorer [STREAMLIT OPTIONS]`: the explorer on the shipped default checkpoint, from any folder.

Streamlit reads .streamlit/config.toml from the current folder only, so the project's settings
(127.0.0.1 only, upload size, theme, no telemetry) are passed as flags; options given on the
command line come after them and win, e.g. `vae-explorer --server.address 0.0.0.0` for a classroom.
"""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from .paths import STREAMLIT_CONFIG

APP = Path(__file__).resolve().parent / "app.py"


def config_flags(config: Path = STREAMLIT_CONFIG) -> list[str]:
    """config.toml's [section] key = value lines as Streamlit's --section.key=value flags."""
    with open(config, "rb") as f:
        sections = tomllib.load(f)
    flags = []
    for section, options in sections.items():
        for key, value in options.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags.append(f"--{section}.{key}={text}")
    return flags


def streamlit_argv(user_args: list[str]) -> list[str]:
    return ["streamlit", "run", str(APP), *config_flags(), *user_args]


def main(argv: list[str] | None = None) -> int:
    from streamlit.web import cli as streamlit_cli

    sys.argv = streamlit_argv(sys.argv[1:] if argv is None else argv)
    return streamlit_cli.main()
