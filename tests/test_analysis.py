"""vae_explorer.analysis: pure functions on small synthetic data with known answers."""
from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from vae_explorer.analysis import attributes, export, honesty, pointwise, rankings


def _two_clusters(n=200, d=8, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, (n // 2, d))
    b = rng.normal(0, 1, (n // 2, d)) + 50.0
    return np.vstack([a, b]).astype(np.float32), np.repeat([0, 1], n // 2)


# --- pointwise ---------------------------------------------------------------------------------

def test_grey_image_entropy_floor_is_784_ln2_and_its_excess_nll_is_zero():
    x = np.full((1, 28, 28, 1), 0.5)
    assert pointwise.entropy_floor(x)[0] == pytest.approx(784 * math.log(2))
    f = pointwise.figures(x, np.full_like(x, 0.5), kl=[3.0])
    assert f["rec_term"][0] == pytest.approx(0.0, abs=1e-3)
    assert f["neg_elbo"][0] == pytest.approx(3.0, abs=1e-3)


def test_bernoulli_term_ranks_the_worse_reconstruction_not_the_greyer_image():
    grey = np.full((1, 4, 4, 1), 128, np.uint8)  # perfectly reconstructed, high raw BCE
    binary = np.zeros((1, 4, 4, 1), np.uint8)
    binary[0, :2] = 255  # reconstructed a little wrong
    x = np.vstack([grey, binary])
    near = np.full((1, 4, 4, 1), 55, np.uint8)
    near[0, :2] = 200
    recon = np.vstack([grey, near])
    raw = pointwise.bernoulli_nll(x, recon)
    assert raw[0] > raw[1]  # by raw BCE the grey image looks worst
    f = pointwise.figures(x, recon, kl=[0.0, 0.0])
    assert f["rec_term"][1] > f["rec_term"][0]
    assert rankings.worst_reconstructions(f["rec_term"])[0][0] == 1


def test_bernoulli_nll_stays_finite_for_saturated_pixels():
    x = np.array([[0, 255]], np.uint8)
    recon = np.array([[255, 0]], np.uint8)  # every pixel as wrong as 8 bits allow
    nll = pointwise.bernoulli_nll(x, recon)
    assert np.isfinite(nll).all() and nll[0] == pytest.approx(-2 * math.log(1e-6), rel=1e-6)


def test_gaussian_nll_matches_the_formula_and_scales_for_symmetric_data():
    x = np.zeros((1, 2, 2, 1), np.uint8)
    recon = np.full_like(x, 255)
    ls = math.log(0.5)
    want = 4 * (0.5 * (1 / 0.5) ** 2 + ls + 0.5 * math.log(2 * math.pi))
    assert pointwise.gaussian_nll(x, recon, ls)[0] == pytest.approx(want)
    want_sym = 4 * (0.5 * (2 / 0.5) ** 2 + ls + 0.5 * math.log(2 * math.pi))
    assert pointwise.gaussian_nll(x, recon, ls, "symmetric")[0] == pytest.approx(want_sym)
    f = pointwise.figures(x, recon, [1.0], "gaussian", ls)
    assert f["neg_elbo"][0] == pytest.approx(want + 1.0, rel=1e-6)
    with pytest.raises(ValueError):
        pointwise.figures(x, recon, [1.0], "gaussian")


# --- rankings ----------------------------------------------------------------------------------

def test_knn_excludes_the_point_itself_even_with_duplicates():
    pts = np.array([[0.0], [0.0], [1.0], [3.0]])
    d, i = rankings.knn(pts, 2)
    assert i.shape == (4, 2)
    assert all(r not in row for r, row in enumerate(i))
    assert set(i[0]) == {1, 2} and d[0, 0] == 0.0


def test_point_planted_in_the_other_cluster_ranks_first_as_mislabel():
    mu, labels = _two_clusters()
    labels[7] = 1  # sits among label 0
    idx, score = rankings.likely_mislabels(mu, labels, k=10)
    assert idx[0] == 7 and score[0] == 1.0
    assert score[1] <= 0.1 + 1e-6


def test_far_point_ranks_first_as_outlier():
    mu, _ = _two_clusters()
    mu[42] = 1000.0
    idx, score = rankings.outliers(mu, k=10)
    assert idx[0] == 42 and score[0] > 10 * score[1]


def test_rankings_sort_worst_first_with_scores():
    s = np.array([0.1, 5.0, 2.0, 5.0])
    idx, sc = rankings.highest_kl(s, 3)
    assert idx.tolist() == [1, 3, 2] and sc.tolist() == [5.0, 5.0, 2.0]
    assert rankings.lowest_elbo(s)[0].tolist() == [1, 3, 2, 0]


# --- honesty -----------------------------------------------------------------------------------

def test_identity_map_of_2d_codes_keeps_every_neighbour():
    mu, _ = _two_clusters(d=2)
    kept = honesty.neighbours_kept(mu, mu, k=10)
    assert kept.shape == (len(mu),) and honesty.map_figure(kept) == pytest.approx(1.0)


def test_shuffled_map_keeps_few_neighbours():
    mu, _ = _two_clusters(d=8)
    xy = np.random.default_rng(1).permutation(mu[:, :2])
    assert honesty.map_figure(honesty.neighbours_kept(mu, xy, k=10)) < 0.5


def test_projection_keeping_the_clusters_apart_scores_above_a_shuffle():
    mu, _ = _two_clusters(d=8)
    good = honesty.map_figure(honesty.neighbours_kept(mu, mu[:, :2], k=10))
    bad = honesty.map_figure(honesty.neighbours_kept(
        mu, np.random.default_rng(2).permutation(mu[:, :2]), k=10))
    assert good > bad


def test_honesty_reuses_given_latent_neighbours():
    mu, _ = _two_clusters(d=2)
    _, idx = rankings.knn(mu, 10)
    assert np.array_equal(honesty.neighbours_kept(mu, mu, 10, latent_idx=idx),
                          honesty.neighbours_kept(mu, mu, 10))


# --- attributes --------------------------------------------------------------------------------

def test_attribute_vector_is_difference_of_group_means():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 4.0])
    codes = np.vstack([a + [0.1, 0, 0], a - [0.1, 0, 0], b + [0, 0.2, 0], b - [0, 0.2, 0]])
    v = attributes.attribute_vector(codes, [0, 1], [2, 3])
    assert np.allclose(v, b - a)
    assert np.allclose(attributes.apply(a, v, 1.0), b)
    strip = attributes.filmstrip_latents(a, v, [0.0, 0.5, 1.0])
    assert strip.shape == (3, 3) and np.allclose(strip[1], (a + b) / 2)
    with pytest.raises(ValueError):
        attributes.attribute_vector(codes, [], [2])


def test_read_selection_accepts_index_lists_only():
    assert attributes.read_selection([3, 1, 3], 5).tolist() == [1, 3]
    for bad in (None, [], [0, 9], [-1], ["x"], "abc", 7, [[1, 2]], [0.5]):
        assert attributes.read_selection(bad, 5) is None


# --- export ------------------------------------------------------------------------------------

def test_map_csv_round_trips_with_formula_prefix():
    names = ["=HYPERLINK(\"http://x\")", "plain, with comma", "+1", "-x", "@sum", "ok \"q\""]
    labels = np.array([0, 1, 2, 3, 4, 5])
    xy = np.arange(12, dtype=np.float32).reshape(6, 2) / 3
    codes = np.arange(18, dtype=np.float32).reshape(6, 3) / 7
    data = export.map_csv(labels, names, xy, codes, rec_err=np.full(6, 0.25), kl=np.ones(6),
                          neg_elbo=None, selected=[1, 4])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0] == ["index", "label", "label_name", "x", "y", "z1", "z2", "z3", "rec_err",
                       "kl", "neg_elbo", "selected"]
    assert len(rows) == 7
    got = [r[2] for r in rows[1:]]
    assert got == ["'=HYPERLINK(\"http://x\")", "plain, with comma", "'+1", "'-x", "'@sum",
                   "ok \"q\""]
    assert [int(r[11]) for r in rows[1:]] == [0, 1, 0, 0, 1, 0]
    assert float(rows[2][3]) == pytest.approx(xy[1, 0], abs=1e-6)
    assert [float(v) for v in rows[3][5:8]] == pytest.approx(codes[2].tolist(), abs=1e-6)
    assert rows[1][8:11] == ["0.25", "1.0", ""]
    # label names are quoted in the file itself
    assert b'"plain, with comma"' in data and b"\"'+1\"" in data


def test_image_grid_cells_carry_index_png_and_plain_caption():
    from vae_explorer import atlas, imagegrid

    a = np.zeros((4, 4, 1), np.uint8)
    p = imagegrid.pair(a, np.full_like(a, 255))
    assert p.shape == (4, 9, 1) and p[0, 4, 0] == 255
    d = imagegrid.grid_data([p], ["#3 <b>x</b>\n0.5"], [3], key="g", scale=2)
    cell = d["cells"][0]
    assert cell["i"] == 3 and cell["cap"] == "#3 <b>x</b>\n0.5"
    import base64
    assert atlas.decode_png(base64.b64decode(cell["png"])).shape[:2] == (8, 18)
