"""Disk cache of numpy arrays (.npz, loaded with allow_pickle=False).

Keyed by the checkpoint's sha256 plus a description of what was computed (a name and a dict
of parameters). Reads the read-only shipped cache (checkpoints/cache/) first, then the user
cache: $VAE_EXPLORER_CACHE, default ~/.cache/vae-explorer. Writes go to the user cache
atomically; a cache that cannot be written is silently skipped (the app still works).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from .paths import SHIPPED_CHECKPOINTS, user_cache_dir

SHIPPED_DIR = SHIPPED_CHECKPOINTS / "cache"
_KEY_FIELD = "__cache_key__"


def cache_dir() -> Path:
    return user_cache_dir()


def shipped_dirs() -> list[Path]:
    extra = os.environ.get("VAE_EXPLORER_SHIPPED_CACHE")
    return [Path(extra)] if extra else [SHIPPED_DIR]


def key_string(sha256: str, what: str, params: dict | None = None) -> str:
    return json.dumps({"sha256": sha256, "what": what, "params": params or {}}, sort_keys=True,
                      default=str)


def _prefix(sha256: str) -> str:
    """The part of a file name that says which checkpoint it belongs to."""
    return sha256[:16]


def filename(sha256: str, what: str, params: dict | None = None) -> str:
    h = hashlib.sha256(key_string(sha256, what, params).encode()).hexdigest()[:20]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", what)[:40]
    return f"{_prefix(sha256)}-{slug}-{h}.npz"


def orphans(directory: Path, sha256s) -> list[Path]:
    """Cache files in directory that belong to none of these checkpoints (by sha256)."""
    keep = {_prefix(s) for s in sha256s}
    return sorted(p for p in Path(directory).glob("*.npz")
                  if p.name.split("-", 1)[0] not in keep)


def load(sha256: str, what: str, params: dict | None = None) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None. A file whose embedded key does not match is ignored."""
    name = filename(sha256, what, params)
    want = key_string(sha256, what, params)
    for d in [*shipped_dirs(), cache_dir()]:
        p = d / name
        if not p.is_file():
            continue
        try:
            with np.load(p, allow_pickle=False) as z:
                if _KEY_FIELD not in z.files or str(z[_KEY_FIELD]) != want:
                    continue
                return {k: z[k] for k in z.files if k != _KEY_FIELD}
        except Exception:  # corrupt or foreign file: treat as a miss
            continue
    return None


def save(sha256: str, what: str, params: dict | None, arrays: dict[str, np.ndarray],
         directory: Path | None = None) -> Path | None:
    """Write arrays atomically; returns the path, or None when the cache is not writable."""
    d = Path(directory) if directory else cache_dir()
    p = d / filename(sha256, what, params)
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{_KEY_FIELD: np.array(key_string(sha256, what, params))},
                     **{k: np.asarray(v) for k, v in arrays.items()})
        os.replace(tmp, p)
        return p
    except OSError:
        try:
            os.unlink(tmp)  # type: ignore[possibly-undefined]
        except Exception:
            pass
        return None


def get_or_compute(sha256: str, what: str, params: dict | None, fn) -> tuple[dict, bool]:
    """(arrays, hit): load from cache or call fn() -> dict of arrays and store it."""
    got = load(sha256, what, params)
    if got is not None:
        return got, True
    arrays = fn()
    save(sha256, what, params, arrays)
    return arrays, False
