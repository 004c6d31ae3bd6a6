import json
import pickle
import struct

import pytest
import torch

from vae_training.checkpoint import (CheckpointError, build_metadata, load_checkpoint, read_metadata,
                                 save_checkpoint, update_checkpoint_metadata)
from vae_training.config import DataConfig, ModelConfig, TrainConfig
from vae_training.model import VAE


def _make(path, **mc_kw):
    torch.manual_seed(0)
    mc = ModelConfig(**{"arch": "conv", "hidden": [8, 16], "latent_dim": 2, **mc_kw})
    model = VAE(mc).eval()
    doc = build_metadata(mc, DataConfig(label_names=["a", "b"]), TrainConfig(), [{"epoch": 1}],
                         {"test_loss": 1.5}, hardware="test", train_seconds=1.0)
    save_checkpoint(path, model, doc)
    return model


def _split(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def _join(path, header, body):
    h = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(h)) + h + body)


def test_round_trip_gives_identical_outputs(tmp_path):
    p = tmp_path / "m.safetensors"
    model = _make(p, batchnorm=True)
    ck = load_checkpoint(p)
    x = torch.rand(4, 1, 28, 28)
    z = torch.randn(4, 2)
    with torch.no_grad():
        assert torch.equal(model.encode(x)[0], ck.model.encode(x)[0])
        assert torch.equal(model.mean_image(z), ck.model.mean_image(z))
    assert ck.data.label_names == ["a", "b"] and ck.metrics == {"test_loss": 1.5}
    assert ck.history == [{"epoch": 1}] and len(ck.sha256) == 64
    assert load_checkpoint(p.read_bytes()).sha256 == ck.sha256
    assert read_metadata(p)["hardware"] == "test"
    update_checkpoint_metadata(p, metrics={"iw_nll": 2.0})
    assert load_checkpoint(p).metrics == {"test_loss": 1.5, "iw_nll": 2.0}


def test_corrupt_and_truncated_files_are_refused(tmp_path):
    p = tmp_path / "m.safetensors"
    _make(p)
    data = p.read_bytes()
    bad = tmp_path / "bad.safetensors"
    for blob in (b"", b"garbage", data[:len(data) // 2], data[:20], b"\x00" * 100,
                 data[:8] + b"{not json" + data[17:]):
        bad.write_bytes(blob)
        with pytest.raises(CheckpointError):
            load_checkpoint(bad)
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_oversized_header_is_refused_before_reading_it(tmp_path):
    p = tmp_path / "m.safetensors"
    p.write_bytes(struct.pack("<Q", 10 ** 12) + b"{}" + b"\x00" * 64)
    with pytest.raises(CheckpointError, match="header length"):
        load_checkpoint(p)


def test_wrong_shape_nan_and_wrong_dtype_are_refused(tmp_path):
    p = tmp_path / "m.safetensors"
    _make(p)
    header, body = _split(p)
    name = "fc_mu.weight"
    # wrong shape (same byte count, so only the architecture check can catch it)
    h = json.loads(json.dumps(header))
    h[name]["shape"] = list(reversed(h[name]["shape"]))
    _join(tmp_path / "shape.safetensors", h, body)
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(tmp_path / "shape.safetensors")
    # wrong dtype
    for dt in ("I32", "I64", "U8"):
        h = json.loads(json.dumps(header))
        h[name]["dtype"] = dt
        _join(tmp_path / "dtype.safetensors", h, body)
        with pytest.raises(CheckpointError):
            load_checkpoint(tmp_path / "dtype.safetensors")
    # NaN weights
    torch.manual_seed(0)
    mc = ModelConfig(arch="conv", hidden=[8, 16], latent_dim=2)
    m = VAE(mc)
    with torch.no_grad():
        m.fc_mu.weight[0, 0] = float("nan")
    save_checkpoint(tmp_path / "nan.safetensors", m,
                    build_metadata(mc, DataConfig(), TrainConfig()))
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(tmp_path / "nan.safetensors")


def test_hostile_configs_are_refused_before_allocation(tmp_path):
    p = tmp_path / "m.safetensors"
    _make(p)
    header, body = _split(p)
    doc = json.loads(header["__metadata__"]["vae"])
    for change in ({"latent_dim": 10 ** 9}, {"hidden": [8192] * 8, "arch": "mlp"},
                   {"image_shape": [1, 100000, 100000]}, {"arch": "os.system"}):
        d = json.loads(json.dumps(doc))
        d["model"].update(change)
        h = dict(header, __metadata__={"vae": json.dumps(d)})
        _join(tmp_path / "hostile.safetensors", h, body)
        with pytest.raises(CheckpointError):
            load_checkpoint(tmp_path / "hostile.safetensors")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickles_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    for i, blob in enumerate((pickle.dumps(_Evil(str(marker)), protocol=2),
                              pickle.dumps(_Evil(str(marker)), protocol=3),
                              pickle.dumps(_Evil(str(marker)), protocol=4),
                              pickle.dumps(_Evil(str(marker)), protocol=0))):
        p = tmp_path / f"evil{i}.safetensors"
        p.write_bytes(blob)
        with pytest.raises(CheckpointError):
            load_checkpoint(p)
        with pytest.raises(CheckpointError):
            load_checkpoint(blob)
    # a torch.save zip holding the same object
    p = tmp_path / "evil.pt"
    torch.save({"x": _Evil(str(marker))}, p)
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(p)
    assert not marker.exists()


def _with_doc(tmp_path, edit, name="hostile.safetensors"):
    """A copy of a valid checkpoint whose metadata document was changed by edit(doc) -> doc."""
    p = tmp_path / "base.safetensors"
    if not p.exists():
        _make(p)
    header, body = _split(p)
    doc = edit(json.loads(header["__metadata__"]["vae"]))
    text = doc if isinstance(doc, str) else json.dumps(doc)
    out = tmp_path / name
    _join(out, dict(header, __metadata__={"vae": text}), body)
    return out


def test_deeply_nested_metadata_is_a_checkpoint_error_not_recursion(tmp_path):
    # 100,000 levels made json.loads raise RecursionError (not the loader's error type).
    deep = "[" * 100_000 + "]" * 100_000

    def edit(doc):
        return json.dumps(doc)[:-1] + ', "description": ' + deep + "}"

    p = _with_doc(tmp_path, edit)
    for fn in (load_checkpoint, read_metadata):
        with pytest.raises(CheckpointError, match="nested deeper"):
            fn(p)


def test_deeply_nested_safetensors_header_is_refused(tmp_path):
    p = tmp_path / "m.safetensors"
    _make(p)
    header, body = _split(p)
    text = json.dumps(header)[:-1] + ', "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    h = text.encode()
    p.write_bytes(struct.pack("<Q", len(h)) + h + body)
    with pytest.raises(CheckpointError, match="nested deeper"):
        load_checkpoint(p)


def test_huge_texts_and_histories_are_refused(tmp_path):
    cases = {
        "description": lambda d: {**d, "description": "x" * 10_000_000},
        "history": lambda d: {**d, "history": [{"epoch": i} for i in range(300_000)]},
        "label": lambda d: {**d, "hardware": "y" * 100_000},
        "keys": lambda d: {**d, "metrics": {f"m{i}": 1.0 for i in range(5_000)}},
    }
    for name, edit in cases.items():
        p = _with_doc(tmp_path, edit, f"{name}.safetensors")
        with pytest.raises(CheckpointError, match="limit"):
            load_checkpoint(p)


def test_unknown_dataset_name_is_refused_naming_the_known_ones(tmp_path):
    p = _with_doc(tmp_path, lambda d: {**d, "data": {**d["data"], "dataset": "imagenet-22k"}})
    with pytest.raises(CheckpointError, match="unknown dataset 'imagenet-22k'.*mnist"):
        load_checkpoint(p)


def test_shipped_sized_documents_stay_well_inside_the_bounds(tmp_path):
    # A long real run: 2,000 epochs of 10 metrics each must still open.
    hist = [{k: 1.0 for k in ("epoch", "train_loss", "test_loss", "train_recon", "test_recon",
                              "train_kl", "test_kl", "seconds", "lr", "beta")}] * 2_000
    p = _with_doc(tmp_path, lambda d: {**d, "history": hist}, "long.safetensors")
    assert len(load_checkpoint(p).history) == 2_000


def test_library_versions_names_torchvision_without_importing_it():
    """Each run records the versions; importing torchvision for it cost ~0.4 s per run."""
    import subprocess
    import sys

    code = ("import sys; from vae_training.checkpoint import library_versions as v; d = v(); "
            "print('torchvision' in d, 'torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]
