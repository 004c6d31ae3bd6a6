"""Per-point figures from what the explorer already caches: the originals, the reconstructions
(uint8 expected pixels decoded at the encoder means) and the per-point KL.

For a Bernoulli decoder the reconstruction term is the image's negative log-likelihood minus its
entropy floor (the sum of the binary entropies of its grey levels: the least BCE any decoder can
reach on it). Raw BCE grows with how grey an image is, so ranking by it would only sort images by
greyness; above the floor it ranks what the model could still fix. Gaussian: the Gaussian NLL
with the decoder's sigma.
"""
from __future__ import annotations

import math

import numpy as np

# The reconstructions are stored as 8-bit expected pixels, so a probability is only known to
# ~1/510: clipping to [1e-6, 1 - 1e-6] keeps log() finite, and the NLL is only as precise as
# that rounding (a pixel decoded at 0.999 and stored as 255 counts as 1 - 1e-6).
P_CLIP = 1e-6
_CHUNK = 2048  # images per step: 70k MNIST images in float64 at once would be 440 MB


def _unit(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.astype(np.float64) / 255.0 if a.dtype == np.uint8 else a.astype(np.float64)


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(len(a), -1)


def entropy_floor(x) -> np.ndarray:
    """Per image: sum over pixels of the binary entropy of x (= BCE(x, x)), in nats."""
    out = np.empty(len(x), np.float64)
    for i in range(0, len(x), _CHUNK):
        p = np.clip(_flat(_unit(x[i:i + _CHUNK])), 0.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -(np.where(p > 0, p * np.log(p), 0.0) + np.where(p < 1, (1 - p) * np.log1p(-p), 0.0))
        out[i:i + _CHUNK] = h.sum(1)
    return out


def bernoulli_nll(x, recon) -> np.ndarray:
    """Per image: -log p(x | recon) under independent Bernoulli pixels (x in [0, 1] as grey
    levels, recon the decoder's probabilities), in nats."""
    out = np.empty(len(x), np.float64)
    for i in range(0, len(x), _CHUNK):
        xs = _flat(_unit(x[i:i + _CHUNK]))
        p = np.clip(_flat(_unit(recon[i:i + _CHUNK])), P_CLIP, 1 - P_CLIP)
        out[i:i + _CHUNK] = -(xs * np.log(p) + (1 - xs) * np.log1p(-p)).sum(1)
    return out


def gaussian_nll(x, recon, log_sigma: float, preprocess: str = "unit") -> np.ndarray:
    """Per image: -log N(x; recon, sigma^2) summed over pixels, in data space ([-1, 1] for the
    "symmetric" preprocess, where differences are twice those in [0, 1])."""
    scale = 2.0 if preprocess == "symmetric" else 1.0
    ls = float(log_sigma)
    out = np.empty(len(x), np.float64)
    for i in range(0, len(x), _CHUNK):
        d = scale * (_flat(_unit(x[i:i + _CHUNK])) - _flat(_unit(recon[i:i + _CHUNK])))
        npix = d.shape[1]
        out[i:i + _CHUNK] = 0.5 * (d * d).sum(1) * math.exp(-2 * ls) + npix * (ls + 0.5 * math.log(2 * math.pi))
    return out


def figures(images, recon, kl, likelihood: str = "bernoulli", log_sigma: float | None = None,
            preprocess: str = "unit") -> dict[str, np.ndarray]:
    """{"rec_term", "kl", "neg_elbo"} per point (float32, nats).

    neg_elbo = rec_term + kl: for a Bernoulli model this is the -ELBO above the entropy floor
    (the floor does not depend on the model, so it ranks points as the -ELBO would, less the
    greyness of the image)."""
    if likelihood == "bernoulli":
        rec = bernoulli_nll(images, recon) - entropy_floor(images)
    else:
        if log_sigma is None:
            raise ValueError("a Gaussian likelihood needs log_sigma")
        rec = gaussian_nll(images, recon, log_sigma, preprocess)
    kl = np.asarray(kl, np.float64)
    return {"rec_term": rec.astype(np.float32), "kl": kl.astype(np.float32),
            "neg_elbo": (rec + kl).astype(np.float32)}
