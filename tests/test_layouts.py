import pytest
import torch

from vae_training.checkpoint import CheckpointError, build_metadata, load_checkpoint, save_checkpoint
from vae_training.config import (ConfigError, DataConfig, ModelConfig, TrainConfig, estimate_params,
                             from_dict, to_dict)
from vae_training.convert import ConversionError, convert
from vae_training.layouts import LayoutError, recognise
from vae_training.model import VAE, count_parameters


def test_new_fields_default_to_the_old_model():
    old = {k: v for k, v in to_dict(ModelConfig(arch="conv", hidden=[8, 16])).items()
           if k not in ("kernel", "decoder_out", "fc_dec_relu")}
    mc = from_dict(ModelConfig, old)
    assert (mc.kernel, mc.decoder_out, mc.fc_dec_relu) == (3, "conv", True)
    names = list(VAE(mc).state_dict())
    assert names[:2] == ["encoder.0.weight", "encoder.0.bias"] and "decoder.4.weight" in names


def test_unknown_fields_say_a_newer_version_wrote_the_file(tmp_path):
    with pytest.raises(ConfigError, match="newer version of this tool"):
        from_dict(ModelConfig, {**to_dict(ModelConfig()), "attention": True})
    mc = ModelConfig(arch="mlp", hidden=[8], latent_dim=2)
    doc = build_metadata(mc, DataConfig(), TrainConfig())
    doc["model"]["attention"] = True
    save_checkpoint(tmp_path / "new.safetensors", VAE(mc), doc)
    with pytest.raises(CheckpointError, match="newer version of this tool"):
        load_checkpoint(tmp_path / "new.safetensors")


@pytest.mark.parametrize("kw", [dict(kernel=4, decoder_out="deconv"),
                                dict(kernel=4, batchnorm=True, decoder_out="deconv"),
                                dict(kernel=3, decoder_out="deconv"),
                                dict(kernel=3, batchnorm=True, dense=10)])
def test_kernel4_and_deconv_decoders_reproduce_the_image_size(kw):
    mc = ModelConfig(arch="conv", hidden=[8, 16, 32], latent_dim=3, **kw).validate()
    m = VAE(mc).eval()
    assert m.mean_image(torch.zeros(2, 3)).shape == (2, 1, 28, 28)
    assert estimate_params(mc) == count_parameters(m)


def test_bad_kernel_and_decoder_out_are_refused():
    with pytest.raises(ConfigError, match="kernel"):
        ModelConfig(kernel=5).validate()
    with pytest.raises(ConfigError, match="decoder_out"):
        ModelConfig(decoder_out="upsample").validate()


def test_sizes_are_read_from_shapes_not_fixed():
    mc = ModelConfig(arch="mlp", hidden=[123], latent_dim=7)
    sd = VAE(mc).state_dict()
    nested = {k.replace("fc1.", "encoder.fc1.").replace("fc2_", "encoder.fc2_")
              .replace("fc3.", "decoder.fc3.").replace("fc4.", "decoder.fc4."): v
              for k, v in sd.items()}
    m = recognise(nested)
    assert m.layout.name == "nested-fc" and m.config.hidden == [123] and m.config.latent_dim == 7


def test_unrecognised_file_names_the_closest_layouts_and_the_differences(tmp_path):
    sd = {"encoder.linear.weight": torch.zeros(256, 784), "encoder.linear.bias": torch.zeros(256),
          "encoder.mu.weight": torch.zeros(20, 256), "encoder.mu.bias": torch.zeros(20),
          "encoder.sigma.weight": torch.zeros(20, 256), "encoder.sigma.bias": torch.zeros(20),
          "decoder.linear.weight": torch.zeros(256, 20), "decoder.linear.bias": torch.zeros(256),
          "decoder.out.weight": torch.zeros(784, 256), "decoder.out.bias": torch.zeros(784)}
    with pytest.raises(LayoutError) as e:
        recognise(sd)
    msg = str(e.value)
    first = msg.splitlines()[1]
    assert first.startswith("- nested-linear") and "67% of names in common" in first
    assert "missing: encoder.var.bias, encoder.var.weight" in msg
    assert "unexpected: encoder.sigma.bias, encoder.sigma.weight" in msg
    assert msg.count("\n- ") == 3
    src = tmp_path / "odd.pth"
    torch.save(sd, src)
    with pytest.raises(ConversionError, match="odd.pth: none of the known layouts fits"):
        convert(src, None, "mnist", tmp_path / "o.safetensors")


def test_wrong_shape_is_reported_in_the_files_names():
    sd = {"fc1.weight": torch.zeros(400, 784), "fc1.bias": torch.zeros(400),
          "fc21.weight": torch.zeros(20, 400), "fc21.bias": torch.zeros(20),
          "fc22.weight": torch.zeros(20, 400), "fc22.bias": torch.zeros(20),
          "fc3.weight": torch.zeros(400, 10), "fc3.bias": torch.zeros(400),
          "fc4.weight": torch.zeros(784, 400), "fc4.bias": torch.zeros(784)}
    with pytest.raises(LayoutError) as e:
        recognise(sd)
    assert "- pytorch-examples" in str(e.value).splitlines()[1]
    assert "wrong shape: fc3.weight: file (400, 10) vs layout (400, 20)" in str(e.value)


@pytest.mark.parametrize("kw", [dict(arch="mlp", hidden=[64, 32], latent_dim=3),
                                dict(arch="conv", hidden=[8, 16], dense=12, latent_dim=2),
                                dict(arch="conv", hidden=[8, 16], batchnorm=True, latent_dim=4,
                                     image_shape=[3, 32, 32])])
def test_our_own_state_dicts_are_recognised(kw):
    mc = ModelConfig(**kw)
    m = recognise(VAE(mc).state_dict())
    assert m.layout.name.startswith("ours") and m.config == mc
    assert all(a == b for a, b in m.rename.items())
