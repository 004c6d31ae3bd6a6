"""The built-in generated datasets (no download, known factors), numpy only: the explorer asks
for a sample's factors on a warm open, where importing torch would cost seconds."""
from __future__ import annotations

import importlib

GENERATED = {"shapes": "shapes", "shapes-rgb": "colour_shapes"}  # dataset name -> module


def module(name: str):
    """The generator module of a built-in dataset, or None."""
    mod_name = GENERATED.get(str(name).lower())
    return None if mod_name is None else importlib.import_module(f".{mod_name}", __package__)


def known_factors(name: str, split: str):
    """(labels, factors (N, F) float32, factor names) of a built-in dataset's split, drawn
    without rendering the images; None for datasets without known factors."""
    mod = module(name)
    if mod is None:
        return None
    labels, factors = mod.load_factors(split)
    return labels, factors, list(mod.FACTOR_NAMES)
