"""The one description of a run: model architecture, data and training settings.

Everything here is plain data (dataclasses of ints, floats, strings and lists) so that it
round-trips through JSON into the checkpoint and can be validated *before* a model is
allocated from an untrusted file.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARCHS = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian", "gaussian_learned")
# "unit": pixels scaled to [0, 1]; "symmetric": to [-1, 1] (only valid with a Gaussian likelihood).
PREPROCESS = ("unit", "symmetric")
BINARIZE = ("none", "dynamic")
# The datasets this tool can load (vae_training.data); a checkpoint naming another one is refused.
DATASETS = ("shapes", "shapes-rgb", "mnist", "fashion-mnist", "kmnist", "cifar10", "celeba", "folder")
KERNELS = (3, 4)  # stride-2, padding-1 convs: 3 halves rounding up, 4 rounding down
DECODER_OUTS = ("conv", "deconv")


def default_data_root() -> str:
    """$VAE_DATA_ROOT, else ../shared/datasets if it exists, else ./.data.

    (Here rather than in vae_training.data so that the explorer can show it without importing torch.)
    """
    env = os.environ.get("VAE_DATA_ROOT")
    if env:
        return env
    shared = Path("../shared/datasets")
    return str(shared) if shared.is_dir() else ".data"


# Bounds checked before anything is allocated from a checkpoint someone hands us.
MAX_SIDE = 256
MIN_SIDE = 8
MAX_CHANNELS_IMG = 4
MAX_LATENT = 1024
MAX_WIDTH = 8192
MAX_LAYERS = 8
MAX_CLASSES = 1000
MAX_PARAMS = 200_000_000


class ConfigError(ValueError):
    """A configuration that cannot describe a valid model or run."""


@dataclass
class ModelConfig:
    arch: str = "conv"
    image_shape: list[int] = field(default_factory=lambda: [1, 28, 28])  # C, H, W
    latent_dim: int = 2
    # MLP: hidden layer widths, encoder order. Conv: channels of the stride-2 conv blocks.
    hidden: list[int] = field(default_factory=lambda: [32, 64])
    dense: int = 0  # conv only: width of a dense layer between the conv stack and the latent heads
    batchnorm: bool = False
    likelihood: str = "bernoulli"
    num_classes: int = 0  # > 0 makes a conditional VAE (one-hot label fed to encoder and decoder)
    gaussian_sigma: float = 0.1  # fixed decoder std for likelihood "gaussian" (data units)
    preset: str = ""  # name of the preset this came from, for display only
    # Added after the first release. Rule of the checkpoint format: a field is only ever added
    # with a default that reproduces the old behaviour, so old files open unchanged.
    kernel: int = 3  # conv only: kernel of the stride-2 (transposed) convs, padding 1
    decoder_out: str = "conv"  # conv only: "conv" = a 3x3 conv to image channels after the
    # transposed convs; "deconv" = the last transposed conv produces the image channels
    fc_dec_relu: bool = True  # conv only: ReLU after the decoder's first linear layer

    def validate(self) -> "ModelConfig":
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ConfigError(msg)

        need(self.arch in ARCHS, f"arch must be one of {ARCHS}, got {self.arch!r}")
        need(isinstance(self.image_shape, (list, tuple)) and len(self.image_shape) == 3,
             "image_shape must be [channels, height, width]")
        c, h, w = self.image_shape
        need(all(isinstance(v, int) and not isinstance(v, bool) for v in (c, h, w)),
             "image_shape entries must be integers")
        need(1 <= c <= MAX_CHANNELS_IMG, f"image channels must be 1..{MAX_CHANNELS_IMG}, got {c}")
        need(MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE,
             f"image sides must be {MIN_SIDE}..{MAX_SIDE}, got {h}x{w}")
        need(isinstance(self.latent_dim, int) and 1 <= self.latent_dim <= MAX_LATENT,
             f"latent_dim must be 1..{MAX_LATENT}, got {self.latent_dim}")
        need(isinstance(self.hidden, (list, tuple)) and len(self.hidden) <= MAX_LAYERS,
             f"hidden must be a list of at most {MAX_LAYERS} widths")
        need(all(isinstance(v, int) and 1 <= v <= MAX_WIDTH for v in self.hidden),
             f"hidden widths must be integers 1..{MAX_WIDTH}")
        if self.arch == "conv":
            need(len(self.hidden) >= 1, "a conv model needs at least one conv block in hidden")
            need(min(h, w) >= 2 ** len(self.hidden),
                 f"{len(self.hidden)} stride-2 conv blocks need images of at least "
                 f"{2 ** len(self.hidden)} pixels, got {h}x{w}")
        need(self.kernel in KERNELS, f"kernel must be one of {KERNELS}, got {self.kernel!r}")
        need(self.decoder_out in DECODER_OUTS,
             f"decoder_out must be one of {DECODER_OUTS}, got {self.decoder_out!r}")
        need(isinstance(self.dense, int) and 0 <= self.dense <= MAX_WIDTH, "dense must be 0..8192")
        need(self.likelihood in LIKELIHOODS,
             f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        need(isinstance(self.num_classes, int) and 0 <= self.num_classes <= MAX_CLASSES,
             f"num_classes must be 0..{MAX_CLASSES}")
        need(isinstance(self.gaussian_sigma, (int, float)) and 1e-4 <= self.gaussian_sigma <= 10,
             "gaussian_sigma must be in [1e-4, 10]")
        n = estimate_params(self)
        need(n <= MAX_PARAMS, f"model would have ~{n:,} parameters, over the {MAX_PARAMS:,} limit")
        return self

    @property
    def input_dim(self) -> int:
        c, h, w = self.image_shape
        return c * h * w


def estimate_params(m: ModelConfig) -> int:
    """Parameter count computed from sizes alone (no allocation); log_sigma not counted."""
    c, h, w = m.image_shape
    k = m.num_classes
    if m.arch == "mlp":
        dims = [c * h * w, *m.hidden]
        n = sum((a + (k if i == 0 else 0)) * b + b for i, (a, b) in enumerate(zip(dims, dims[1:])))
        last = dims[-1]
        n += 2 * (last * m.latent_dim + m.latent_dim)
        rev = [m.latent_dim + k, *reversed(m.hidden), c * h * w]
        n += sum(a * b + b for a, b in zip(rev, rev[1:]))
        return n
    ks, ch = m.kernel, list(m.hidden)
    bn = 2 if m.batchnorm else 0

    def convs(ins: list[int], outs: list[int]) -> int:
        return sum(ks * ks * a * b + b + bn * b for a, b in zip(ins, outs))

    n = convs([c + k, *ch[:-1]], ch)
    sh, sw = h, w
    for _ in ch:
        sh, sw = (sh + 2 - ks) // 2 + 1, (sw + 2 - ks) // 2 + 1
    flat = ch[-1] * sh * sw
    feat = m.dense or flat
    if m.dense:
        n += flat * m.dense + m.dense
    n += 2 * (feat * m.latent_dim + m.latent_dim) + (m.latent_dim + k) * flat + flat
    if m.decoder_out == "deconv":
        outs = [*reversed(ch[:-1]), c]
        n += convs([ch[-1], *outs[:-1]], outs) - bn * c
    else:
        outs = list(reversed(ch))
        n += convs([ch[-1], *outs[:-1]], outs) + 9 * ch[0] * c + c
    return n


@dataclass
class DataConfig:
    dataset: str = "shapes"
    image_shape: list[int] = field(default_factory=lambda: [1, 28, 28])
    label_names: list[str] = field(default_factory=list)
    preprocess: str = "unit"
    binarize: str = "none"
    train_size: int = 0
    test_size: int = 0

    def validate(self) -> "DataConfig":
        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {str(self.dataset)[:80]!r}; this tool knows: "
                              f"{', '.join(DATASETS)}")
        if self.preprocess not in PREPROCESS:
            raise ConfigError(f"preprocess must be one of {PREPROCESS}, got {self.preprocess!r}")
        if self.binarize not in BINARIZE:
            raise ConfigError(f"binarize must be one of {BINARIZE}, got {self.binarize!r}")
        if not isinstance(self.label_names, list) or len(self.label_names) > MAX_CLASSES or not all(
            isinstance(s, str) and len(s) <= 200 for s in self.label_names
        ):
            raise ConfigError("label_names must be a list of at most 1000 short strings")
        return self


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    beta: float = 1.0
    warmup_epochs: float = 0.0  # linear KL warm-up from 0 to beta over this many epochs
    free_bits: float = 0.0  # nats per latent dimension below which KL is not penalised
    seed: int = 0
    device: str = "auto"
    compile: bool = False
    threads: int = 0  # 0: pick automatically
    precision: str = ""  # "fp32" | "bf16" as the run used it; "": not recorded (older files)
    neighbour_weight: float = 0.0  # parametric-UMAP term on the latent means; 0: a plain VAE
    neighbour_k: int = 15  # neighbours per image in the data's fuzzy k-NN graph
    neighbour_scale: float = 5.0  # latent distance x this = UMAP's distance (see neighbour_graph)
    neighbour_edges: int = 4  # graph edges drawn per training image in a batch
    iw_samples: int = 0  # k of the importance-weighted bound at the end of training; 0: skip
    iw_train: int = 1  # importance samples per image in the training bound; 1: the ELBO (IWAE: > 1)
    init_from: str = ""  # the checkpoint whose weights started this run (--init-from); "": none
    data_root: str = ""
    out: str = ""


def to_dict(obj: Any) -> dict:
    return dataclasses.asdict(obj)


def from_dict(cls, d: Any):
    """Build a config dataclass from untrusted JSON, rejecting unknown or mistyped fields."""
    if not isinstance(d, dict):
        raise ConfigError(f"{cls.__name__} must be a JSON object")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(names)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} fields: {sorted(unknown)[:10]}: this file was "
                          f"written by a newer version of this tool; update it to open the file")
    kwargs = {}
    for k, v in d.items():
        default = getattr(cls(), k)
        if isinstance(default, bool):
            ok = isinstance(v, bool)
        elif isinstance(default, int):
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif isinstance(default, float):
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        elif isinstance(default, str):
            ok = isinstance(v, str) and len(v) <= 4096
        elif isinstance(default, list):
            ok = isinstance(v, list)
        else:
            ok = True
        if not ok:
            raise ConfigError(f"{cls.__name__}.{k} has the wrong type: {type(v).__name__}")
        kwargs[k] = float(v) if isinstance(default, float) else v
    obj = cls(**kwargs)
    return obj.validate() if hasattr(obj, "validate") else obj
