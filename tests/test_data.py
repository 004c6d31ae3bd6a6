import numpy as np
import pytest
import torch
from PIL import Image

from vae_training import shapes
from vae_training.data import (BatchIterator, DatasetUnavailable, dynamic_binarize, load_dataset,
                           to_data_space, to_unit)


def test_torchvision_mnist_loader_reads_idx_files(fake_mnist):
    root, data = fake_mnist
    tr = load_dataset("mnist", root, "train", download=False)
    te = load_dataset("mnist", root, "test", download=False)
    assert tr.images.dtype == torch.uint8 and tr.images.shape == (64, 1, 28, 28)
    assert te.images.shape == (32, 1, 28, 28)
    assert torch.equal(tr.images[:, 0], torch.from_numpy(data["train"][0]))
    assert torch.equal(te.labels, torch.from_numpy(data["t10k"][1]).long())
    assert tr.labels.dtype == torch.int64
    assert tr.label_names == [str(i) for i in range(10)]
    assert tr.name == "mnist"


def test_fashion_mnist_folder_and_labels(tmp_path):
    from _training_helpers import make_fake_mnist

    make_fake_mnist(tmp_path, "FashionMNIST")
    ds = load_dataset("fashion-mnist", tmp_path, "train", download=False)
    assert ds.images.shape == (64, 1, 28, 28) and ds.label_names[9] == "Ankle boot"


def test_missing_dataset_says_where_to_put_files(tmp_path):
    with pytest.raises(DatasetUnavailable) as e:
        load_dataset("mnist", tmp_path, "train", download=False)
    msg = str(e.value)
    assert str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte") in msg
    assert "t10k-labels-idx1-ubyte" in msg and ".gz" in msg and "http" in msg
    assert isinstance(e.value, RuntimeError)


def test_resize_on_load(fake_mnist):
    root, _ = fake_mnist
    ds = load_dataset("mnist", root, "test", download=False, image_size=16)
    assert ds.images.shape == (32, 1, 16, 16) and ds.images.dtype == torch.uint8


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls, mode in (("cats", "RGB"), ("dogs", "L")):
        (tmp_path / cls).mkdir()
        for i in range(10):
            shape = (40, 30, 3) if mode == "RGB" else (30, 40)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
                tmp_path / cls / f"{i}.png")
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    tr = load_dataset("folder", tmp_path, "train", image_size=16)
    te = load_dataset("folder", tmp_path, "test", image_size=16)
    assert tr.label_names == ["cats", "dogs"]
    assert tr.images.shape == (18, 3, 16, 16) and te.images.shape == (2, 3, 16, 16)
    assert tr.labels.tolist() == [0] * 9 + [1] * 9
    # the grey images were expanded to 3 identical channels
    g = tr.images[tr.labels == 1]
    assert torch.equal(g[:, 0], g[:, 1])


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(DatasetUnavailable, match="class sub-folders"):
        load_dataset("folder", tmp_path, "train")


def test_shapes_are_deterministic_with_factors():
    a = shapes.generate_shapes(300, seed=5)
    b = shapes.generate_shapes(300, seed=5)
    c = shapes.generate_shapes(300, seed=6)
    for u, v in zip(a, b):
        assert np.array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    imgs, labels, factors = a
    assert imgs.dtype == np.uint8 and imgs.shape == (300, 1, 28, 28)
    assert factors.shape == (300, len(shapes.FACTOR_NAMES)) and factors.dtype == np.float32
    assert factors.min() >= 0 and factors.max() <= 1
    assert set(labels.tolist()) == set(range(len(shapes.SHAPE_NAMES)))
    # anti-aliased: intermediate grey levels exist; nothing touches the border
    assert ((imgs > 0) & (imgs < 255)).any()
    assert imgs[:, :, 0, :].max() == 0 and imgs[:, :, :, -1].max() == 0
    # the scale factor is visible: bigger scale, more ink (within a class)
    ink = imgs.reshape(300, -1).sum(1)
    sel = labels == 1
    assert np.corrcoef(factors[sel, 0], ink[sel])[0, 1] > 0.9
    # position is a small jitter around the middle (so that it cannot dominate a 2-D latent),
    # and follows the x factor
    im = imgs[:, 0].astype(np.float64)
    cx = (im * (np.arange(28) + 0.5)).sum((1, 2)) / im.sum((1, 2))
    circles_and_rings = np.isin(labels, [1, 5])  # symmetric: ink centre = shape centre
    assert np.abs(cx[circles_and_rings] - 14).max() <= shapes.POSITION_JITTER + 0.05
    assert np.corrcoef(factors[circles_and_rings, 1], cx[circles_and_rings])[0, 1] > 0.95


def test_shapes_dataset_splits():
    tr = load_dataset("shapes", None, "train")
    te = load_dataset("shapes", None, "test")
    assert len(tr) == 20000 and len(te) == 5000
    assert tr.factors.shape == (20000, 4) and tr.label_names == shapes.SHAPE_NAMES
    assert not torch.equal(tr.images[:5000], te.images)


def test_pixel_spaces_and_binarize():
    u8 = torch.tensor([0, 128, 255], dtype=torch.uint8)
    unit = to_data_space(u8, "unit")
    sym = to_data_space(u8, "symmetric")
    assert unit.min() == 0 and unit.max() == 1 and sym.min() == -1 and sym.max() == 1
    assert torch.allclose(to_unit(sym, "symmetric"), unit)
    g = torch.Generator().manual_seed(0)
    x = torch.full((20000,), 0.3)
    b = dynamic_binarize(x, g)
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert abs(b.mean().item() - 0.3) < 0.02
    assert torch.equal(b, dynamic_binarize(x, torch.Generator().manual_seed(0)))


def test_batch_iterator_covers_each_index_once_and_shards():
    imgs = torch.arange(103, dtype=torch.uint8).reshape(103, 1, 1, 1)
    labels = torch.arange(103)
    it = BatchIterator(imgs, labels, 10, torch.Generator().manual_seed(1))
    seen = torch.cat([y for _, y in it])
    assert len(it) == 11 and sorted(seen.tolist()) == list(range(103))
    again = torch.cat([y for _, y in BatchIterator(imgs, labels, 10,
                                                   torch.Generator().manual_seed(1))])
    assert torch.equal(seen, again)
    shards = [torch.cat([y for _, y in BatchIterator(imgs, labels, 10,
                                                     torch.Generator().manual_seed(1),
                                                     rank=r, world=2)]) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 51
    assert not set(shards[0].tolist()) & set(shards[1].tolist())


def test_real_mnist_and_fashion(shared_datasets):
    for name, names0 in (("mnist", "0"), ("fashion-mnist", "T-shirt/top")):
        ds = load_dataset(name, shared_datasets, "test", download=False)
        assert ds.images.shape == (10000, 1, 28, 28) and ds.label_names[0] == names0
        assert ds.labels.bincount().min() > 800


def test_batch_iterator_yields_the_rows_of_the_seeded_permutation():
    """The batches (index_select) are exactly images[perm] in order, with their own labels, so a
    run's data order and --resume stay what they were with advanced indexing."""
    g = torch.Generator().manual_seed(3)
    imgs = torch.randint(0, 256, (50, 1, 4, 4), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (50,), generator=g)
    perm = torch.randperm(50, generator=torch.Generator().manual_seed(5))
    got = list(BatchIterator(imgs, labels, 16, torch.Generator().manual_seed(5)))
    assert [len(x) for x, _ in got] == [16, 16, 16, 2]
    assert torch.equal(torch.cat([x for x, _ in got]), imgs[perm])
    assert torch.equal(torch.cat([y for _, y in got]), labels[perm])
    assert all(x.dtype == torch.uint8 and x.is_contiguous() for x, _ in got)
