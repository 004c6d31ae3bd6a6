"""vae_explorer.sample: the "Points on the map" choices and the one-sentence missing-data message."""
from __future__ import annotations

import pytest

from vae_explorer import sample
from vae_training import shapes
from vae_training.data import DatasetUnavailable, load_dataset

SIZES = [1_000, 2_000, 5_000, 10_000, 20_000, 70_000]


def test_options_never_exceed_the_split():
    assert sample.size_options(SIZES[:4], 5_000) == [1_000, 2_000, 5_000]
    assert sample.size_options(SIZES[:4], 10_000) == [1_000, 2_000, 5_000, 10_000]
    assert sample.size_options(SIZES, 25_000) == [1_000, 2_000, 5_000, 10_000, 20_000, 25_000]
    assert sample.size_options(SIZES[:4], 300) == [300]
    assert sample.size_options(SIZES[:4], None) == SIZES[:4]  # unknown until loaded


def test_default_is_ten_thousand_or_all_there_is():
    assert sample.default_size([1_000, 2_000, 5_000]) == 5_000
    assert sample.default_size([1_000, 2_000, 5_000, 10_000, 20_000, 70_000]) == 10_000
    assert sample.default_size([300]) == 300


def test_split_sizes_match_the_data():
    assert sample.split_size("shapes", "test") == shapes.TEST_SIZE
    assert sample.split_size("shapes", "train+test") == shapes.TEST_SIZE + shapes.TRAIN_SIZE
    assert sample.split_size("mnist", "test") == 10_000
    assert sample.split_size("folder", "test") is None


@pytest.mark.parametrize("split", ["test", "train"])
def test_missing_mnist_is_one_sentence(tmp_path, split):
    with pytest.raises(DatasetUnavailable) as e:
        load_dataset("mnist", tmp_path, split, download=False)
    msg = sample.missing_sentence(e.value, str(tmp_path))
    prefix = "t10k" if split == "test" else "train"
    assert msg.startswith(f"MNIST's {split} images are not in `{tmp_path}`")
    assert f"`{prefix}-images-idx3-ubyte.gz` and `{prefix}-labels-idx1-ubyte.gz`" in msg
    assert f"`{tmp_path / 'MNIST' / 'raw'}/`" in msg and "Data root" in msg and "internet" in msg
    assert "\n" not in msg and msg.endswith("download them.")
    for noise in ("RuntimeError", "download=True", "--data-root", "Error"):
        assert noise not in msg
        assert noise not in e.value.details
    assert "http" in e.value.details and str(tmp_path / "MNIST" / "raw") in e.value.details
