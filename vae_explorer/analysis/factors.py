"""Which latent dimension encodes which known factor, as a table for the traversal page.

The scores themselves (discretised mutual information per dimension and factor, normalised by
the factor's entropy, and MIG; Chen et al. 2018) live in vae_training.disentanglement, which the
trainer's evaluation also uses to store MIG in the checkpoint.
"""
from __future__ import annotations

import numpy as np

from vae_training import disentanglement
from vae_training.disentanglement import N_BINS, FactorScores, discretise, sample_factors  # noqa: F401

from ..lazy_imports import load


def factor_scores(codes, factors, factor_names, discrete=None, n_bins: int = N_BINS) -> FactorScores:
    """vae_training.disentanglement.factor_scores, with the scikit-learn it imports on first use
    loaded first under lazy_imports' lock: the samples page computes these in the script thread
    while a background job may be importing scikit-learn too (importlib's _DeadlockError in CI).
    Its own import then finds the module done and takes no import lock."""
    load("sklearn.metrics")
    return disentanglement.factor_scores(codes, factors, factor_names, discrete, n_bins)


def table(scores: FactorScores, dim_order: list[int], kl: np.ndarray | None = None) -> dict:
    """Rows for display, dimensions in the given (KL) order: {"dimension": [...], factor: [...]}."""
    out: dict[str, list] = {"dimension": [f"z{d + 1}" + (f" (KL {kl[d]:.2f})" if kl is not None else "")
                                          for d in dim_order]}
    for j, name in enumerate(scores.factor_names):
        out[name] = [round(float(scores.mi[d, j]), 3) for d in dim_order]
    return out


def best_dimensions(scores: FactorScores) -> list[str]:
    """Per factor, the dimension that tells most about it and its lead over the runner-up
    ("hue: z4 (0.14, gap 0.05)"): the table's answer in one line, strongest factor first."""
    order = np.argsort(-scores.mi.max(axis=0), kind="stable") if scores.mi.size else []
    return [f"{scores.factor_names[f]}: z{int(scores.best_dim[f]) + 1} "
            f"({scores.mi[scores.best_dim[f], f]:.2f}, gap {scores.gap[f]:.2f})" for f in order]
