"""Finding and opening checkpoints for the explorer. No streamlit import here.

Every way in (a name in checkpoints/, a path on disk, uploaded bytes) goes through
training.checkpoint.load_checkpoint, which validates the whole file before a model is built.
Failures come back as a short error string, never an exception.
"""
from __future__ import annotations

import os
from pathlib import Path

from training.checkpoint import CheckpointError, load_checkpoint

REPO = Path(__file__).resolve().parent.parent
CHECKPOINT_DIR = REPO / "checkpoints"
DEFAULT_NAME = "shapes-conv-z2.safetensors"
SUFFIX = ".safetensors"
UPLOAD_LIMIT_MB = int(os.environ.get("VAE_EXPLORER_UPLOAD_MB", 200))
UPLOAD_LIMIT = UPLOAD_LIMIT_MB * 1024 * 1024


def checkpoint_dir() -> Path:
    env = os.environ.get("VAE_EXPLORER_CHECKPOINTS")
    return Path(env) if env else CHECKPOINT_DIR


def list_checkpoints(directory: Path | None = None) -> list[Path]:
    """*.safetensors files directly in the checkpoints folder, default first, then by name."""
    d = Path(directory) if directory else checkpoint_dir()
    if not d.is_dir():
        return []
    found = sorted((p for p in d.glob(f"*{SUFFIX}") if p.is_file()), key=lambda p: p.name.lower())
    found.sort(key=lambda p: p.name != DEFAULT_NAME)
    return found


def default_checkpoint(directory: Path | None = None) -> Path | None:
    found = list_checkpoints(directory)
    return found[0] if found else None


def resolve_name(name: str, directory: Path | None = None) -> Path | None:
    """A checkpoint named in the URL: only a plain file name inside the checkpoints folder."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    for p in list_checkpoints(directory):
        if p.name == name or p.stem == name:
            return p
    return None


def open_path(path: str | os.PathLike):
    """(Checkpoint, None) or (None, error message)."""
    p = Path(str(path)).expanduser()
    if not str(path).strip():
        return None, "Enter a path to a .safetensors checkpoint."
    if p.is_dir():
        return None, f"{p} is a folder; give the path of a .safetensors file."
    if not p.is_file():
        return None, f"No file at {p}."
    if p.suffix.lower() != SUFFIX:
        return None, (f"{p.name} is not a .safetensors file. Only safetensors checkpoints written "
                      f"by this tool are opened (pickled .pt/.pth files can run code).")
    return _load(p)


def open_bytes(data: bytes, name: str = "upload.safetensors", limit: int = UPLOAD_LIMIT):
    """Open uploaded bytes: size limit, file type, then full validation."""
    if data is None:
        return None, "No file."
    if len(data) > limit:
        return None, (f"{name}: {len(data) / 2**20:.1f} MB is over the {limit / 2**20:.0f} MB "
                      f"upload limit.")
    if not name.lower().endswith(SUFFIX):
        return None, (f"{name} is not a .safetensors file. Only safetensors checkpoints are "
                      f"opened (pickled .pt/.pth/.ckpt files can run code).")
    return _load(bytes(data), name)


def _load(src, name: str | None = None):
    label = name or str(src)
    try:
        return load_checkpoint(src), None
    except CheckpointError as e:
        msg = str(e)
        return None, msg if (name is None or msg.startswith(label)) else f"{label}: {msg}"
    except MemoryError:
        return None, f"{label}: not enough memory to open this checkpoint."
    except Exception as e:  # anything unexpected is still a bad file, not a crash
        return None, f"{label}: could not open checkpoint ({type(e).__name__}: {e})"


# ---------------------------------------------------------------------------------------------
# descriptions for the info page


def layer_table(model) -> list[dict]:
    """One row per leaf module with parameters: name, type, shape summary, parameter count."""
    rows = []
    for name, mod in model.named_modules():
        if list(mod.children()):
            continue
        n = sum(p.numel() for p in mod.parameters(recurse=False))
        if n == 0 and type(mod).__name__ in ("ReLU", "Identity"):
            continue
        shape = ""
        w = getattr(mod, "weight", None)
        if w is not None:
            shape = " × ".join(str(s) for s in w.shape)
        rows.append({"layer": name, "type": type(mod).__name__, "weight shape": shape,
                     "parameters": n})
    if hasattr(model, "log_sigma"):
        rows.append({"layer": "log_sigma", "type": "Parameter", "weight shape": "1",
                     "parameters": 1})
    return rows


def summary(ck) -> dict:
    from training.model import count_parameters

    mc, dc = ck.model_config, ck.data
    return {
        "preset": mc.preset or "(custom)",
        "architecture": mc.arch,
        "latent dimensions": mc.latent_dim,
        "image shape (C, H, W)": "×".join(str(v) for v in mc.image_shape),
        "hidden": ", ".join(str(v) for v in mc.hidden),
        "dense": mc.dense,
        "batchnorm": mc.batchnorm,
        "likelihood": mc.likelihood,
        "conditional (classes)": mc.num_classes,
        "parameters": count_parameters(ck.model),
        "dataset": dc.dataset,
        "preprocess": dc.preprocess,
        "binarize": dc.binarize,
        "classes": len(dc.label_names),
    }


def label_names(ck, labels=None) -> list[str]:
    names = list(ck.data.label_names or [])
    if labels is not None and len(labels):
        need = int(max(labels)) + 1
        names += [str(i) for i in range(len(names), need)]
    return names or ["(all)"]
