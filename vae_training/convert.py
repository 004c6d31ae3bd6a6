"""Turn a tutorial's plain state_dict into a checkpoint:

    python -m vae_training.convert vae.pth --dataset mnist --out vae.safetensors

The architecture is recognised from the names and shapes alone (vae_training/layouts.py);
--preset forces one. The file is opened only with torch.load(weights_only=True,
map_location="cpu"), which refuses arbitrary pickled objects. The checkpoint keeps our
parameter names; what was assumed (activations, geometry, data range) goes into its
metadata under "converted".
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import CheckpointError, build_metadata, expected_tensors, file_sha256, \
    save_checkpoint
from .config import MAX_PARAMS, DataConfig, ModelConfig, TrainConfig
from .layouts import LayoutError, Match, match_preset, recognise, strip_wrappers
from .model import VAE
from .presets import PRESETS, preset_config

# Label names by dataset, so a converted checkpoint still shows class names in the explorer.
_LABELS = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
}
# Datasets a model's image shape may have come from; the first is taken only when it is the
# only one (a 784-input model could be MNIST, Fashion-MNIST or KMNIST: the user must say).
DATASETS_BY_SHAPE = {(1, 28, 28): ["mnist", "fashion-mnist", "kmnist"], (3, 64, 64): ["celeba"]}


class ConversionError(CheckpointError):
    """The state_dict does not fit any layout / the chosen preset (or cannot be read safely)."""


def datasets_for(image_shape) -> list[str]:
    return DATASETS_BY_SHAPE.get(tuple(image_shape), [])


def geometry_notes(mc: ModelConfig, layout: str) -> list[str]:
    """Say so when the decoder needs output_padding the tutorial's class may not have."""
    if mc.arch != "conv" or not layout.startswith("conv-k4"):
        return []
    from .model import conv_sizes

    hs = conv_sizes(mc.image_shape[1], len(mc.hidden), mc.kernel)
    if all(a == 2 * b for a, b in zip(hs, hs[1:])):
        return [f"Image size {hs[0]}x{hs[0]} assumed (the weights fit other sizes too)."]
    sizes = " -> ".join(str(v) for v in reversed(hs))
    naive = " -> ".join(str(hs[-1] * 2 ** i) for i in range(len(hs)))
    return [f"Image size {hs[0]}x{hs[0]} assumed. Decoder geometry: transposed convs with "
            f"output_padding where needed ({sizes}); without it the decoder gives {naive}, which "
            f"cannot have been trained on {hs[0]}x{hs[0]} images. The state_dict is the same "
            f"either way."]


@dataclass
class Converted:
    model: VAE
    doc: dict
    match: Match
    notes: list[str]


def load_state_dict(path: str | Path) -> dict:
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:
        raise ConversionError(f"{Path(path).name}: not a plain tensor state_dict that can be "
                              f"loaded safely "
                              f"(torch.load weights_only=True refused it: {str(e)[:300]})") from None
    for key in ("state_dict", "model_state_dict", "model"):  # {"state_dict": ..., "epoch": ...}
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                            for k, v in obj.items()):
        raise ConversionError(f"{Path(path).name}: expected a dict of name -> tensor "
                              f"(torch.save(model.state_dict(), path))")
    total = sum(v.numel() for v in obj.values())
    if len(obj) > 1000 or total > MAX_PARAMS:
        raise ConversionError(f"{Path(path).name}: {len(obj)} tensors with {total:,} values, over "
                              f"the limits (1000 tensors, {MAX_PARAMS:,} values)")
    return obj


def build(src: str | Path, preset: str | None, dataset: str | None,
          likelihood: str = "bernoulli", preprocess: str = "unit") -> Converted:
    """Read, recognise (or force preset) and build the model + metadata; nothing is written."""
    raw = load_state_dict(src)
    try:
        if preset:
            m = match_preset(raw, preset_config(preset, likelihood=likelihood))
        else:
            m = recognise(raw)
    except LayoutError as e:
        raise ConversionError(f"{Path(src).name}: {e}") from None
    mc = m.config
    if not preset:
        mc.likelihood = likelihood
    notes = [*m.notes, *geometry_notes(mc, m.layout.name)]
    if not dataset:
        choices = datasets_for(mc.image_shape)
        if len(choices) != 1:
            raise ConversionError(
                f"{Path(src).name}: the file cannot tell which dataset it was trained on "
                f"(images {'x'.join(map(str, mc.image_shape))}); pass --dataset"
                + (f" ({', '.join(choices)})" if choices else ""))
        dataset = choices[0]
        notes.append(f"Dataset {dataset} assumed from the image size.")
    state = {m.rename[k]: v for k, v in strip_wrappers(raw).items()}
    for k, v in state.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ConversionError(f"{src}: tensor {k!r} contains NaN or infinite values")
    expected = expected_tensors(mc)
    model = VAE(mc)
    model.load_state_dict({k: v.to(expected[k][1]) for k, v in state.items()}, strict=True)
    dc = DataConfig(dataset=dataset, image_shape=list(mc.image_shape),
                    label_names=_LABELS.get(dataset, []), preprocess=preprocess).validate()
    description = (f"Converted from {Path(src).name}: recognised as {m.layout.title}. "
                   + " ".join(notes))
    doc = build_metadata(mc, dc, TrainConfig(epochs=0), [], {},
                         hardware="unknown (converted)", train_seconds=0.0,
                         description=description,
                         converted={"source_file": Path(src).name,
                                    "source_sha256": file_sha256(src),
                                    "layout": m.layout.name, "layout_title": m.layout.title,
                                    "assumptions": notes,
                                    "renamed": {a: b for a, b in m.rename.items() if a != b}})
    return Converted(model, doc, m, notes)


def convert(src: str | Path, preset: str | None, dataset: str | None, out: str | Path,
            likelihood: str = "bernoulli", preprocess: str = "unit") -> Path:
    c = build(src, preset, dataset, likelihood, preprocess)
    return save_checkpoint(out, c.model, c.doc)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m vae_training.convert",
        description="Convert a plain state_dict (torch.save(model.state_dict(), path)) from a "
                    "tutorial script into a .safetensors checkpoint. Loaded with "
                    "torch.load(weights_only=True) only.")
    p.add_argument("state_dict", help="the .pt/.pth file")
    p.add_argument("--preset", default=None, choices=list(PRESETS),
                   help="force an architecture (default: recognised from the file's names and "
                        "shapes)")
    p.add_argument("--dataset", default=None,
                   help="dataset it was trained on (mnist, fashion-mnist, kmnist, celeba, ...), "
                        "for labels and the map; default: from the image size when only one fits")
    p.add_argument("--likelihood", default="bernoulli",
                   choices=["bernoulli", "gaussian"], help="decoder likelihood (default bernoulli)")
    p.add_argument("--preprocess", default="unit", choices=["unit", "symmetric"])
    p.add_argument("--out", required=True, help="output .safetensors path")
    a = p.parse_args(argv)
    try:
        c = build(a.state_dict, a.preset, a.dataset, a.likelihood, a.preprocess)
        path = save_checkpoint(a.out, c.model, c.doc)
    except (CheckpointError, KeyError, ValueError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    mc = c.match.config
    print(f"recognised layout {c.match.layout.name}: {c.match.layout.title}")
    print(f"  {mc.arch}, image {'x'.join(map(str, mc.image_shape))}, hidden {mc.hidden}, "
          f"latent {mc.latent_dim}" + (f", kernel {mc.kernel}, batchnorm {mc.batchnorm}"
                                       if mc.arch == "conv" else ""))
    for n in c.notes:
        print(f"  assumed: {n}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
