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


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_the_latent_path_stays_fp32_under_bf16_autocast(arch):
    # bf16 rounds a code to ~3 significant digits, coarse beside a posterior's spread: the heads,
    # the noise and the decoder's first layer run in fp32; the rest of the network in bf16
    m = VAE(ModelConfig(arch=arch, image_shape=[1, 28, 28], hidden=[16, 32] if arch == "conv"
                        else [64], latent_dim=4))
    x = torch.rand(8, 1, 28, 28)
    seen = {}
    first = m.fc_dec if arch == "conv" else m.fc3
    first.register_forward_hook(lambda mod, inp, out: seen.update(dec_in=inp[0].dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mu, logvar = m.encode(x)
        out = m.decode(m.reparameterize(mu, logvar))
    assert mu.dtype == logvar.dtype == torch.float32
    assert seen["dec_in"] == torch.float32
    assert out.dtype == torch.bfloat16  # the rest still runs in bf16
    # and without autocast nothing changes
    mu2, _ = m.encode(x)
    assert mu2.dtype == torch.float32
