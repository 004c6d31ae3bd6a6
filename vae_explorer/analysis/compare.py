"""Two maps of the same images side by side: alignment, neighbourhood change, map quality, and
which checkpoint figures may be compared at all. Plain numpy / scipy / scikit-learn.

Alignment is orthogonal Procrustes with scale and translation (scipy.linalg.orthogonal_procrustes
on the centred maps): B is rotated (or reflected), scaled and shifted onto A. Only 2-D maps of
the same points go through it; what it cannot undo (a non-rigid change) is the residual.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..lazy_imports import load
from .honesty import neighbours_kept
from .rankings import K, knn, top

TRUST_MAX_POINTS = 3_000  # sklearn's trustworthiness builds an n x n distance matrix (72 MB here)


@dataclass
class Alignment:
    rotation: np.ndarray  # (2, 2) orthogonal; det -1 is a reflection
    scale: float
    shift: np.ndarray  # (2,): aligned = scale * (b - mean_b) @ rotation + mean_a
    mean_b: np.ndarray
    residual: float  # ||A - aligned B||_F / ||A - mean_a||_F: 0 = same shape, ~1 = unrelated

    @property
    def reflected(self) -> bool:
        return bool(np.linalg.det(self.rotation) < 0)

    def apply(self, b) -> np.ndarray:
        b = np.asarray(b, np.float64)
        return (self.scale * (b - self.mean_b) @ self.rotation + self.shift).astype(np.float32)

    def invert(self, xy) -> np.ndarray:
        """Map coordinates of the aligned B back to B's own (apply's inverse)."""
        xy = np.asarray(xy, np.float64)
        if self.scale == 0.0:
            return np.broadcast_to(self.mean_b, xy.shape).astype(np.float32)
        return ((xy - self.shift) @ self.rotation.T / self.scale + self.mean_b).astype(np.float32)

    def describe(self) -> str:
        turn = float(np.degrees(np.arctan2(self.rotation[0, 1], self.rotation[0, 0])))
        kind = "rotation and reflection" if self.reflected else "rotation"
        return (f"orthogonal Procrustes ({kind} {turn:.0f}°, scale {self.scale:.3g}, shift): "
                f"residual {self.residual:.3f} of map A's spread")


def align(a, b) -> Alignment:
    """The rotation/reflection, scale and shift that bring map B closest to map A (least squares
    over corresponding points)."""
    orthogonal_procrustes = load("scipy.linalg").orthogonal_procrustes

    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"maps must hold the same points: {a.shape} vs {b.shape}")
    ma, mb = a.mean(0), b.mean(0)
    ac, bc = a - ma, b - mb
    nb = float((bc ** 2).sum())
    if nb == 0.0:  # every point of B in one place: nothing to rotate
        r, scale = np.eye(a.shape[1]), 0.0
    else:
        r, s = orthogonal_procrustes(bc, ac)
        scale = float(s) / nb  # s is the sum of singular values of bc.T @ ac: the optimal scale
    fit = scale * bc @ r + ma
    na = float(np.sqrt((ac ** 2).sum()))
    res = float(np.sqrt(((a - fit) ** 2).sum())) / na if na > 0 else 0.0
    return Alignment(r, scale, ma, mb, res)


def kept_between(codes_a, codes_b, k: int = K) -> np.ndarray:
    """Per point, the share of its k nearest neighbours under A that are also among its k
    nearest under B (codes of any dimension, or 2-D maps). 1 = nothing moved."""
    return neighbours_kept(codes_a, codes_b, k)


def spread(codes_a, codes_b, k: int = K) -> np.ndarray:
    """Per point, how far its k nearest neighbours under A lie from it under B, in units of B's
    median k-th neighbour distance (one scale for all points, so that a point moved far from
    what it knew scores high even where it is alone): about 1 or less when they stayed
    neighbours, large when they were scattered. Orders the many points that keep none of their
    neighbours (kept share 0)."""
    b = np.asarray(codes_b, np.float32).reshape(len(codes_b), -1)
    _, idx_a = knn(codes_a, k)
    dist_b, _ = knn(b, k)
    if idx_a.shape[1] == 0:
        return np.zeros(len(b), np.float32)
    far = np.empty(len(b), np.float32)
    for s in range(0, len(b), 1024):  # chunks: 10k pixel rows x k x 784 would be 300 MB at once
        e = s + 1024
        far[s:e] = np.linalg.norm(b[idx_a[s:e]] - b[s:e, None, :], axis=2).mean(1)
    return (far / max(float(np.median(dist_b[:, -1])), 1e-12)).astype(np.float32)


def moved_most(kept, n: int = 24, spread_b=None) -> tuple[np.ndarray, np.ndarray]:
    """(indices, kept share) of the n points whose neighbourhood changed most: fewest neighbours
    kept first, ties broken by the larger spread (then by index)."""
    kept = np.asarray(kept, np.float64)
    if spread_b is None:
        return top(kept, n, descending=False)
    order = np.lexsort((np.arange(len(kept)), -np.asarray(spread_b, np.float64), kept))[:n]
    return order, kept[order]


def knn_accuracy(points, labels, k: int = 5) -> float:
    """Leave-one-out k-NN label accuracy: each point's label predicted by a majority vote of its
    k nearest other points (ties to the smaller label)."""
    labels = np.asarray(labels, np.int64)
    if len(labels) < 2:
        return float("nan")
    _, idx = knn(points, k)
    votes = labels[idx]
    m = int(labels.max()) + 1
    counts = np.zeros((len(labels), m), np.int32)
    np.add.at(counts, (np.repeat(np.arange(len(labels)), idx.shape[1]), votes.ravel()), 1)
    return float((counts.argmax(1) == labels).mean())


def subsample(n: int, most: int = TRUST_MAX_POINTS, seed: int = 0) -> np.ndarray:
    if n <= most:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, most, replace=False))


def trustworthiness(high, low, k: int = K, most: int = TRUST_MAX_POINTS) -> float:
    """sklearn.manifold.trustworthiness of a 2-D map of `high`, on at most `most` points
    (a fixed sample: the function needs the full distance matrix)."""
    tw = load("sklearn.manifold").trustworthiness

    sel = subsample(len(high), most)
    h = np.asarray(high, np.float32).reshape(len(high), -1)[sel]
    lo = np.asarray(low, np.float32)[sel]
    k = max(1, min(k, len(sel) // 2 - 1))
    return float(tw(h, lo, n_neighbors=k))


# ---------------------------------------------------------------------------------------------
# which checkpoints may be compared, and which of their figures


def refusal(a, b) -> str | None:
    """Why two checkpoints cannot be shown on the same images, or None if they can.
    a, b: anything with .data.dataset and .model_config.image_shape."""
    da, db = a.data.dataset, b.data.dataset
    if da != db:
        return (f"These checkpoints were trained on different datasets ({da} and {db}): "
                "their maps cannot show the same images, so there is nothing to compare point by "
                "point. Pick a second checkpoint trained on the same dataset.")
    sa, sb = list(a.model_config.image_shape), list(b.model_config.image_shape)
    if sa != sb:
        return (f"These checkpoints expect different image shapes ({tuple(sa)} and {tuple(sb)}): "
                "one data sample cannot feed both. Pick a checkpoint with the same image shape.")
    return None


def treatment(ck) -> dict:
    """What a likelihood figure depends on: the likelihood (and a Gaussian's fixed sigma) and what
    was done to the pixels (binarised or grey levels, and their range)."""
    mc, dc = ck.model_config, ck.data
    t = {"likelihood": mc.likelihood, "binarize": getattr(dc, "binarize", "none") or "none",
         "preprocess": dc.preprocess}
    if mc.likelihood == "gaussian":
        t["sigma"] = float(mc.gaussian_sigma)
    return t


def likelihoods_comparable(a, b) -> tuple[bool, str]:
    """(True, "") when test -ELBO and IW NLL of a and b are in the same units on the same data;
    else (False, a sentence saying why not)."""
    ta, tb = treatment(a), treatment(b)
    if ta == tb:
        return True, ""
    why = []
    if ta["likelihood"] != tb["likelihood"]:
        why.append(f"one uses a {ta['likelihood']} likelihood and the other a {tb['likelihood']} one")
    elif ta.get("sigma") != tb.get("sigma"):
        why.append(f"their Gaussian sigmas differ ({ta.get('sigma')} vs {tb.get('sigma')})")
    if ta["binarize"] != tb["binarize"]:
        def name(v):
            return "grey levels" if v == "none" else f"{v}ally binarised pixels" \
                if v in ("dynamic", "static") else f"pixels binarised ({v})"
        why.append(f"one was scored on {name(ta['binarize'])}, the other on {name(tb['binarize'])}")
    if ta["preprocess"] != tb["preprocess"]:
        why.append(f"their pixel ranges differ ({ta['preprocess']} vs {tb['preprocess']})")
    return False, ("Likelihood figures (test -ELBO, IW NLL) are not comparable: "
                   + "; ".join(why) + ". Only the other rows compare.")


LIKELIHOOD_ROWS = ("test -ELBO (nats)", "IW NLL (nats)")


def _num(v, fmt="{:.2f}") -> str:
    return fmt.format(v) if isinstance(v, (int, float)) and np.isfinite(v) else "—"


def metrics_rows(a, b) -> tuple[list[dict], str]:
    """Rows {"metric", "A", "B"} (plain text) of the two checkpoints' stored test metrics, with
    likelihood rows blanked when they are not comparable; and the sentence saying why ("")."""
    ok, why = likelihoods_comparable(a, b)

    def col(ck) -> dict:
        m = ck.metrics if isinstance(ck.metrics, dict) else {}
        kl = m.get("kl_per_dim")
        kl_txt = ", ".join(f"{v:.2f}" for v in kl) if isinstance(kl, list) and \
            all(isinstance(v, (int, float)) for v in kl) else "—"
        return {"test -ELBO (nats)": _num(m.get("test_loss")),
                "IW NLL (nats)": _num(m.get("iw_nll")),
                "active units": (f"{m['active_units']} of {ck.model_config.latent_dim}"
                                 if isinstance(m.get("active_units"), int) else "—"),
                "k-NN accuracy": _num(m.get("knn_accuracy"), "{:.1%}"),
                "KL per dimension (nats)": kl_txt,
                "likelihood · pixels": " · ".join(str(v) for v in treatment(ck).values())}

    ca, cb = col(a), col(b)
    rows = []
    for name in ca:
        va, vb = ca[name], cb[name]
        if name in LIKELIHOOD_ROWS and not ok:
            va, vb = f"{va} (not comparable)", f"{vb} (not comparable)"
        rows.append({"metric": name, "A": va, "B": vb})
    return rows, why
