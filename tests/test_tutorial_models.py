"""The tutorial VAEs, re-implemented as their tutorials write them, convert without --preset and
give the same outputs as their own classes (issue 10)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vae_training.checkpoint import load_checkpoint
from vae_training.convert import main


class _Reparam(nn.Module):
    def forward(self, x):
        mu, logvar = self.encode(x)
        return self.decode(mu), mu, logvar


class ExamplesVAE(_Reparam):  # pytorch/examples vae/main.py
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h = F.relu(self.fc1(x.view(-1, 784)))
        return self.fc21(h), self.fc22(h)

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))


class NestedFC(_Reparam):  # layout 1, with a width other than the tutorial's 400
    def __init__(self, hidden=300, latent=12):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.fc1 = nn.Linear(784, hidden)
        self.encoder.fc2_mu = nn.Linear(hidden, latent)
        self.encoder.fc2_logvar = nn.Linear(hidden, latent)
        self.decoder = nn.Module()
        self.decoder.fc3 = nn.Linear(latent, hidden)
        self.decoder.fc4 = nn.Linear(hidden, 784)

    def encode(self, x):
        h = F.relu(self.encoder.fc1(x.view(-1, 784)))
        return self.encoder.fc2_mu(h), self.encoder.fc2_logvar(h)

    def decode(self, z):
        return torch.sigmoid(self.decoder.fc4(F.relu(self.decoder.fc3(z))))


class Encoder2(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(784, 256)
        self.mu = nn.Linear(256, 20)
        self.var = nn.Linear(256, 20)


class Decoder2(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(20, 256)
        self.out = nn.Linear(256, 784)


class NestedLinear(_Reparam):  # layout 2
    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = Encoder2(), Decoder2()

    def encode(self, x):
        h = F.relu(self.encoder.linear(x.view(-1, 784)))
        return self.encoder.mu(h), self.encoder.var(h)

    def decode(self, z):
        return torch.sigmoid(self.decoder.out(F.relu(self.decoder.linear(z))))


class FlatPrefixed(_Reparam):  # layout 3
    def __init__(self):
        super().__init__()
        self.encoder_fc1 = nn.Linear(784, 400)
        self.encoder_fc_mu = nn.Linear(400, 20)
        self.encoder_fc_logvar = nn.Linear(400, 20)
        self.decoder_fc1 = nn.Linear(20, 400)
        self.decoder_fc2 = nn.Linear(400, 784)

    def encode(self, x):
        h = F.relu(self.encoder_fc1(x.view(-1, 784)))
        return self.encoder_fc_mu(h), self.encoder_fc_logvar(h)

    def decode(self, z):
        return torch.sigmoid(self.decoder_fc2(F.relu(self.decoder_fc1(z))))


class SequentialMLP(_Reparam):  # layout 4
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU())
        self.fc_mu = nn.Linear(256, 2)
        self.fc_logvar = nn.Linear(256, 2)
        self.decoder = nn.Sequential(nn.Linear(2, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
                                     nn.Linear(512, 784), nn.Sigmoid())

    def encode(self, x):
        h = self.encoder(x.view(-1, 784))
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return self.decoder(z)


class ConvK4(_Reparam):  # layout 5, with the output_padding=1 fix (3 -> 7 -> 14 -> 28)
    def __init__(self):
        super().__init__()
        self.encoder_conv = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(64, 128, 4, 2, 1), nn.ReLU())
        self.fc_mu = nn.Linear(128 * 3 * 3, 128)
        self.fc_logvar = nn.Linear(128 * 3 * 3, 128)
        self.decoder_fc = nn.Linear(128, 128 * 3 * 3)
        self.decoder_conv = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, 2, 1), nn.Sigmoid())

    def encode(self, x):
        h = self.encoder_conv(x).view(x.size(0), -1)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return self.decoder_conv(self.decoder_fc(z).view(-1, 128, 3, 3))


class CelebaConv(_Reparam):  # layout 6
    def __init__(self):
        super().__init__()
        enc, prev = [], 3
        for ch in (32, 64, 128, 256):
            enc += [nn.Conv2d(prev, ch, 4, 2, 1), nn.BatchNorm2d(ch), nn.ReLU()]
            prev = ch
        self.encoder = nn.Sequential(*enc)
        self.fc_mu = nn.Linear(256 * 4 * 4, 256)
        self.fc_logvar = nn.Linear(256 * 4 * 4, 256)
        self.decoder_fc = nn.Linear(256, 256 * 4 * 4)
        dec = []
        for a, b in ((256, 128), (128, 64), (64, 32)):
            dec += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.BatchNorm2d(b), nn.ReLU()]
        self.decoder = nn.Sequential(*dec, nn.ConvTranspose2d(32, 3, 4, 2, 1), nn.Sigmoid())

    def encode(self, x):
        h = self.encoder(x).view(x.size(0), -1)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return self.decoder(self.decoder_fc(z).view(-1, 256, 4, 4))


def _randomise_bn(model):
    """Non-trivial running statistics, so eval-mode BatchNorm is really compared."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


CASES = [  # class, image shape, layout name, dataset argument (None: from the image size)
    (ExamplesVAE, (1, 28, 28), "pytorch-examples", "mnist"),
    (NestedFC, (1, 28, 28), "nested-fc", "fashion-mnist"),
    (NestedLinear, (1, 28, 28), "nested-linear", "mnist"),
    (FlatPrefixed, (1, 28, 28), "flat-prefixed", "kmnist"),
    (SequentialMLP, (1, 28, 28), "sequential-mlp", "mnist"),
    (ConvK4, (1, 28, 28), "conv-k4", "mnist"),
    (CelebaConv, (3, 64, 64), "conv-k4-seq", None),
]


@pytest.mark.parametrize("cls,shape,layout,dataset", CASES, ids=[c[2] for c in CASES])
def test_tutorial_model_converts_without_preset_and_matches(tmp_path, capsys, cls, shape, layout,
                                                            dataset):
    torch.manual_seed(0)
    tut = cls()
    _randomise_bn(tut)
    tut.eval()
    src = tmp_path / "model.pth"
    torch.save(tut.state_dict(), src)
    out = tmp_path / "m.safetensors"
    args = [str(src), "--out", str(out)] + (["--dataset", dataset] if dataset else [])
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"recognised layout {layout}" in printed and "assumed: Activations" in printed
    ck = load_checkpoint(out)
    assert list(ck.model_config.image_shape) == list(shape)
    x = torch.rand(4, *shape)
    with torch.no_grad():
        mu_t, lv_t = tut.encode(x)
        mu, lv = ck.model.encode(x)
        torch.testing.assert_close(mu, mu_t, atol=1e-5, rtol=0)
        torch.testing.assert_close(lv, lv_t, atol=1e-5, rtol=0)
        z = torch.randn(4, ck.model_config.latent_dim)
        img = ck.model.mean_image(z)
        assert img.shape == (4, *shape)
        torch.testing.assert_close(img, tut.decode(z).view(4, *shape), atol=1e-5, rtol=0)
    conv = ck.info["converted"]
    assert conv["layout"] == layout and conv["assumptions"][0].startswith("Activations")
    assert ck.info["description"].startswith("Converted from model.pth")
    assert ck.data.preprocess == "unit" and ck.model_config.likelihood == "bernoulli"


def test_layout5_geometry_and_layout2_data_range_are_stated(tmp_path):
    for cls, words in ((ConvK4, "output_padding"), (NestedLinear, "[-1, 1]")):
        src = tmp_path / f"{cls.__name__}.pth"
        torch.save(cls().state_dict(), src)
        out = tmp_path / f"{cls.__name__}.safetensors"
        assert main([str(src), "--dataset", "mnist", "--out", str(out)]) == 0
        desc = load_checkpoint(out).info["description"]
        assert words in desc
    assert "3 -> 7 -> 14 -> 28" in load_checkpoint(tmp_path / "ConvK4.safetensors").info[
        "description"]


def test_celeba_dataset_is_taken_from_the_shape_but_mnist_like_must_be_named(tmp_path, capsys):
    src = tmp_path / "m.pth"
    torch.save(NestedFC().state_dict(), src)
    assert main([str(src), "--out", str(tmp_path / "o.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "pass --dataset (mnist, fashion-mnist, kmnist)" in err
    assert not (tmp_path / "o.safetensors").exists()


def test_wrapper_prefixes_are_dropped(tmp_path):
    sd = {f"module.{k}": v for k, v in SequentialMLP().state_dict().items()}
    src = tmp_path / "dp.pth"
    torch.save(sd, src)
    assert main([str(src), "--dataset", "mnist", "--out", str(tmp_path / "o.safetensors")]) == 0


@pytest.mark.parametrize("cls,preset", [(ConvK4, "conv-32-64-128"), (CelebaConv, "celeba-conv-256"),
                                        (NestedLinear, "mlp-256-20"),
                                        (SequentialMLP, "mlp-512-256-2")])
def test_the_matching_preset_can_be_forced(tmp_path, capsys, cls, preset):
    src = tmp_path / "m.pth"
    torch.save(cls().state_dict(), src)
    out = tmp_path / "m.safetensors"
    assert main([str(src), "--preset", preset, "--dataset", "mnist", "--out", str(out)]) == 0
    assert load_checkpoint(out).model_config.preset == preset
