"""Named architectures, including those of the well-known VAE tutorials.

Each preset is a partial ModelConfig; the trainer fills in image shape and likelihood from
the data unless the preset fixes them.
"""
from __future__ import annotations

from .config import ModelConfig

PRESETS: dict[str, dict] = {
    # PyTorch's examples/vae: 784-400-20 MLP (fc1, fc2_mu, fc2_logvar, fc3, fc4).
    "mlp-400-20": dict(arch="mlp", hidden=[400], latent_dim=20, image_shape=[1, 28, 28]),
    # A common smaller variant: one hidden layer of 256 units, 20-D latent.
    "mlp-256-20": dict(arch="mlp", hidden=[256], latent_dim=20, image_shape=[1, 28, 28]),
    # The two-hidden-layer MLP with a 2-D latent for plotting the latent plane.
    "mlp-512-256-2": dict(arch="mlp", hidden=[512, 256], latent_dim=2, image_shape=[1, 28, 28]),
    # Convolutional VAE with 32-64-128 channels and a 128-D latent for 28x28 images, as the
    # tutorial writes it: 4x4 kernels, the last transposed conv makes the image, no ReLU after
    # decoder_fc (vae_training/layouts.py "conv-k4"); 28 -> 14 -> 7 -> 3 -> 7 -> 14 -> 28.
    "conv-32-64-128": dict(arch="conv", hidden=[32, 64, 128], latent_dim=128, kernel=4,
                           decoder_out="deconv", fc_dec_relu=False, image_shape=[1, 28, 28]),
    # The Keras example: conv 32/64 stride 2, dense 16, 2-D latent.
    "keras-conv-2d": dict(arch="conv", hidden=[32, 64], dense=16, latent_dim=2,
                          image_shape=[1, 28, 28]),
    # 64x64 RGB convolutional VAE with BatchNorm and a 256-D latent (CelebA), 4x4 kernels as in
    # the tutorial (vae_training/layouts.py "conv-k4-seq").
    "celeba-conv-256": dict(arch="conv", hidden=[32, 64, 128, 256], batchnorm=True, kernel=4,
                            decoder_out="deconv", fc_dec_relu=False, latent_dim=256,
                            image_shape=[3, 64, 64]),
}


def preset_config(name: str, **overrides) -> ModelConfig:
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose from: {', '.join(PRESETS)}")
    fields = {**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
    return ModelConfig(preset=name, **fields).validate()
