"""Issue 16: the built-in colour dataset and the factor scores (mutual information, MIG)."""
from __future__ import annotations

import numpy as np
import pytest

from vae_explorer.analysis.factors import discretise, factor_scores
from vae_training import colour_shapes as cs
from vae_training.config import DataConfig
from vae_training.data import load_dataset


def test_colour_shapes_are_deterministic_and_rgb():
    a, la, fa = cs.generate(64, seed=3)
    b, lb, fb = cs.generate(64, seed=3)
    c, _, _ = cs.generate(64, seed=4)
    assert a.shape == (64, 3, 64, 64) and a.dtype == np.uint8
    assert np.array_equal(a, b) and np.array_equal(la, lb) and np.array_equal(fa, fb)
    assert not np.array_equal(a, c)
    assert fa.shape == (64, len(cs.FACTOR_NAMES)) and 0 <= fa.min() and fa.max() <= 1


def _shape_pixels(img: np.ndarray, bg: float) -> np.ndarray:
    """Pixels (3, k) that differ from the grey background."""
    grey = round(bg * cs.BG_MAX * 255)
    mask = np.abs(img.astype(int) - grey).max(0) > 40
    return img[:, mask]


def test_the_factors_match_the_images():
    imgs, labels, f = cs.generate(400, seed=1)
    names = cs.FACTOR_NAMES
    hue, bg, scale = f[:, names.index("hue")], f[:, names.index("background")], f[:, names.index("scale")]
    # a red hue (near 0 or 1 on the wheel) gives red-dominant shape pixels; a green one green
    for i in np.nonzero((hue < 0.03) | (hue > 0.97))[0][:5]:
        px = _shape_pixels(imgs[i], bg[i]).mean(1)
        assert px[0] > px[1] + 80 and px[0] > px[2] + 80, px
    for i in np.nonzero(np.abs(hue - 1 / 3) < 0.03)[0][:5]:
        px = _shape_pixels(imgs[i], bg[i]).mean(1)
        assert px[1] > px[0] + 80 and px[1] > px[2] + 80, px
    # the background factor is the corner pixel's grey level
    assert np.allclose(imgs[:, 0, 0, 0], np.rint(bg * cs.BG_MAX * 255), atol=1)
    # within one shape, area grows with scale; the centroid follows x and y
    sq = labels == cs.SHAPE_NAMES.index("circle")
    area = np.array([_shape_pixels(imgs[i], bg[i]).shape[1] for i in np.nonzero(sq)[0]])
    assert np.corrcoef(area, scale[sq])[0, 1] > 0.95
    cols = []
    for i in range(len(imgs)):
        grey = round(bg[i] * cs.BG_MAX * 255)
        m = np.abs(imgs[i].astype(int) - grey).max(0) > 40
        cols.append(np.nonzero(m)[1].mean())
    assert np.corrcoef(cols, f[:, names.index("x")])[0, 1] > 0.95


def test_shapes_rgb_is_a_known_dataset_with_factors():
    ds = load_dataset("shapes-rgb", split="test")
    assert len(ds) == cs.TEST_SIZE and ds.image_shape == [3, 64, 64]
    assert ds.factor_names == cs.FACTOR_NAMES and ds.factors.shape == (cs.TEST_SIZE, 6)
    DataConfig(dataset="shapes-rgb").validate()  # a checkpoint trained on it opens
    with pytest.raises(ValueError, match="split"):
        cs.load_factors("val")  # not quietly the test split


def test_a_code_that_copies_a_factor_scores_one_and_noise_scores_zero():
    rng = np.random.default_rng(0)
    f = rng.random((5000, 2))
    codes = np.stack([f[:, 0] * 3 - 1, rng.standard_normal(5000)], 1)
    s = factor_scores(codes, f, ["a", "b"])
    assert s.mi[0, 0] > 0.95            # dimension 0 tells factor a completely
    assert s.mi[1, 0] < 0.05 and s.mi[:, 1].max() < 0.05  # noise tells nothing
    assert s.best_dim[0] == 0 and s.gap[0] > 0.9
    assert s.mig == pytest.approx((s.gap[0] + s.gap[1]) / 2)


def test_two_dimensions_copying_one_factor_give_no_gap():
    rng = np.random.default_rng(1)
    f = rng.random((5000, 1))
    codes = np.concatenate([f, -2 * f + 0.5], 1)
    s = factor_scores(codes, f, ["a"])
    assert s.mi[0, 0] > 0.95 and s.mi[1, 0] > 0.95
    assert s.mig < 0.05


def test_discrete_factors_are_used_as_categories():
    labels = np.repeat(np.arange(4), 500)
    codes = (labels + 0.01 * np.random.default_rng(2).standard_normal(2000))[:, None]
    s = factor_scores(codes, labels[:, None], ["class"], discrete=(True,))
    assert s.mi[0, 0] > 0.95
    assert discretise(np.ones(10)).tolist() == [0] * 10  # a constant has one bin


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="same N"):
        factor_scores(np.zeros((10, 2)), np.zeros((9, 1)), ["a"])


@pytest.mark.parametrize("split,n", [("test", 1000), ("train+test", 4000)])
def test_the_maps_sample_gets_the_factors_of_its_own_images(split, n):
    from vae_explorer import sample
    x, y = sample.load_split("shapes-rgb", "", split, n)
    f, names = sample.load_factors("shapes-rgb", split, n)
    assert f.shape == (n, 6) and names == cs.FACTOR_NAMES
    bg = f[:, names.index("background")]
    assert np.allclose(x[:, 0, 0, 0], np.rint(bg * cs.BG_MAX * 255), atol=1)  # same images
    assert sample.load_factors("mnist", split, n) is None


def test_colour_by_factor_applies_only_where_the_data_has_it():
    from types import SimpleNamespace
    from vae_explorer import mapview, state
    assert state.parse_factor("hue") == "hue" and state.parse_factor("") == ""
    assert state.parse_factor("<img src=x>") is None and state.parse_factor("x" * 40) is None
    plain = SimpleNamespace(factor_names=[], factors=None)
    assert mapview.colouring(plain, "kl", "hue") == "kl"  # no such factor: Colour by's layer
    assert mapview.factor_layer(plain, "f:hue") is None
    f = np.random.default_rng(0).random((10, 2)).astype(np.float32)
    rgb = SimpleNamespace(factor_names=["hue", "scale"], factors=f)
    assert mapview.colouring(rgb, "kl", "scale") == "f:scale"
    assert mapview.colouring(rgb, "kl", "") == "kl"
    vals, title = mapview.factor_layer(rgb, "f:scale")
    assert np.array_equal(vals, f[:, 1]) and title.startswith("scale")
    assert mapview.factor_layer(rgb, "f:x") is None


def test_factor_table_rows_follow_the_kl_order():
    from vae_explorer.analysis.factors import sample_factors, table
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 3000)
    f = rng.random((3000, 1))
    codes = np.stack([rng.standard_normal(3000), f[:, 0], labels + 0.01 * rng.standard_normal(3000)], 1)
    ff, names, discrete = sample_factors(labels, f, ["hue"])
    s = factor_scores(codes, ff, names, discrete)
    t = table(s, [2, 1, 0], np.array([0.0, 1.0, 2.0]))
    assert t["dimension"] == ["z3 (KL 2.00)", "z2 (KL 1.00)", "z1 (KL 0.00)"]
    assert t["shape"][0] > 0.9 and t["hue"][1] > 0.9 and t["hue"][2] < 0.05


def test_best_dimensions_name_each_factors_dimension_strongest_first():
    from vae_explorer.analysis.factors import best_dimensions
    rng = np.random.default_rng(4)
    f = rng.random((3000, 2))
    # z1 copies "b" exactly; z2 holds "a" only coarsely (its value rounded to 4 levels)
    codes = np.stack([f[:, 1], np.round(f[:, 0] * 3), rng.standard_normal(3000)], 1)
    s = factor_scores(codes, f, ["a", "b"])
    lines = best_dimensions(s)
    assert [ln.split(":")[0] for ln in lines] == ["b", "a"]
    assert lines[0].startswith("b: z1 (1.00, gap 0.9") and lines[1].startswith("a: z2 (0.4")


def test_the_map_pages_popover_says_what_it_holds_and_what_of_it_is_in_use():
    """Its body is mounted only when opened: the label names a factor colouring the map and a
    search, as plain text (a search is the user's text, its label renders Markdown)."""
    from vae_explorer import mapview
    assert mapview.more_label([], 2) == "Find, neighbours"
    assert mapview.more_label(["hue", "scale"], 16) == "Find, neighbours, factors, empty space"
    assert mapview.more_label(["hue"], 2, factor="hue") == "colour: hue"
    assert mapview.more_label(["hue"], 2, factor="nope") == "Find, neighbours, factors"
    assert mapview.more_label([], 2, search="  ") == "Find, neighbours"
    got = mapview.more_label(["hue"], 2, factor="hue", search="![x](http://h/x.png) and more")
    assert got.startswith("colour: hue · find: ") and "](" not in got and "\\!\\[x\\]" in got
    assert got.endswith("…") and len(got) < 60
