import math

import pytest
import torch
import torch.nn.functional as F

from vae_training import objective
from vae_training.config import ModelConfig
from vae_training.model import VAE


def test_data_range_bug_is_refused_with_the_fix():
    x = torch.rand(4, 1, 28, 28) * 2 - 1  # Normalize((0.5,), (0.5,)) data
    x[0, 0, 0, 0], x[0, 0, 0, 1] = -1.0, 1.0
    with pytest.raises(objective.DataRangeError) as e:
        objective.check_data_range(x, "bernoulli")
    assert str(e.value) == ("Bernoulli likelihood needs pixels in [0, 1] but the data spans "
                            "[-1.0, 1.0]: use --preprocess unit, or --likelihood gaussian")
    objective.check_data_range(x, "gaussian")
    objective.check_data_range(torch.rand(4, 1, 28, 28), "bernoulli")


def test_bernoulli_matches_manual_bce_and_the_entropy_floor():
    logits = torch.randn(2, 1, 4, 4)
    x = torch.rand(2, 1, 4, 4)
    manual = -(x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits)))
    assert torch.allclose(objective.recon_nll(logits, x, "bernoulli"),
                          manual.flatten(1).sum(1), atol=1e-4)
    # the best possible logits (logit(x)) reach exactly the entropy floor; nothing gets lower
    best = torch.logit(x.clamp(1e-6, 1 - 1e-6))
    floor = objective.bernoulli_entropy_floor(x)
    assert torch.allclose(objective.recon_nll(best, x, "bernoulli"), floor, atol=1e-3)
    assert (objective.recon_nll(logits, x, "bernoulli") > floor).all()
    assert objective.bernoulli_entropy_floor(torch.tensor([[0.0, 1.0]])).item() == 0.0


def test_gaussian_nll():
    x, mean = torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.5)
    nll = objective.recon_nll(mean, x, "gaussian", math.log(0.5))
    expect = 4 * (0.5 * 1.0 + math.log(0.5) + 0.5 * math.log(2 * math.pi))
    assert nll.item() == pytest.approx(expect, rel=1e-6)


def test_kl_and_free_bits_and_warmup():
    assert objective.gaussian_kl(torch.zeros(1, 3), torch.zeros(1, 3)).abs().max() == 0
    mu, logvar = torch.tensor([[1.0]]), torch.tensor([[math.log(4.0)]])
    assert objective.gaussian_kl(mu, logvar).item() == pytest.approx(0.5 * (1 + 4 - 1 - math.log(4)))
    assert objective.kl_weight(2.0, 4, 1.0) == 0.5
    assert objective.kl_weight(2.0, 4, 10.0) == 2.0
    assert objective.kl_weight(2.0, 0, 0.0) == 2.0
    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="mlp", hidden=[16], latent_dim=4, image_shape=[1, 8, 8]))
    x = torch.rand(8, 1, 8, 8)
    eps = torch.randn(8, 4)
    plain = objective.negative_elbo(model, x, noise=eps)
    fb = objective.negative_elbo(model, x, free_bits=5.0, noise=eps)
    # an untrained encoder has tiny KL: every dimension is lifted to the floor
    assert fb["loss"].item() == pytest.approx(plain["recon"].item() + 4 * 5.0, rel=1e-5)
    assert fb["kl"].item() == pytest.approx(plain["kl"].item())
    zero = objective.negative_elbo(model, x, beta=0.0, noise=eps)
    assert zero["loss"].item() == pytest.approx(plain["recon"].item())


def test_importance_weighted_bound_is_tighter_than_elbo():
    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="mlp", hidden=[32], latent_dim=2, image_shape=[1, 8, 8])).eval()
    x = torch.rand(16, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        elbo = torch.stack([-objective.negative_elbo(model, x)["recon_per_sample"]
                            - objective.negative_elbo(model, x)["kl_per_sample"]
                            for _ in range(50)]).mean(0)
        iw1 = objective.iw_log_likelihood(model, x, k=1, generator=g)
        iw = objective.iw_log_likelihood(model, x, k=200, generator=g)
        iw_chunked = objective.iw_log_likelihood(model, x, k=200, chunk=7,
                                                 generator=torch.Generator().manual_seed(3))
    assert iw.shape == (16,)
    assert iw.mean() > elbo.mean()
    assert abs(iw1.mean() - elbo.mean()) < 5  # k = 1 is just an ELBO sample
    assert torch.allclose(iw, iw_chunked, atol=1.0)


def test_active_units_and_kl_per_dimension():
    mu = torch.cat([torch.randn(500, 2), torch.full((500, 1), 0.3), 0.05 * torch.randn(500, 1)], 1)
    n, var = objective.active_units(mu)
    assert n == 2 and var.shape == (4,)
    kl = objective.kl_per_dimension(mu, torch.zeros_like(mu))
    assert kl.shape == (4,) and kl[0] > kl[3]


def test_training_bernoulli_nll_matches_bce_with_logits_in_value_and_gradient():
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(8, 1, 28, 28, generator=g) * 6).requires_grad_()
    x = torch.rand(8, 1, 28, 28, generator=g)
    x[:4] = (x[:4] > 0.5).float()  # binary and continuous targets
    fast = objective.recon_nll(logits, x, "bernoulli")  # requires grad: the fused path
    ref = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    assert torch.allclose(fast, ref, rtol=1e-5, atol=1e-3)
    w = torch.arange(1.0, 9.0)
    (gf,) = torch.autograd.grad((fast * w).sum(), logits)
    (gr,) = torch.autograd.grad((ref * w).sum(), logits)
    assert torch.allclose(gf, gr, atol=1e-6)
