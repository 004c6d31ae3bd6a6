"""The VAE objective and the measurements built on it.

All quantities are in nats per sample (summed over pixels / latent dimensions):

    recon = -log p(x|z)     Bernoulli from logits (binary_cross_entropy_with_logits), or
                            Gaussian with fixed sigma (ModelConfig.gaussian_sigma) / learned sigma
    kl    = KL(q(z|x) || N(0, I))      analytic
    loss  = recon + beta * kl          (free bits: kl_j replaced by max(lambda, mean_batch kl_j))
    or, with --iw-train K > 1, the negative K-sample importance-weighted bound (IWAE)
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


class DataRangeError(ValueError):
    """A likelihood / preprocessing combination that cannot be right."""


def check_data_range(x: torch.Tensor, likelihood: str) -> None:
    """Refuse data that the likelihood cannot model, naming the fix.

    The classic bug: ``Normalize((0.5,), (0.5,))`` puts MNIST in [-1, 1] and BCE is then computed
    on negative "probabilities", so the reported loss can go negative and means nothing.
    """
    lo, hi = float(x.min()), float(x.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise DataRangeError("the data contains NaN or infinite pixel values")
    if likelihood == "bernoulli" and (lo < 0.0 or hi > 1.0):
        raise DataRangeError(
            f"Bernoulli likelihood needs pixels in [0, 1] but the data spans [{lo:.1f}, {hi:.1f}]: "
            f"use --preprocess unit, or --likelihood gaussian")


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per latent dimension, shape (N, D)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample sums of BCE-with-logits, shape (N,), with no autograd graph of its own.

    softplus(l) - x l = max(l, 0) - x l + log(1 + exp(-|l|)), in place on one buffer: torch's
    F.binary_cross_entropy_with_logits goes through log_sigmoid, whose log1p is not vectorised on
    this CPU (a fifth of the MLP's test pass, docs/benchmarks.md). log, not log1p: the two
    differ by < 1e-6 per pixel, < 1e-3 nats per image (tests/test_objective.py)."""
    nll = logits.abs().neg_().exp_().add_(1).log_()
    nll += logits.clamp_min(0)
    nll.addcmul_(x, logits, value=-1.0)
    return nll.flatten(1).sum(1)


class _BernoulliNLL(torch.autograd.Function):
    """bernoulli_nll forward, its gradient sigmoid(l) - x written directly backward.

    Autograd through F.binary_cross_entropy_with_logits costs ~1.5-2 ms per MLP step on one EPYC
    core (batch 128 x 784), a quarter of the whole bf16 step."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(logits, x)
        return bernoulli_nll(logits, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        logits, x = ctx.saved_tensors
        g = torch.sigmoid(logits).sub_(x)
        return g.mul_(grad.reshape(-1, *([1] * (g.dim() - 1)))), None


def recon_nll(out: torch.Tensor, x: torch.Tensor, likelihood: str,
              log_sigma: torch.Tensor | float | None = None) -> torch.Tensor:
    """-log p(x|z) per sample, shape (N,). ``out`` is the decoder output (logits or mean)."""
    out = out.float()
    if likelihood == "bernoulli":
        if not (out.requires_grad or x.requires_grad):  # evaluation (no_grad / inference_mode)
            return bernoulli_nll(out, x)
        if not x.requires_grad:  # training: the fused forward and backward
            return _BernoulliNLL.apply(out, x)
        nll = F.binary_cross_entropy_with_logits(out, x, reduction="none")
    elif likelihood in ("gaussian", "gaussian_learned"):
        if log_sigma is None:
            raise ValueError("a Gaussian likelihood needs log_sigma")
        ls = log_sigma if isinstance(log_sigma, torch.Tensor) else torch.tensor(float(log_sigma))
        ls = ls.float()
        nll = 0.5 * ((x - out) * torch.exp(-ls)).pow(2) + ls + 0.5 * LOG_2PI
    else:
        raise ValueError(f"unknown likelihood {likelihood!r}")
    return nll.flatten(1).sum(1)


def unwrap(model):
    """The VAE inside torch.compile / DDP wrappers."""
    m = getattr(model, "_orig_mod", model)
    m = getattr(m, "module", m)
    return getattr(m, "_orig_mod", m)


def decoder_log_sigma(model) -> torch.Tensor | float | None:
    m = unwrap(model)
    lik = m.cfg.likelihood
    if lik == "gaussian_learned":
        return m.log_sigma
    if lik == "gaussian":
        return math.log(m.cfg.gaussian_sigma)
    return None


def kl_weight(beta: float, warmup_epochs: float, progress_epochs: float) -> float:
    """Linear KL warm-up: 0 -> beta over the first warmup_epochs epochs (progress is fractional)."""
    if warmup_epochs <= 0:
        return beta
    return beta * min(1.0, max(0.0, progress_epochs / warmup_epochs))


def negative_elbo(model, x: torch.Tensor, y: torch.Tensor | None = None, beta: float = 1.0,
                  free_bits: float = 0.0, likelihood: str | None = None,
                  noise: torch.Tensor | None = None) -> dict:
    """One forward pass. Returns batch means: loss (what is minimised), recon, kl (true KL).

    ``noise``: optional standard-normal epsilon (N, D) for the reparameterisation, so that test
    evaluation can use its own generator and leave the global RNG untouched.
    """
    core = unwrap(model)
    likelihood = likelihood or core.cfg.likelihood
    if noise is None:
        out, mu, logvar, _ = model(x, y)  # through the (DDP / compiled) wrapper
    else:
        mu, logvar = core.encode(x, y)
        out = core.decode(mu + noise * torch.exp(0.5 * logvar), y)
    mu, logvar = mu.float(), logvar.float()
    recon = recon_nll(out, x, likelihood, decoder_log_sigma(model))
    kl_dims = gaussian_kl(mu, logvar)
    kl = kl_dims.sum(1)
    if free_bits > 0:
        kl_term = torch.clamp(kl_dims.mean(0), min=free_bits).sum()
    else:
        kl_term = kl.mean()
    recon_m = recon.mean()
    return {"loss": recon_m + beta * kl_term, "recon": recon_m, "kl": kl.mean(),
            "recon_per_sample": recon, "kl_per_sample": kl, "kl_dims": kl_dims, "mu": mu}


def _log_weights(core, x, y, mu, logvar, eps, likelihood, log_sigma):
    """Importance log-weights log p(x|z_i) + log p(z_i) - log q(z_i|x) of z_i = mu + eps_i * sigma,
    eps of shape (c, N, D): ((c, N), and log p(x|z_i) alone). One definition for the IWAE
    training bound and the evaluator's IW NLL."""
    c, n = eps.shape[:2]
    z = mu + eps * torch.exp(0.5 * logvar)  # (c, N, D)
    out = core.decode(z.reshape(c * n, -1), None if y is None else y.repeat(c))
    xc = x.unsqueeze(0).expand(c, *x.shape).reshape(c * n, *x.shape[1:])
    log_px = -recon_nll(out, xc, likelihood, log_sigma).reshape(c, n)
    log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
    log_qz = -0.5 * (eps.pow(2) + LOG_2PI + logvar).sum(-1)
    return log_px + log_pz - log_qz, log_px


def negative_iw_bound(model, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 5,
                      likelihood: str | None = None, noise: torch.Tensor | None = None) -> dict:
    """The IWAE training objective (Burda et al. 2016): batch mean of

        -[logsumexp_i log w_i - log k],  log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x),

    z_i = mu + eps_i * sigma reparameterised, so the gradient flows through every sample. The
    bound is >= the ELBO for any k and tightens as k grows; it is what the IW NLL measures, so
    training on it moves that figure directly. The encoder runs once per image, the decoder k
    times. ``noise``: optional epsilon of shape (k, N, D). Returns the same keys as
    negative_elbo; recon (mean over the k samples) and kl (analytic) are for logging only.
    The model is called through its own encode/decode, not a DDP wrapper (the trainer refuses
    k > 1 with several processes).
    """
    core = unwrap(model)
    likelihood = likelihood or core.cfg.likelihood
    mu, logvar = core.encode(x, y)
    mu, logvar = mu.float(), logvar.float()
    n, d = mu.shape
    if noise is None:
        noise = torch.randn((k, n, d), device=mu.device, dtype=mu.dtype)
    lw, log_px = _log_weights(core, x, y, mu, logvar, noise, likelihood, decoder_log_sigma(model))
    recon = -log_px
    bound = torch.logsumexp(lw, 0) - math.log(k)  # (N,)
    kl_dims = gaussian_kl(mu, logvar)
    kl = kl_dims.sum(1)
    return {"loss": -bound.mean(), "recon": recon.mean(), "kl": kl.mean(),
            "bound_per_sample": bound, "recon_per_sample": recon.mean(0), "kl_per_sample": kl,
            "kl_dims": kl_dims, "mu": mu}


def training_loss(model, x: torch.Tensor, y: torch.Tensor | None, beta: float, free_bits: float,
                  likelihood: str, iw_k: int = 1) -> dict:
    """What the trainer minimises: the (beta-, free-bits-) negative ELBO for iw_k = 1, exactly as
    before the IWAE option existed, else the negative k-sample IW bound (beta 1, no free bits:
    the trainer refuses the combination)."""
    if iw_k <= 1:
        return negative_elbo(model, x, y, beta=beta, free_bits=free_bits, likelihood=likelihood)
    return negative_iw_bound(model, x, y, k=iw_k, likelihood=likelihood)


@torch.inference_mode()  # the returned tensor cannot enter autograd: callers only sum it
def iw_log_likelihood(model, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 500,
                      chunk: int = 0, generator: torch.Generator | None = None,
                      max_chunk_elems: int = 16_000_000) -> torch.Tensor:
    """Importance-weighted lower bound on log p(x) with k samples (Burda et al. 2016), per sample.

    log p(x) >= logsumexp_i [log p(x|z_i) + log p(z_i) - log q(z_i|x)] - log k, z_i ~ q(z|x).
    Samples are drawn in chunks so that at most ``max_chunk_elems`` decoded pixels are in memory.
    Returns shape (N,); the IW NLL bound is its negation.
    """
    model = unwrap(model)
    n = x.shape[0]
    mu, logvar = model.encode(x, y)
    mu, logvar = mu.float(), logvar.float()
    per_img = x[0].numel()
    if chunk <= 0:
        chunk = max(1, min(k, max_chunk_elems // max(1, n * per_img)))
    lik = model.cfg.likelihood
    ls = decoder_log_sigma(model)
    logws = []
    done = 0
    while done < k:
        c = min(chunk, k - done)
        eps = torch.randn((c, *mu.shape), device=mu.device, dtype=mu.dtype, generator=generator)
        logws.append(_log_weights(model, x, y, mu, logvar, eps, lik, ls)[0])
        done += c
    lw = torch.cat(logws, 0)
    return torch.logsumexp(lw, 0) - math.log(k)


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean KL of each latent dimension over a data set, shape (D,)."""
    return gaussian_kl(mu.float(), logvar.float()).mean(0)


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """Burda et al.: dimension u is active if Cov_x(E_q[z_u|x]) > threshold. Returns (count, var)."""
    var = mu.float().var(0, unbiased=True) if mu.shape[0] > 1 else torch.zeros(mu.shape[1])
    return int((var > threshold).sum()), var


def bernoulli_entropy_floor(x01: torch.Tensor) -> torch.Tensor:
    """Per-sample sum of the binary entropies of the pixel intensities: the least BCE any model
    can reach on continuous (non-binary) data, so "loss minus floor" is the part a model can fix."""
    p = x01.float().clamp(0, 1)
    h = -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p))
    return h.flatten(1).sum(1)


def is_binary(x: torch.Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())
