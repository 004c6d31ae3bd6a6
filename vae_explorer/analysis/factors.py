"""Which latent dimension encodes which known factor, as a table for the traversal page.

The scores themselves (discretised mutual information per dimension and factor, normalised by
the factor's entropy, and MIG; Chen et al. 2018) live in vae_training.disentanglement, which the
trainer's evaluation also uses to store MIG in the checkpoint.
"""
from __future__ import annotations

import numpy as np

from vae_training.disentanglement import (N_BINS, FactorScores, discretise, factor_scores,  # noqa: F401
                                          sample_factors)


def table(scores: FactorScores, dim_order: list[int], kl: np.ndarray | None = None) -> dict:
    """Rows for display, dimensions in the given (KL) order: {"dimension": [...], factor: [...]}."""
    out: dict[str, list] = {"dimension": [f"z{d + 1}" + (f" (KL {kl[d]:.2f})" if kl is not None else "")
                                          for d in dim_order]}
    for j, name in enumerate(scores.factor_names):
        out[name] = [round(float(scores.mi[d, j]), 3) for d in dim_order]
    return out
