"""Turn a tutorial's plain state_dict into a checkpoint:

    python -m training.convert vae.pth --preset mlp-400-20 --dataset mnist --out vae.safetensors

The file is opened only with torch.load(weights_only=True, map_location="cpu"), which refuses
arbitrary pickled objects. Tutorial parameter names are mapped to ours (PyTorch examples/vae:
fc21 / fc22 -> fc2_mu / fc2_logvar), then every name and shape is checked against the preset.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch

from .checkpoint import CheckpointError, build_metadata, expected_tensors, file_sha256, \
    save_checkpoint
from .config import DataConfig, ModelConfig, TrainConfig
from .model import VAE
from .presets import PRESETS, preset_config

# Label names by dataset, so a converted checkpoint still shows class names in the explorer.
_LABELS = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
}


class ConversionError(CheckpointError):
    """The state_dict does not fit the chosen preset (or cannot be read safely)."""


def alias_names(state: dict, mc: ModelConfig) -> dict:
    """Map well-known tutorial names onto ours. MLP with k hidden layers: the heads fc{k+1}1 /
    fc{k+1}2 (examples/vae's fc21 / fc22) become fc{k+1}_mu / fc{k+1}_logvar; a leading
    "module." (DataParallel) or "_orig_mod." (torch.compile) prefix is dropped."""
    out = {}
    j = len(mc.hidden) + 1
    for k, v in state.items():
        name = re.sub(r"^(module\.|_orig_mod\.)+", "", k)
        if mc.arch == "mlp":
            name = re.sub(rf"^fc{j}1\.", f"fc{j}_mu.", name)
            name = re.sub(rf"^fc{j}2\.", f"fc{j}_logvar.", name)
        else:
            name = re.sub(r"^(fc_?mean|fc_?z_?mean|mu)\.", "fc_mu.", name)
            name = re.sub(r"^(fc_?var|fc_?log_?var|fc_?z_?log_?var|logvar)\.", "fc_logvar.", name)
        out[name] = v
    return out


def load_state_dict(path: str | Path) -> dict:
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:
        raise ConversionError(f"{path}: not a plain tensor state_dict that can be loaded safely "
                              f"(torch.load weights_only=True refused it: {str(e)[:300]})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]  # {"state_dict": ..., "epoch": ...} bundles
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                            for k, v in obj.items()):
        raise ConversionError(f"{path}: expected a dict of name -> tensor (model.state_dict())")
    return obj


def convert(src: str | Path, preset: str, dataset: str, out: str | Path,
            likelihood: str = "bernoulli", preprocess: str = "unit") -> Path:
    mc = preset_config(preset, likelihood=likelihood)
    raw = load_state_dict(src)
    state = alias_names(raw, mc)
    renamed = {a: b for a, b in zip(raw, state) if a != b}
    expected = expected_tensors(mc)
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs preset {expected[k][0]}"
             for k in sorted(set(state) & set(expected)) if tuple(state[k].shape) != expected[k][0]]
    if missing or extra or wrong:
        lines = [f"{src} does not match preset {preset!r}:"]
        if missing:
            lines.append("  missing: " + ", ".join(missing))
        if extra:
            lines.append("  unexpected: " + ", ".join(extra))
        if wrong:
            lines += ["  wrong shape: " + w for w in wrong]
        lines.append("  the preset expects: " + ", ".join(
            f"{k} {tuple(s)}" for k, (s, _) in expected.items()))
        raise ConversionError("\n".join(lines))
    for k, v in state.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ConversionError(f"{src}: tensor {k!r} contains NaN or infinite values")
    model = VAE(mc)
    model.load_state_dict({k: v.to(expected[k][1]) for k, v in state.items()}, strict=True)
    labels = _LABELS.get(dataset, [])
    dc = DataConfig(dataset=dataset, image_shape=list(mc.image_shape), label_names=labels,
                    preprocess=preprocess).validate()
    doc = build_metadata(mc, dc, TrainConfig(epochs=0), [], {},
                         hardware="unknown (converted)", train_seconds=0.0,
                         converted={"source_file": Path(src).name,
                                    "source_sha256": file_sha256(src),
                                    "renamed": renamed})
    return save_checkpoint(out, model, doc)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m training.convert",
        description="Convert a plain state_dict (torch.save(model.state_dict(), path)) from a "
                    "tutorial script into a .safetensors checkpoint. Loaded with "
                    "torch.load(weights_only=True) only.")
    p.add_argument("state_dict", help="the .pt/.pth file")
    p.add_argument("--preset", required=True, choices=list(PRESETS),
                   help="the architecture it was trained with (e.g. mlp-400-20 for "
                        "pytorch/examples/vae)")
    p.add_argument("--dataset", required=True,
                   help="dataset it was trained on (mnist, fashion-mnist, ...), for labels/display")
    p.add_argument("--likelihood", default="bernoulli",
                   choices=["bernoulli", "gaussian"], help="decoder likelihood (default bernoulli)")
    p.add_argument("--preprocess", default="unit", choices=["unit", "symmetric"])
    p.add_argument("--out", required=True, help="output .safetensors path")
    a = p.parse_args(argv)
    try:
        path = convert(a.state_dict, a.preset, a.dataset, a.out, a.likelihood, a.preprocess)
    except (CheckpointError, KeyError, ValueError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
