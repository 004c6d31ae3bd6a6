"""The checkpoint format: one self-describing .safetensors file, no pickle anywhere.

Layout: a safetensors file whose tensors are the model's state_dict and whose string
metadata holds, under the key "vae", one JSON document:

    {"format": "vae-explorer", "format_version": 1,
     "model": ModelConfig, "data": DataConfig, "train": TrainConfig,
     "history": [per-epoch metrics], "metrics": {final test metrics},
     "versions": {...}, "created": ISO time, "hardware": str, "train_seconds": float}

Loading never trusts the file: the header is parsed by hand with size bounds, the config is
validated before any allocation, the expected tensor names/shapes/dtypes come from a model
built on the meta device, and every tensor must be finite. Every failure is a CheckpointError.
Trainer state for --resume lives in a separate file read with torch.load(weights_only=True).

torch is imported inside the functions that need it: reading a header and its metadata
(read_metadata, parse_header) must not cost the 2-3 s of `import torch`, because the explorer
draws its first map from the header and its disk cache before any model exists.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ConfigError, DataConfig, ModelConfig, TrainConfig, from_dict, to_dict

if TYPE_CHECKING:
    import torch

    from .model import VAE

FORMAT = "vae-explorer"
FORMAT_VERSION = 1
META_KEY = "vae"
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024 * 1024
DTYPE_NAMES = ("F32", "F16", "BF16", "I64")  # the safetensors dtypes a checkpoint may hold
# Bounds on the metadata document, checked before and after parsing. Shipped files: <= 31 KB of
# JSON, depth 3, 125 history entries, longest string ~1 KB; these leave ample room for real runs
# while a hostile file cannot make the loader recurse, or the app hold or draw megabytes of text.
MAX_META_CHARS = 2 * 1024 * 1024
MAX_JSON_DEPTH = 12
MAX_STRING_CHARS = 16 * 1024
MAX_LIST_ITEMS = 20_000  # e.g. history: one entry per epoch
MAX_DICT_KEYS = 1_000
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def _torch_dtypes() -> dict:
    import torch

    return {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
            "I64": torch.int64}


class CheckpointError(Exception):
    """Anything wrong with a checkpoint file: unreadable, hostile, inconsistent or non-finite."""


@dataclass
class Checkpoint:
    model: VAE
    model_config: ModelConfig
    data: DataConfig
    train: TrainConfig
    history: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # the whole metadata document
    sha256: str = ""


def library_versions() -> dict:
    import numpy
    import safetensors
    import torch

    out = {"torch": torch.__version__, "numpy": numpy.__version__,
           "safetensors": safetensors.__version__, "python": platform.python_version()}
    try:  # the installed version, without importing torchvision (~0.4 s: once per run)
        from importlib.metadata import version

        out["torchvision"] = version("torchvision")
    except Exception:  # torchvision is optional for reading checkpoints
        pass
    return out


def hardware_string(device: torch.device | str = "cpu") -> str:
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
           f"{torch.get_num_threads()} torch threads"


# ---------------------------------------------------------------------------------------------
# writing


def _atomic_write(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def build_metadata(model_config: ModelConfig, data: DataConfig, train: TrainConfig,
                   history: list[dict] | None = None, metrics: dict | None = None,
                   **extra: Any) -> dict:
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": to_dict(model_config),
        "data": to_dict(data),
        "train": to_dict(train),
        "history": list(history or []),
        "metrics": dict(metrics or {}),
        "versions": library_versions(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    doc.update(extra)
    return doc


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, doc: dict) -> Path:
    """Write model weights + metadata document atomically (temp file + rename)."""
    from safetensors.torch import save

    names = {v: k for k, v in _torch_dtypes().items()}
    model = getattr(model, "_orig_mod", model)  # torch.compile wrapper
    model = getattr(model, "module", model)  # DDP wrapper
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    for k, v in tensors.items():
        if v.dtype not in names:
            tensors[k] = v.float()
    blob = save(tensors, metadata={META_KEY: json.dumps(doc, allow_nan=False)})
    _atomic_write(Path(path), blob)
    return Path(path)


def update_checkpoint_metadata(path: str | os.PathLike, **changes: Any) -> dict:
    """Merge changes (e.g. metrics=...) into a checkpoint's document, rewriting it atomically."""
    ck = load_checkpoint(path)
    doc = dict(ck.info)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(doc.get(k), dict):
            doc[k] = {**doc[k], **v}
        else:
            doc[k] = v
    save_checkpoint(path, ck.model, doc)
    return doc


# ---------------------------------------------------------------------------------------------
# reading


def read_source(src: str | os.PathLike | bytes) -> bytes:
    """A checkpoint's bytes from a path or bytes, refusing anything over the size limit."""
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    else:
        p = Path(src)
        if not p.is_file():
            raise CheckpointError(f"{p}: no such checkpoint file")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CheckpointError(f"{p}: {size / 1e6:.0f} MB is larger than the "
                                  f"{MAX_FILE_BYTES / 1e6:.0f} MB checkpoint limit")
        data = p.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise CheckpointError("checkpoint is larger than the size limit")
    return data


def json_depth(text: str) -> int:
    """Deepest nesting of [ ] / { } in a JSON text, outside strings, without parsing it (the
    json module recurses, so a deep enough document would raise RecursionError)."""
    depth = deepest = 0
    for m in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _bounded_json(text: str, what: str, max_chars: int, max_depth: int) -> Any:
    """json.loads with size and depth bounded first; every failure is a CheckpointError."""
    if len(text) > max_chars:
        raise CheckpointError(f"{what} is {len(text):,} characters, over the {max_chars:,} limit")
    if json_depth(text) > max_depth:
        raise CheckpointError(f"{what} is nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as e:
        raise CheckpointError(f"corrupt {what}: {str(e)[:200]}") from None


def check_document_sizes(obj: Any, where: str = "metadata") -> None:
    """Every string, list and object in the metadata document within bounds (iterative)."""
    stack = [(obj, where)]
    while stack:
        o, path = stack.pop()
        if isinstance(o, str):
            if len(o) > MAX_STRING_CHARS:
                raise CheckpointError(f"{path} holds a {len(o):,}-character text, over the "
                                      f"{MAX_STRING_CHARS:,} limit")
        elif isinstance(o, list):
            if len(o) > MAX_LIST_ITEMS:
                raise CheckpointError(f"{path} has {len(o):,} entries, over the "
                                      f"{MAX_LIST_ITEMS:,} limit")
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(o))
        elif isinstance(o, dict):
            if len(o) > MAX_DICT_KEYS:
                raise CheckpointError(f"{path} has {len(o):,} keys, over the {MAX_DICT_KEYS:,} "
                                      f"limit")
            for k, v in o.items():
                if len(k) > 256:
                    raise CheckpointError(f"{path} has a key of {len(k):,} characters")
                stack.append((v, f"{path}.{k[:40]}"))


def parse_header(data: bytes) -> tuple[dict, dict]:
    """Validate the safetensors header by hand. Returns (tensor entries, metadata document)."""
    if data[:2] in (b"PK", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        raise CheckpointError("this is a pickle/zip file (torch.save), not a safetensors "
                              "checkpoint; pickles can run code and are never opened. Convert a "
                              "plain state_dict with: python -m vae_training.convert")
    if len(data) < 8:
        raise CheckpointError("file is too short to be a safetensors checkpoint")
    (n,) = struct.unpack("<Q", data[:8])
    if n < 2 or n > MAX_HEADER_BYTES or 8 + n > len(data):
        raise CheckpointError("not a safetensors file, or truncated (bad header length)")
    try:
        text = data[8:8 + n].decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckpointError(f"corrupt safetensors header: {e}") from None
    # Header: {name: {dtype, shape: [..], data_offsets: [..]}, __metadata__: {str: str}}.
    header = _bounded_json(text, "safetensors header", MAX_HEADER_BYTES, 3)
    if not isinstance(header, dict):
        raise CheckpointError("corrupt safetensors header: not a JSON object")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or META_KEY not in meta or not isinstance(meta[META_KEY], str):
        raise CheckpointError("this safetensors file has no VAE metadata; it was not written by "
                              "this tool. Convert plain weights with: python -m vae_training.convert")
    doc = _bounded_json(meta[META_KEY], "checkpoint metadata", MAX_META_CHARS, MAX_JSON_DEPTH)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError("checkpoint metadata is not in the vae-explorer format")
    if doc.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint format version {str(doc.get('format_version'))[:20]!r} "
                              f"is not supported (this tool reads version {FORMAT_VERSION})")
    check_document_sizes(doc)
    body = len(data) - 8 - n
    for name, ent in header.items():
        if not (isinstance(ent, dict) and isinstance(ent.get("shape"), list)
                and isinstance(ent.get("data_offsets"), list) and len(ent["data_offsets"]) == 2):
            raise CheckpointError(f"corrupt entry for tensor {name!r}")
        b, e = ent["data_offsets"]
        if not (isinstance(b, int) and isinstance(e, int) and 0 <= b <= e <= body):
            raise CheckpointError(f"tensor {name!r} points outside the file (truncated?)")
    return header, doc


def read_metadata(src: str | os.PathLike | bytes) -> dict:
    """The metadata document alone, validated, without building a model."""
    _, doc = parse_header(read_source(src))
    configs_of(doc)
    return doc


def configs_of(doc: dict) -> tuple[ModelConfig, DataConfig, TrainConfig]:
    """The validated configs of a metadata document (CheckpointError if any is invalid)."""
    try:
        mc = from_dict(ModelConfig, doc.get("model"))
        dc = from_dict(DataConfig, doc.get("data"))
        tc = from_dict(TrainConfig, doc.get("train", {}))
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"invalid configuration in checkpoint: {e}") from None
    if not isinstance(doc.get("history", []), list) or not isinstance(doc.get("metrics", {}), dict):
        raise CheckpointError("invalid history/metrics in checkpoint metadata")
    return mc, dc, tc


def expected_tensors(mc: ModelConfig) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Names, shapes and dtypes of a model's state_dict, computed without allocating memory."""
    import torch

    from .model import VAE

    with torch.device("meta"):
        m = VAE(mc)
    return {k: (tuple(v.shape), v.dtype) for k, v in m.state_dict().items()}


def load_checkpoint(src: str | os.PathLike | bytes, device: str | torch.device = "cpu") -> Checkpoint:
    """Open a checkpoint from a path or bytes, validating everything. Raises CheckpointError."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    from .model import VAE

    data = read_source(src)
    header, doc = parse_header(data)
    mc, dc, tc = configs_of(doc)
    expected = expected_tensors(mc)
    missing = sorted(set(expected) - set(header))
    extra = sorted(set(header) - set(expected))
    if missing or extra:
        raise CheckpointError(f"tensors do not match the architecture: missing {missing[:5]}, "
                              f"unexpected {extra[:5]}")
    for name, (shape, dtype) in expected.items():
        ent = header[name]
        if tuple(ent["shape"]) != shape:
            raise CheckpointError(f"tensor {name!r} has shape {tuple(ent['shape'])}, the "
                                  f"architecture needs {shape}")
        if ent.get("dtype") not in DTYPE_NAMES or (dtype == torch.int64) != (ent["dtype"] == "I64"):
            raise CheckpointError(f"tensor {name!r} has unsupported dtype {ent.get('dtype')!r}")
    try:
        tensors = st_load(data)
    except (SafetensorError, Exception) as e:  # safetensors raises several types on bad bytes
        raise CheckpointError(f"corrupt tensor data: {e}") from None
    for name, t in tensors.items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise CheckpointError(f"tensor {name!r} contains NaN or infinite values")
    model = VAE(mc)
    state = {k: v.to(expected[k][1]) for k, v in tensors.items()}
    model.load_state_dict(state, strict=True)
    model.to(device).eval()
    return Checkpoint(model=model, model_config=mc, data=dc, train=tc,
                      history=list(doc.get("history", [])), metrics=dict(doc.get("metrics", {})),
                      info=doc, sha256=hashlib.sha256(data).hexdigest())


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# trainer state for --resume (optimizer, epoch, RNG); tensors and plain containers only


def save_trainer_state(path: str | os.PathLike, state: dict) -> None:
    import io

    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    _atomic_write(Path(path), buf.getvalue())


def load_trainer_state(path: str | os.PathLike) -> dict:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read trainer state safely: {e}") from None
