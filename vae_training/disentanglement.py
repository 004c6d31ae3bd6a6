"""Which latent dimension encodes which known factor: mutual information and MIG (numpy and
scikit-learn only).

For datasets whose images were generated from known factors (the built-in shapes sets), the
question a class asks after a beta change is "which dimension holds the colour now?". The
answer here is the standard one (Chen et al. 2018, "Isolating Sources of Disentanglement";
disentanglement_lib's discretised estimator): bin each latent mean and each continuous factor
into 20 equal-width bins, take the mutual information between every dimension and every factor
(sklearn.metrics.mutual_info_score), divide by the factor's entropy so 1 means "this dimension
tells the factor completely", and the Mutual Information Gap: per factor, the best dimension's
share minus the second best's, averaged over factors (1: each factor in exactly one dimension;
0: none, or spread over several).

Here, not in the explorer, because the trainer's evaluation stores MIG in the checkpoint
(vae_training.evaluate) and the model card reads it from there; the explorer's table uses the
same functions (vae_explorer.analysis.factors).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BINS = 20


def discretise(values: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """(N,) values -> int bin ids, equal-width bins over the values' own range."""
    v = np.asarray(values, dtype=np.float64)
    lo, hi = np.nanmin(v), np.nanmax(v)
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.zeros(len(v), dtype=np.int64)
    edges = np.linspace(lo, hi, n_bins + 1)[1:-1]
    return np.digitize(v, edges).astype(np.int64)


@dataclass(frozen=True)
class FactorScores:
    """mi[d, f]: dimension d's mutual information with factor f over f's entropy (0..1)."""
    mi: np.ndarray            # (D, F)
    factor_names: list[str]
    gap: np.ndarray           # (F,) best minus second-best share, per factor
    best_dim: np.ndarray      # (F,) the dimension that tells most about each factor

    @property
    def mig(self) -> float:
        return float(self.gap.mean()) if self.gap.size else float("nan")


def factor_scores(codes: np.ndarray, factors: np.ndarray, factor_names: list[str],
                  discrete: tuple[bool, ...] | None = None, n_bins: int = N_BINS) -> FactorScores:
    """Normalised MI of each latent dimension with each factor, and MIG.

    codes (N, D) latent means; factors (N, F); ``discrete[f]`` marks factors that already are
    categories (a class label), used as they are instead of binned."""
    # Imported here, not at the top (only evaluation and the explorer's factor table need it); the
    # explorer imports scikit-learn first, one thread at a time (vae_explorer.analysis.factors).
    from sklearn.metrics import mutual_info_score

    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError("codes (N, D) and factors (N, F) must describe the same N images")
    n_dims, n_f = codes.shape[1], factors.shape[1]
    discrete = discrete or (False,) * n_f
    zb = [discretise(codes[:, d], n_bins) for d in range(n_dims)]
    mi = np.zeros((n_dims, n_f))
    for f in range(n_f):
        fb = (factors[:, f].astype(np.int64) if discrete[f]
              else discretise(factors[:, f], n_bins))
        h = mutual_info_score(fb, fb)  # the factor's entropy (nats)
        if h <= 0:
            continue  # a constant factor: nothing to tell
        for d in range(n_dims):
            mi[d, f] = mutual_info_score(fb, zb[d]) / h
    top = np.sort(mi, axis=0)[::-1]
    gap = top[0] - (top[1] if n_dims > 1 else 0.0)
    return FactorScores(mi=np.clip(mi, 0.0, 1.0), factor_names=list(factor_names), gap=gap,
                        best_dim=mi.argmax(axis=0))


def sample_factors(labels: np.ndarray, factors: np.ndarray, factor_names: list[str],
                   label_name: str = "shape") -> tuple[np.ndarray, list[str], tuple[bool, ...]]:
    """The class label as a first, discrete factor beside the continuous ones."""
    f = np.concatenate([np.asarray(labels, np.float64)[:, None], np.asarray(factors, np.float64)], 1)
    return f, [label_name, *factor_names], (True,) + (False,) * len(factor_names)
