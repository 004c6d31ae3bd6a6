import pytest
import torch

from vae_training import objective
from vae_training.config import ModelConfig
from vae_training.model import VAE
from vae_training.presets import PRESETS, preset_config


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_and_trains_a_step(name):
    torch.manual_seed(0)
    mc = preset_config(name)
    model = VAE(mc)
    x = torch.rand(3, *mc.image_shape)
    out, mu, logvar, z = model(x)
    assert out.shape == x.shape and mu.shape == (3, mc.latent_dim) == logvar.shape == z.shape
    r = objective.negative_elbo(model, x)
    r["loss"].backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_tutorial_parameter_names():
    names = set(VAE(preset_config("mlp-400-20")).state_dict())
    assert {"fc1.weight", "fc2_mu.weight", "fc2_logvar.weight", "fc3.weight",
            "fc4.weight"} <= names


@pytest.mark.parametrize("arch,hidden", [("mlp", [64, 32]), ("conv", [8, 16])])
def test_conditional_and_odd_sizes(arch, hidden):
    mc = ModelConfig(arch=arch, hidden=hidden, image_shape=[3, 20, 18], latent_dim=3,
                     num_classes=4, likelihood="gaussian_learned")
    model = VAE(mc)
    x, y = torch.rand(5, 3, 20, 18), torch.tensor([0, 1, 2, 3, 0])
    out, *_ = model(x, y)
    assert out.shape == x.shape
    objective.negative_elbo(model, x, y)["loss"].backward()
    assert model.log_sigma.grad is not None
    with pytest.raises(ValueError, match="labels"):
        model(x)
