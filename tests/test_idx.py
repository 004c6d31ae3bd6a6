"""MNIST-format files read with numpy (vae_training.idx) give what torchvision's loader gives."""
import gzip
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
from torchvision.datasets import MNIST
from torchvision.datasets.mnist import read_image_file, read_label_file

from vae_training import idx
from vae_training.data import DatasetUnavailable, load_dataset

REPO = __import__("pathlib").Path(__file__).resolve().parent.parent


def idx_bytes(arr: np.ndarray) -> bytes:
    """The IDX layout written out here, independently of the code under test: magic 0, 0,
    type 0x08 (unsigned byte), ndim; one big-endian uint32 per dimension; the bytes."""
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    return head + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def write_split(raw, prefix: str, n: int, seed: int, gz: bool = False, h: int = 28, w: int = 28):
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    raw.mkdir(parents=True, exist_ok=True)
    for name, arr in ((f"{prefix}-images-idx3-ubyte", imgs),
                      (f"{prefix}-labels-idx1-ubyte", labels)):
        data = idx_bytes(arr)
        if gz:
            (raw / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (raw / name).write_bytes(data)
    return imgs, labels


def test_read_idx_equals_torchvisions_reader(tmp_path):
    imgs, labels = write_split(tmp_path, "train", 7, seed=1, h=5, w=3)  # not square: order checked
    a = idx.read_idx(tmp_path / "train-images-idx3-ubyte")
    b = read_image_file(str(tmp_path / "train-images-idx3-ubyte"))
    assert a.dtype == np.uint8 and a.shape == (7, 5, 3) and a.flags.writeable
    assert torch.equal(torch.from_numpy(a), b) and np.array_equal(a, imgs)
    la = idx.read_idx(tmp_path / "train-labels-idx1-ubyte")
    lb = read_label_file(str(tmp_path / "train-labels-idx1-ubyte"))
    assert torch.equal(torch.from_numpy(la).long(), lb) and np.array_equal(la, labels)


def test_load_dataset_equals_torchvisions_mnist_class(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    write_split(raw, "train", 40, seed=2)
    write_split(raw, "t10k", 12, seed=3)
    for split in ("train", "test"):
        ours = load_dataset("mnist", tmp_path, split, download=False)
        ref = MNIST(str(tmp_path), train=split == "train", download=False)
        assert ours.images.dtype == torch.uint8 and ours.images.shape == (len(ref), 1, 28, 28)
        assert torch.equal(ours.images[:, 0], ref.data)
        assert ours.labels.dtype == torch.int64 and torch.equal(ours.labels, ref.targets)


def test_gz_copies_alone_are_read(tmp_path):
    # torchvision's class wants the uncompressed files (or a download) for these
    raw = tmp_path / "FashionMNIST" / "raw"
    imgs, labels = write_split(raw, "t10k", 9, seed=4, gz=True)
    ds = load_dataset("fashion-mnist", tmp_path, "test", download=False)
    assert np.array_equal(ds.images[:, 0].numpy(), imgs)
    assert np.array_equal(ds.labels.numpy(), labels) and ds.label_names[0] == "T-shirt/top"


def test_loading_mnist_does_not_import_torchvision(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    write_split(raw, "train", 4, seed=5)
    code = ("import sys; from vae_training.data import load_dataset; "
            f"ds = load_dataset('mnist', {str(tmp_path)!r}, 'train', download=False); "
            "print(len(ds), 'torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["4", "False"]


@pytest.mark.parametrize("damage, says", [
    (lambda b: b"\x00\x00\x0d\x03" + b[4:], "type 0x0d"),  # float32 IDX: not these datasets
    (lambda b: b"\x01" + b[1:], "bad magic"),
    (lambda b: b[:-5], "the file holds"),
])
def test_malformed_file_is_refused_naming_it(tmp_path, damage, says):
    raw = tmp_path / "MNIST" / "raw"
    write_split(raw, "train", 3, seed=6)
    f = raw / "train-images-idx3-ubyte"
    f.write_bytes(damage(f.read_bytes()))
    with pytest.raises(DatasetUnavailable) as e:
        load_dataset("mnist", tmp_path, "train", download=False)
    first_line = str(e.value).splitlines()[0]
    assert says in first_line and str(f) in first_line and "cannot be read" in first_line


def test_images_and_labels_must_agree(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    write_split(raw, "train", 3, seed=7)
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(idx.IdxError, match="expected"):
        idx.load_split(raw, "train")
