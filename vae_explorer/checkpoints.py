"""Finding and opening checkpoints for the explorer. No streamlit import here.

Every way in (a name in checkpoints/, a path on disk, uploaded bytes) goes through
vae_training.checkpoint.load_checkpoint, which validates the whole file before a model is built.
Failures come back as a short error string, never an exception.

One shortcut keeps a warm open fast: the model (and torch, 2-3 s to import) is not needed to
draw a map that is already in the disk cache. When these exact bytes (same sha256) were fully
validated on this machine before, `open_path(..., trust_validated=True)` checks the header and
metadata only and returns at once; the full validation and the model follow in the background
(`OpenedCheckpoint.load_in_background`). Bytes never seen before are always validated first.
"""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from vae_training.checkpoint import (Checkpoint, CheckpointError, configs_of, load_checkpoint,
                                 parse_header, read_source)

from . import background, cache, heavy, paths

DEFAULT_NAME = "shapes-conv-z2.safetensors"
SUFFIX = ".safetensors"
UPLOAD_LIMIT_MB = int(os.environ.get("VAE_EXPLORER_UPLOAD_MB", 200))
UPLOAD_LIMIT = UPLOAD_LIMIT_MB * 1024 * 1024


def checkpoint_dir() -> Path:
    return paths.checkpoint_dir()


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


class OpenedCheckpoint:
    """A checkpoint with validated metadata; the model is built (after full validation of the
    tensors) on first use of `.model`, or ahead of time by `load_in_background()`.

    Same attributes as vae_training.checkpoint.Checkpoint. `error` is set (and `.model` raises
    CheckpointError) if the tensors fail validation.
    """

    def __init__(self, data: bytes, label: str):
        _, doc = parse_header(data)
        self.model_config, self.data, self.train = configs_of(doc)
        self.history = list(doc.get("history", []))
        self.metrics = dict(doc.get("metrics", {}))
        self.info = doc
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.label = label
        self._bytes: bytes | None = data
        self._ck: Checkpoint | None = None
        self.error: str | None = None
        self._lock = threading.Lock()
        self._loader: threading.Thread | None = None

    def load(self) -> Checkpoint:
        """Validate everything and build the model (once; thread-safe)."""
        with self._lock:
            if self._ck is None and self.error is None:
                try:
                    self._ck = load_checkpoint(self._bytes)
                    mark_validated(self.sha256)
                except CheckpointError as e:
                    self.error = _message(str(e), self.label)
                except MemoryError:
                    self.error = f"{self.label}: not enough memory to open this checkpoint."
                except Exception as e:  # anything unexpected is still a bad file, not a crash
                    self.error = f"{self.label}: could not open checkpoint ({type(e).__name__}: {e})"
                self._bytes = None
            if self.error is not None:
                raise CheckpointError(self.error)
            return self._ck

    @property
    def model(self):
        return self.load().model

    @property
    def ready(self) -> bool:
        return self._ck is not None

    @property
    def load_started(self) -> bool:
        """Loaded, failed, or loading in the background."""
        return self._ck is not None or self.error is not None or self._loader is not None

    def load_in_background(self, before=None) -> None:
        """Start load() in a background thread (before(): e.g. set torch's threads first). Once:
        the app calls this after every script run."""
        if self._ck is not None or self.error is not None or self._loader is not None:
            return

        def run():
            try:
                if before is not None:
                    before()
                self.load()
            except Exception:  # recorded in self.error; shown by the app on its next run
                pass

        self._loader = background.start(run, "checkpoint-load")


def mark_validated(sha256: str) -> None:
    """Remember (in the disk cache) that these exact bytes passed full validation here."""
    cache.save(sha256, "validated", None, {"ok": np.ones(1, np.uint8)})


def was_validated(sha256: str) -> bool:
    return cache.load(sha256, "validated", None) is not None


def _message(msg: str, label: str) -> str:
    return msg if msg.startswith(label) else f"{label}: {msg}"


def open_path(path: str | os.PathLike, trust_validated: bool = False):
    """(OpenedCheckpoint, None) or (None, error message). The model is built and every tensor
    checked before this returns, unless trust_validated and these bytes passed before."""
    p = Path(str(path)).expanduser()
    if not str(path).strip():
        return None, "Enter a path to a .safetensors checkpoint or a tutorial's .pth/.pt file."
    if p.is_dir():
        return None, f"{p} is a folder; give the path of a .safetensors file."
    if not p.is_file():
        return None, f"No file at {p}."
    if p.suffix.lower() != SUFFIX:
        return None, (f"{p.name} is not a .safetensors file. Only safetensors checkpoints written "
                      f"by this tool are opened directly; a tutorial's .pt/.pth state_dict is "
                      f"converted first, in a separate process with weights_only loading.")
    return _open(p, str(p), trust_validated)


def open_bytes(data: bytes, name: str = "upload.safetensors", limit: int = UPLOAD_LIMIT,
               on_wait=None):
    """Open uploaded bytes: size limit, file type, then full validation, a heavy job (it waits
    for a slot of heavy.GATE, calling on_wait(jobs ahead) meanwhile)."""
    if data is None:
        return None, "No file."
    if len(data) > limit:
        return None, (f"{name}: {len(data) / 2**20:.1f} MB is over the {limit / 2**20:.0f} MB "
                      f"upload limit.")
    if not name.lower().endswith(SUFFIX):
        return None, (f"{name} is not a .safetensors file. Only safetensors checkpoints are "
                      f"opened (pickled .pt/.pth/.ckpt files can run code).")
    with heavy.GATE.slot(on_wait):
        return _open(bytes(data), name)


def _open(src, label: str, trust_validated: bool = False):
    try:
        ck = OpenedCheckpoint(read_source(src), label)
    except CheckpointError as e:
        return None, _message(str(e), label)
    except MemoryError:
        return None, f"{label}: not enough memory to open this checkpoint."
    except Exception as e:  # anything unexpected is still a bad file, not a crash
        return None, f"{label}: could not open checkpoint ({type(e).__name__}: {e})"
    if not (trust_validated and was_validated(ck.sha256)):
        try:
            ck.load()
        except CheckpointError as e:
            return None, str(e)
    return ck, None


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


def training_objective(train) -> str:
    """What the run minimised, in words, from its TrainConfig (older files: the ELBO)."""
    k = getattr(train, "iw_train", 1)
    if k > 1:  # IWAE: train_loss is the negative k-sample bound, test_loss still the -ELBO
        return f"negative importance-weighted bound, k={k} (IWAE)"
    beta = getattr(train, "beta", 1.0)
    return "negative ELBO" + (f", β={beta:g}" if beta != 1 else "")


def loss_curve_title(train) -> str:
    """The loss plot's title: under IWAE the train curve is the k-sample bound (lower than the
    test curve's ELBO by construction), which the title must say. Plotly's own markup puts that
    on a second, smaller line: one line was cut at a third of the page's width."""
    if getattr(train, "iw_train", 1) > 1:
        return f"loss (nats)<br><sup>train: −IW bound k={int(train.iw_train)} · test: −ELBO</sup>"
    return "loss (negative ELBO, nats)"


def summary(ck) -> dict:
    from vae_training.model import count_parameters

    mc, dc = ck.model_config, ck.data
    return {
        "preset": mc.preset or "(custom)",
        "architecture": mc.arch,
        "latent dimensions": mc.latent_dim,
        "image shape (C, H, W)": "×".join(str(v) for v in mc.image_shape),
        "hidden": ", ".join(str(v) for v in mc.hidden),
        "dense": mc.dense,
        "batchnorm": mc.batchnorm,
        "conv kernel": mc.kernel if mc.arch == "conv" else "—",
        "decoder output layer": ({"conv": "3×3 conv", "deconv": "transposed conv"}
                                 .get(mc.decoder_out, mc.decoder_out) if mc.arch == "conv" else "—"),
        "likelihood": mc.likelihood,
        "conditional (classes)": mc.num_classes,
        "parameters": count_parameters(ck.model),
        "dataset": dc.dataset,
        "preprocess": dc.preprocess,
        "binarize": dc.binarize,
        "classes": len(dc.label_names),
        "training objective": training_objective(ck.train),
    }


def label_names(ck, labels=None) -> list[str]:
    names = list(ck.data.label_names or [])
    if labels is not None and len(labels):
        need = int(max(labels)) + 1
        names += [str(i) for i in range(len(names), need)]
    return names or ["(all)"]
