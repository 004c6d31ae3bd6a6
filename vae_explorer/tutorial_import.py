"""Open a tutorial's .pth/.pt (torch.save(model.state_dict(), ...)) in the explorer.

The file never meets a pickle reader in the server process: its zip structure is checked here
(entry count, sizes, compression ratio), then a child process (this module's main) loads it with
torch.load(weights_only=True) under an address-space and CPU-time limit, recognises the layout
and writes a safetensors checkpoint, which the server then validates like any upload
(vae_explorer.checkpoints.open_bytes). Conversions are heavy jobs: they wait for a slot of
vae_explorer.heavy.GATE, shared with the server's other heavy jobs.
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import heavy

REPO = Path(__file__).resolve().parent.parent
SUFFIXES = (".pth", ".pt")
TIME_LIMIT_S = 60
# Added to what importing torch maps (~3 GB of address space with CUDA libraries), so the file's
# tensors and the model get this much at most.
MEMORY_LIMIT_BYTES = 2 * 2**30
MAX_ZIP_ENTRIES = 4096
MAX_RATIO = 20  # torch.save stores entries uncompressed; a compressed entry this dense is a bomb
_PICKLE_START = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


@dataclass
class Imported:
    data: bytes | None = None  # the safetensors checkpoint
    error: str = ""
    need_dataset: list[str] = field(default_factory=list)  # ask the user, then call again
    layout: str = ""
    notes: list[str] = field(default_factory=list)


def is_tutorial_file(name: str) -> bool:
    return name.lower().endswith(SUFFIXES)


def inspect_bytes(data: bytes, name: str, limit: int) -> str:
    """'' if the bytes may go to the child, else why not. Nothing is unpickled here."""
    if len(data) > limit:
        return f"{name}: {len(data) / 2**20:.1f} MB is over the {limit / 2**20:.0f} MB limit."
    if data[:2] == b"PK":
        try:
            infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            return f"{name}: not a readable torch.save zip file ({e})."
        if len(infos) > MAX_ZIP_ENTRIES:
            return f"{name}: {len(infos)} entries in the zip, over the {MAX_ZIP_ENTRIES} limit."
        total = sum(i.file_size for i in infos)
        if total > 2 * limit:
            return (f"{name}: the zip unpacks to {total / 2**20:.0f} MB, over the "
                    f"{2 * limit / 2**20:.0f} MB limit.")
        for i in infos:
            if i.compress_type != zipfile.ZIP_STORED and i.file_size > MAX_RATIO * max(
                    i.compress_size, 1):
                return f"{name}: zip entry {i.filename[:80]!r} is compressed suspiciously densely."
        if not any(i.filename.endswith("data.pkl") for i in infos):
            return f"{name}: a zip file, but not one written by torch.save."
        return ""
    if data[:2] in _PICKLE_START:
        return ""  # torch's legacy format; weights_only in the child refuses anything but weights
    return f"{name}: not a torch.save file (.pth/.pt), nor a safetensors checkpoint."


def _safe_name(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:100] or "model.pth"
    return stem if is_tutorial_file(stem) else stem + ".pth"


def convert_bytes(data: bytes, name: str, dataset: str | None, limit: int,
                  timeout: float = TIME_LIMIT_S, on_wait=None) -> Imported:
    """Convert uploaded .pth bytes in a child process. Imported.need_dataset lists the choices
    when the file cannot tell which dataset it came from (call again with one of them).
    on_wait(jobs ahead) is called while the conversion waits for a heavy-job slot."""
    err = inspect_bytes(data, name, limit)
    if err:
        return Imported(error=err)
    with heavy.GATE.slot(on_wait):
        with tempfile.TemporaryDirectory(prefix="vae-import-") as d:
            src, out = Path(d) / _safe_name(name), Path(d) / "out.safetensors"
            src.write_bytes(data)
            env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "vae_explorer.tutorial_import", str(src), str(out),
                     dataset or ""], cwd=d, env=env, capture_output=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return Imported(error=f"{name}: the conversion took over {timeout:.0f} s and was "
                                      f"stopped.")
            try:
                rep = json.loads(proc.stdout.decode("utf-8").strip().splitlines()[-1])
            except (ValueError, IndexError):
                why = "ran out of memory" if proc.returncode in (-9, -11) or b"MemoryError" in \
                    proc.stderr else f"exit status {proc.returncode}"
                return Imported(error=f"{name}: the conversion failed ({why}).")
            if rep.get("error") or rep.get("need_dataset"):
                return Imported(error=str(rep.get("error", "")),
                                need_dataset=[str(s) for s in rep.get("need_dataset", [])])
            return Imported(data=out.read_bytes(), layout=str(rep.get("layout", "")),
                            notes=[str(n) for n in rep.get("notes", [])])


def _child(src: str, out: str, dataset: str) -> dict:
    import resource

    import torch

    torch.set_num_threads(1)
    try:  # Linux; elsewhere (no /proc, e.g. macOS, which hardly enforces RLIMIT_AS) time only
        vm = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
                  if line.startswith("VmSize:"))
        cap = vm + MEMORY_LIMIT_BYTES
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (OSError, StopIteration, ValueError):
        pass
    resource.setrlimit(resource.RLIMIT_CPU, (TIME_LIMIT_S, TIME_LIMIT_S))

    from vae_training.checkpoint import CheckpointError, save_checkpoint
    from vae_training.convert import ConversionError, build, datasets_for, load_state_dict
    from vae_training.layouts import LayoutError, recognise

    try:
        if not dataset:
            choices = datasets_for(recognise(load_state_dict(src)).config.image_shape)
            if len(choices) > 1:
                return {"need_dataset": choices}
            # No known dataset has this image shape: an image folder is the general case.
            dataset = choices[0] if choices else "folder"
        c = build(src, None, dataset)
        save_checkpoint(out, c.model, c.doc)
    except LayoutError as e:
        return {"error": f"{Path(src).name}: {e}"}
    except (ConversionError, CheckpointError, ValueError) as e:  # ValueError: ConfigError too
        return {"error": str(e)}
    except MemoryError:
        return {"error": f"{Path(src).name}: too large to convert (memory limit)."}
    return {"layout": c.match.layout.name, "notes": c.notes}


if __name__ == "__main__":
    print(json.dumps(_child(*sys.argv[1:4])))
