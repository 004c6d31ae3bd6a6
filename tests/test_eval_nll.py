"""The evaluation's Bernoulli NLL (objective.bernoulli_nll under torch.inference_mode) agrees with
the code path it replaced (F.binary_cross_entropy_with_logits under torch.no_grad)."""
import torch
import torch.nn.functional as F

from vae_training import evaluate, objective
from vae_training.config import ModelConfig
from vae_training.model import VAE

TOL = 1e-3  # nats per image


def old_bernoulli_nll(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def small_model_and_data():
    torch.manual_seed(0)
    m = VAE(ModelConfig(arch="mlp", hidden=[32], latent_dim=4, image_shape=[1, 12, 12],
                        likelihood="bernoulli").validate()).eval()
    with torch.no_grad():  # confident logits far from 0, where log and log1p differ most
        for p in m.parameters():
            p.mul_(6.0)
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (96, 1, 12, 12), generator=g, dtype=torch.uint8)
    images[:48] = (images[:48] > 127).to(torch.uint8) * 255  # binary and continuous pixels
    return m, images, torch.zeros(96, dtype=torch.int64)


def test_bernoulli_nll_matches_bce_with_logits_for_extreme_logits():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(16, 1, 28, 28, generator=g) * 40  # saturated: |l| up to ~150
    x = torch.rand(16, 1, 28, 28, generator=g)
    x[:8] = (x[:8] > 0.5).float()
    new = objective.bernoulli_nll(logits, x)
    assert (new - old_bernoulli_nll(logits, x)).abs().max() < TOL
    with torch.inference_mode():  # what evaluation calls
        assert torch.equal(objective.recon_nll(logits, x, "bernoulli"), new)


def test_test_elbo_within_tolerance_of_the_old_path(monkeypatch):
    m, images, labels = small_model_and_data()
    new = evaluate.test_elbo(m, images, labels, "unit", torch.device("cpu"), seed=3, batch_size=40)
    monkeypatch.setattr(objective, "bernoulli_nll", old_bernoulli_nll)
    with torch.no_grad():
        old = evaluate.test_elbo.__wrapped__(m, images, labels, "unit", torch.device("cpu"),
                                             seed=3, batch_size=40)
    assert old["test_recon"] > 50  # the logits are far from 0: a real test of the tolerance
    for key in ("test_loss", "test_recon", "test_kl"):
        assert abs(new[key] - old[key]) < TOL, key


def test_iw_bound_within_tolerance_of_the_old_path(monkeypatch):
    m, images, _ = small_model_and_data()
    x = images.float() / 255
    new = objective.iw_log_likelihood(m, x, k=50, generator=torch.Generator().manual_seed(4))
    monkeypatch.setattr(objective, "bernoulli_nll", old_bernoulli_nll)
    with torch.no_grad():
        old = objective.iw_log_likelihood.__wrapped__(
            m, x, k=50, generator=torch.Generator().manual_seed(4))
    assert (new - old).abs().max() < TOL


def test_training_continues_after_an_inference_mode_test_pass():
    m, images, labels = small_model_and_data()
    evaluate.test_elbo(m, images, labels, "unit", torch.device("cpu"))
    m.train()
    x = images[:8].float() / 255
    loss = objective.negative_elbo(m, x)["loss"]
    loss.backward()  # weights and buffers are not inference tensors
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad)
