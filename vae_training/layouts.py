"""Recognise a tutorial's state_dict from its parameter names and shapes alone.

A layout is a mapping between a tutorial's module names and ours (checkpoints always keep our
VAE's names) plus a reader that takes the sizes (input, hidden widths, latent, channels, kernel,
BatchNorm) from the file's shapes, so a layout fits any widths, not only the tutorial's.
A state_dict records no activations: every layout assumes ReLU inside and a sigmoid output
(Bernoulli decoder, BCE), as the tutorials do; `notes` says what else was assumed.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Callable

from .config import ConfigError, ModelConfig

ACTIVATIONS = ("Activations are not stored in a state_dict: assumed ReLU between layers and a "
               "sigmoid output (Bernoulli decoder trained with BCE), as in the tutorials.")


class LayoutError(ValueError):
    """The state_dict does not fit any known layout (the message says which came closest)."""


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    # Our module prefix -> the tutorial's, for a given config (e.g. "fc2_mu" -> "encoder.mu").
    prefixes: Callable[[ModelConfig], dict[str, str]]
    # Candidate configs read from the file's shapes (KeyError / IndexError when names are absent).
    sizes: Callable[[dict], list[ModelConfig]]
    example: ModelConfig  # the tutorial's own sizes, to compare names when sizes cannot be read
    notes: tuple[str, ...] = field(default=())


@dataclass
class Match:
    layout: Layout
    config: ModelConfig
    rename: dict[str, str]  # the file's name -> ours, for every tensor
    notes: list[str]


def strip_wrappers(state: dict) -> dict:
    """Drop a leading "module." (DataParallel) or "_orig_mod." (torch.compile) from each name."""
    return {re.sub(r"^(module\.|_orig_mod\.)+", "", k): v for k, v in state.items()}


def _shape(state: dict, name: str) -> tuple[int, ...]:
    return tuple(int(s) for s in state[name].shape)


def image_shape_of(d: int) -> list[int]:
    """A flat input size as an image: 784 -> 1x28x28, 12288 -> 3x64x64 (square images only)."""
    for c in (1, 3):
        side = math.isqrt(d // c)
        if d % c == 0 and side * side * c == d:
            return [c, side, side]
    raise KeyError(f"input size {d} is not a square grey or RGB image")


# -- MLPs ----------------------------------------------------------------------------------------
def _mlp_names(n: int) -> list[str]:
    """Our MLP module names in order: encoder layers, mu, logvar, decoder layers."""
    return ([f"fc{i + 1}" for i in range(n)] + [f"fc{n + 1}_mu", f"fc{n + 1}_logvar"]
            + [f"fc{n + 2 + i}" for i in range(n + 1)])


def _mlp_config(d: int, hidden: list[int], latent: int) -> list[ModelConfig]:
    return [ModelConfig(arch="mlp", image_shape=image_shape_of(d), hidden=hidden,
                        latent_dim=latent)]


def _one_hidden(enc: str, mu: str) -> Callable[[dict], list[ModelConfig]]:
    def read(s: dict) -> list[ModelConfig]:
        h, d = _shape(s, f"{enc}.weight")
        return _mlp_config(d, [h], _shape(s, f"{mu}.weight")[0])
    return read


def _one_hidden_layout(name: str, title: str, theirs: list[str], notes=()) -> Layout:
    return Layout(name, title, lambda mc: dict(zip(_mlp_names(1), theirs)),
                  _one_hidden(theirs[0], theirs[1]),
                  ModelConfig(arch="mlp", hidden=[400], latent_dim=20), tuple(notes))


def _ours_mlp(s: dict) -> list[ModelConfig]:
    n = 0
    while f"fc{n + 1}_mu.weight" not in s:
        n += 1
        if n > 8:
            raise KeyError("fc*_mu")
    hidden = [_shape(s, f"fc{i + 1}.weight")[0] for i in range(n)]
    d = _shape(s, "fc1.weight")[1] if n else _shape(s, f"fc{n + 1}_mu.weight")[1]
    return _mlp_config(d, hidden, _shape(s, f"fc{n + 1}_mu.weight")[0])


def _seq_mlp(s: dict) -> list[ModelConfig]:
    hidden, i = [], 0
    while f"encoder.{i}.weight" in s and len(_shape(s, f"encoder.{i}.weight")) == 2:
        hidden.append(_shape(s, f"encoder.{i}.weight")[0])
        i += 2
    if not hidden:
        raise KeyError("encoder.0.weight")
    return _mlp_config(_shape(s, "encoder.0.weight")[1], hidden, _shape(s, "fc_mu.weight")[0])


def _seq_mlp_prefixes(mc: ModelConfig) -> dict[str, str]:
    n = len(mc.hidden)
    theirs = ([f"encoder.{2 * i}" for i in range(n)] + ["fc_mu", "fc_logvar"]
              + [f"decoder.{2 * i}" for i in range(n + 1)])
    return dict(zip(_mlp_names(n), theirs))


# -- conv ----------------------------------------------------------------------------------------
# Tutorials give the image side only implicitly: the sides below are tried in order and the
# first whose conv stack ends at the file's feature-map size is taken (28 for MNIST-like).
_SIDES = {1: (28, 32, 64), 3: (64, 32, 128, 28)}


def _conv_sizes(enc: str, state: dict) -> tuple[list[int], int, int, bool]:
    """(channels, image channels, kernel, batchnorm) of the stride-2 convs of Sequential enc."""
    idx = sorted(int(m.group(1)) for k in state
                 if (m := re.fullmatch(rf"{re.escape(enc)}\.(\d+)\.weight", k))
                 and len(state[k].shape) == 4)
    if not idx:
        raise KeyError(f"{enc}.0.weight")
    shapes = [_shape(state, f"{enc}.{i}.weight") for i in idx]
    bn = f"{enc}.{idx[0] + 1}.running_mean" in state
    return [s[0] for s in shapes], shapes[0][1], shapes[0][2], bn


def _conv_reader(enc: str, **fixed) -> Callable[[dict], list[ModelConfig]]:
    from .model import conv_sizes

    variants = fixed.pop("_variants", [{}])  # configs the names alone cannot tell apart

    def read(s: dict) -> list[ModelConfig]:
        ch, c, k, bn = _conv_sizes(enc, s)
        latent, flat = _shape(s, "fc_mu.weight")
        dense = 0
        if "fc_dense.weight" in s:
            dense, flat = _shape(s, "fc_dense.weight")
            latent = _shape(s, "fc_mu.weight")[0]
        side = math.isqrt(max(flat // ch[-1], 0))
        sides = [h for h in _SIDES.get(c, ()) if conv_sizes(h, len(ch), k)[-1] == side]
        sides = sides or [side * 2 ** len(ch)]
        return [ModelConfig(arch="conv", image_shape=[c, h, h], hidden=ch, latent_dim=latent,
                            kernel=k, batchnorm=bn, dense=dense, **{**fixed, **extra})
                for h in sides for extra in variants]
    return read


def _conv_prefixes(enc: str, dec: str, fc_dec: str):
    def prefixes(mc: ModelConfig) -> dict[str, str]:
        from .checkpoint import expected_tensors

        out = {"fc_mu": "fc_mu", "fc_logvar": "fc_logvar", "fc_dec": fc_dec,
               "fc_dense": "fc_dense"}
        for name in expected_tensors(mc):
            m = re.match(r"(encoder|decoder)\.(\d+)\.", name)
            if m:
                out[f"{m.group(1)}.{m.group(2)}"] = f"{enc if m.group(1) == 'encoder' else dec}" \
                                                    f".{m.group(2)}"
        return out
    return prefixes


_K4 = dict(decoder_out="deconv", fc_dec_relu=False)
_K4_NOTES = ("The decoder's first linear layer (decoder_fc) has no activation before the "
             "reshape, as in the tutorial's decode().",)

LAYOUTS: list[Layout] = [
    _one_hidden_layout("pytorch-examples", "pytorch/examples vae (fc1, fc21, fc22, fc3, fc4)",
                       ["fc1", "fc21", "fc22", "fc3", "fc4"]),
    _one_hidden_layout("nested-fc", "MLP in encoder/decoder sub-modules "
                       "(encoder.fc1, encoder.fc2_mu, ..., decoder.fc4)",
                       ["encoder.fc1", "encoder.fc2_mu", "encoder.fc2_logvar", "decoder.fc3",
                        "decoder.fc4"]),
    _one_hidden_layout("nested-linear", "MLP in encoder/decoder sub-modules "
                       "(encoder.linear, encoder.mu, encoder.var, decoder.linear, decoder.out)",
                       ["encoder.linear", "encoder.mu", "encoder.var", "decoder.linear",
                        "decoder.out"],
                       notes=["encoder.var is read as the log-variance (the tutorial uses it as "
                              "exp(var / 2) for the standard deviation).",
                              "This tutorial normalises images to [-1, 1] and trains with BCE, "
                              "which PyTorch refuses for targets outside [0, 1]; a trained file "
                              "can only come from [0, 1] data, so it is opened as unit-range "
                              "data (preprocess 'unit')."]),
    _one_hidden_layout("flat-prefixed", "MLP with prefixed names (encoder_fc1, encoder_fc_mu, "
                       "encoder_fc_logvar, decoder_fc1, decoder_fc2)",
                       ["encoder_fc1", "encoder_fc_mu", "encoder_fc_logvar", "decoder_fc1",
                        "decoder_fc2"]),
    Layout("sequential-mlp", "MLP in nn.Sequentials (encoder.0, encoder.2, fc_mu, fc_logvar, "
           "decoder.0, decoder.2, decoder.4)", _seq_mlp_prefixes, _seq_mlp,
           ModelConfig(arch="mlp", hidden=[512, 256], latent_dim=2)),
    Layout("conv-k4", "conv VAE with 4x4 kernels (encoder_conv.*, fc_mu, fc_logvar, "
           "decoder_fc, decoder_conv.*)", _conv_prefixes("encoder_conv", "decoder_conv",
                                                         "decoder_fc"),
           _conv_reader("encoder_conv", **_K4),
           ModelConfig(arch="conv", hidden=[32, 64, 128], latent_dim=128, kernel=4, **_K4),
           _K4_NOTES),
    Layout("conv-k4-seq", "conv VAE with 4x4 kernels (encoder.*, fc_mu, fc_logvar, decoder_fc, "
           "decoder.*; BatchNorm read from the file)",
           _conv_prefixes("encoder", "decoder", "decoder_fc"), _conv_reader("encoder", **_K4),
           ModelConfig(arch="conv", image_shape=[3, 64, 64], hidden=[32, 64, 128, 256],
                       latent_dim=256, kernel=4, batchnorm=True, **_K4), _K4_NOTES),
    Layout("ours-mlp", "this tool's own MLP names (fc1, fc2_mu, fc2_logvar, fc3, fc4)",
           lambda mc: {n: n for n in _mlp_names(len(mc.hidden))}, _ours_mlp,
           ModelConfig(arch="mlp", hidden=[400], latent_dim=20)),
    Layout("ours-conv", "this tool's own conv names (encoder.*, fc_mu, fc_logvar, fc_dec, "
           "decoder.*)", _conv_prefixes("encoder", "decoder", "fc_dec"),
           _conv_reader("encoder", _variants=[{}, dict(decoder_out="deconv")]),
           ModelConfig(arch="conv", hidden=[32, 64], latent_dim=2)),
]
BY_NAME = {lay.name: lay for lay in LAYOUTS}


def rename_map(layout: Layout, mc: ModelConfig) -> dict[str, str]:
    """Our full tensor name -> the tutorial's, for every tensor our model has."""
    from .checkpoint import expected_tensors

    pre = layout.prefixes(mc)
    out = {}
    for name in expected_tensors(mc):
        mod, _, leaf = name.rpartition(".")
        out[name] = f"{pre.get(mod, mod)}.{leaf}"
    return out


def differences(state: dict, layout: Layout, mc: ModelConfig) -> tuple[list, list, list]:
    """(missing, unexpected, wrong shapes) of the file against layout+config, in the file's names."""
    from .checkpoint import expected_tensors

    exp = expected_tensors(mc)
    want = {theirs: exp[ours][0] for ours, theirs in rename_map(layout, mc).items()}
    missing = sorted(set(want) - set(state))
    extra = sorted(set(state) - set(want))
    wrong = [f"{k}: file {_shape(state, k)} vs {want[k]}" for k in sorted(set(want) & set(state))
             if _shape(state, k) != want[k]]
    return missing, extra, wrong


def fit(state: dict, layout: Layout, configs: list[ModelConfig]) -> Match | None:
    for mc in configs:
        try:
            mc.validate()
        except ConfigError:
            continue
        if differences(state, layout, mc) == ([], [], []):
            ren = {theirs: ours for ours, theirs in rename_map(layout, mc).items()}
            return Match(layout, mc, ren, [ACTIVATIONS, *layout.notes])
    return None


def _read(layout: Layout, state: dict) -> list[ModelConfig]:
    try:
        return layout.sizes(state)
    except (KeyError, IndexError, ValueError, ZeroDivisionError):
        return []


def recognise(state: dict) -> Match:
    """The layout whose names and shapes the state_dict matches exactly, else LayoutError naming
    the closest layouts (by name overlap) and what differs."""
    state = strip_wrappers(state)
    for layout in LAYOUTS:
        m = fit(state, layout, _read(layout, state))
        if m:
            return m
    raise LayoutError(describe_mismatch(state, LAYOUTS, "none of the known layouts fits"))


def match_preset(state: dict, mc: ModelConfig) -> Match:
    """Force a config (from --preset): the layout whose names fit it, else the differences."""
    state = strip_wrappers(state)
    for layout in LAYOUTS:
        m = fit(state, layout, [mc])
        if m:
            return m
    cands = [replace(lay, sizes=lambda s, mc=mc: [mc]) for lay in LAYOUTS]
    raise LayoutError(describe_mismatch(state, cands, f"it does not match preset {mc.preset!r}",
                                        versus="preset"))


def describe_mismatch(state: dict, layouts: list[Layout], head: str, versus: str = "layout",
                      n: int = 3) -> str:
    scored = []
    for layout in layouts:
        configs = _read(layout, state)
        mc = configs[0] if configs else layout.example
        try:
            missing, extra, wrong = differences(state, layout, mc)
        except (ConfigError, ValueError, RuntimeError):
            continue
        want = len(rename_map(layout, mc))
        overlap = (want - len(missing)) / (want + len(extra))
        scored.append((overlap, layout, bool(configs), missing, extra, wrong))
    scored.sort(key=lambda t: -t[0])
    lines = [f"{head}. Closest known layouts:"]
    for overlap, layout, read, missing, extra, wrong in scored[:n]:
        lines.append(f"- {layout.name}: {layout.title} ({overlap:.0%} of names in common)")
        if missing:
            lines.append("    missing: " + ", ".join(missing[:12]) + (" ..." if len(missing) > 12
                                                                      else ""))
        if extra:
            lines.append("    unexpected: " + ", ".join(extra[:12]) + (" ..." if len(extra) > 12
                                                                       else ""))
        if wrong:
            lines += [f"    wrong shape: {w.replace(' vs ', f' vs {versus} ')}"
                      for w in wrong[:6]]
        if not read:
            lines.append("    (sizes could not be read from the file; compared with the "
                         "tutorial's own sizes)")
    return "\n".join(lines)
