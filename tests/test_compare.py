"""vae_explorer.analysis.compare / pixels: synthetic maps with known answers."""
from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from vae_explorer.analysis import compare, pixels


def _map(n=300, seed=0):
    return np.random.default_rng(seed).normal(0, 1, (n, 2)).astype(np.float32) * [3, 1]


def _rot(deg):
    t = np.radians(deg)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


@pytest.mark.parametrize("flip", [False, True])
def test_a_rotated_scaled_shifted_copy_aligns_back_with_zero_residual(flip):
    a = _map()
    b = 2.5 * a @ _rot(37) + [10.0, -4.0]
    if flip:
        b[:, 0] = -b[:, 0]
    al = compare.align(a, b)
    assert al.residual == pytest.approx(0.0, abs=1e-5)
    np.testing.assert_allclose(al.apply(b), a, atol=1e-4)
    assert al.scale == pytest.approx(1 / 2.5, rel=1e-5)
    assert al.reflected is flip
    assert "Procrustes" in al.describe() and "residual 0.000" in al.describe()


def test_unrelated_maps_leave_a_large_residual():
    al = compare.align(_map(seed=0), _map(seed=1))
    assert al.residual > 0.9


def test_align_refuses_maps_of_different_points():
    with pytest.raises(ValueError, match="same points"):
        compare.align(_map(10), _map(11))


def test_identical_codes_keep_every_neighbour_and_shuffled_codes_keep_few():
    z = np.random.default_rng(0).normal(size=(400, 16)).astype(np.float32)
    assert compare.kept_between(z, z.copy()).min() == 1.0
    shuffled = z[np.random.default_rng(1).permutation(len(z))]
    assert compare.kept_between(z, shuffled).mean() < 0.1


def test_moved_most_puts_the_displaced_points_first():
    z = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    w = z.copy()
    w[[5, 17]] = z[[17, 5]]  # two points swap places: their neighbourhoods change entirely
    idx, kept = compare.moved_most(compare.kept_between(z, w), n=2)
    assert set(idx.tolist()) == {5, 17}
    assert kept.max() < 0.2


def test_spread_orders_points_that_keep_no_neighbour_by_how_far_they_were_scattered():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 4)).astype(np.float32)
    assert compare.spread(z, z.copy()).max() < 3  # its neighbours, at about the usual distance
    w = z.copy()
    w[3] += 100.0  # far from everything it knew
    w[9] += 20.0  # moved, but less
    kept = np.zeros(len(z))  # as if nothing kept a neighbour: only the spread can order them
    sp = compare.spread(z, w)
    assert sp[3] > sp[9] > 10 > 3 > np.median(sp)
    idx, _ = compare.moved_most(kept, 2, sp)
    assert idx.tolist() == [3, 9]


def test_knn_accuracy_of_two_separate_clusters_is_one_and_of_random_labels_near_chance():
    rng = np.random.default_rng(0)
    xy = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(50, 1, (100, 2))])
    lab = np.repeat([0, 1], 100)
    assert compare.knn_accuracy(xy, lab) == 1.0
    assert 0.3 < compare.knn_accuracy(xy, rng.integers(0, 2, 200)) < 0.7


def test_trustworthiness_is_one_for_an_isometry_and_samples_big_inputs():
    high = np.random.default_rng(0).normal(size=(200, 2))
    assert compare.trustworthiness(high, high @ _rot(20)) == pytest.approx(1.0)
    assert len(compare.subsample(10_000, 3_000)) == 3_000


def _ck(dataset="mnist", shape=(1, 28, 28), likelihood="bernoulli", binarize="dynamic",
        metrics=None):
    return NS(data=NS(dataset=dataset, binarize=binarize, preprocess="unit"),
              model_config=NS(image_shape=list(shape), likelihood=likelihood, gaussian_sigma=0.1,
                              latent_dim=2),
              metrics=metrics or {"test_loss": 100.0, "iw_nll": 95.0, "active_units": 2,
                                  "knn_accuracy": 0.7, "kl_per_dim": [3.0, 4.0]})


def test_pairs_from_different_datasets_or_shapes_are_refused_with_the_reason():
    assert compare.refusal(_ck(), _ck()) is None
    msg = compare.refusal(_ck(), _ck(dataset="fashion-mnist"))
    assert "different datasets (mnist and fashion-mnist)" in msg
    msg = compare.refusal(_ck(), _ck(shape=(1, 32, 32)))
    assert "different image shapes ((1, 28, 28) and (1, 32, 32))" in msg


def test_likelihood_rows_only_compare_under_the_same_likelihood_and_pixels():
    rows, why = compare.metrics_rows(_ck(), _ck())
    assert why == "" and rows[0] == {"metric": "test -ELBO (nats)", "A": "100.00", "B": "100.00"}
    rows, why = compare.metrics_rows(_ck(), _ck(binarize="none"))
    assert "dynamically binarised pixels" in why and "grey levels" in why
    assert rows[0]["A"].endswith("(not comparable)") and rows[1]["B"].endswith("(not comparable)")
    assert rows[2] == {"metric": "active units", "A": "2 of 2", "B": "2 of 2"}  # still compared
    _, why = compare.metrics_rows(_ck(), _ck(likelihood="gaussian", binarize="dynamic"))
    assert "bernoulli likelihood and the other a gaussian" in why


def test_pca_of_pixels_decodes_its_own_plane_back():
    rng = np.random.default_rng(0)
    # images that vary along exactly two pixel directions: PCA's inverse rebuilds them
    base = rng.uniform(0.3, 0.7, (1, 6, 6, 1))
    d1, d2 = rng.normal(0, 0.03, (2, 1, 6, 6, 1))  # small: no pixel clips
    c = rng.normal(0, 1, (50, 2))
    imgs = np.round(np.clip(base + c[:, :1, None, None] * d1 + c[:, 1:, None, None] * d2, 0, 1)
                    * 255).astype(np.uint8)
    xy, fit = pixels.pca_map(imgs)
    assert fit["explained_ratio"].sum() > 0.99
    u, v = pixels.grid_coords(xy, 4)
    assert len(u) == 4 and v[0] > v[-1]  # the top row first
    one = pixels.pca_grid(fit, [xy[7, 0]], [xy[7, 1]], (6, 6, 1))[0]
    assert np.abs(one.astype(int) - imgs[7].astype(int)).max() <= 2


def test_precomputed_pixel_maps_are_the_ones_the_page_finds_and_prune_keeps_them(tmp_path,
                                                                              monkeypatch):
    from vae_explorer import cache, compute, precompute, sample

    monkeypatch.setenv("VAE_EXPLORER_SHIPPED_CACHE", str(tmp_path / "shipped"))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "user"))
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(tmp_path / "no-checkpoints"))
    assert precompute.main(["--pixels", "shapes", "--methods", "tsne", "--n", "150",
                            "--out", str(tmp_path / "shipped")]) == 0
    x, y = sample.load_split("shapes", str(tmp_path), "test", 150)
    flat = pixels.flat(compute.chw_to_hwc(x))
    xy, job = compute.slow_map(pixels.CACHE_SHA, sample.data_key("shapes", "test", x, y), "tsne", flat)
    assert job is None and xy.shape == (150, 2)  # found: no background job started
    precompute.main(["--prune", "--out", str(tmp_path / "shipped")])
    assert cache.orphans(tmp_path / "shipped", [pixels.CACHE_SHA]) == []
    assert len(list((tmp_path / "shipped").glob("pixels-*.npz"))) == 1


def test_the_inverse_alignment_takes_aligned_points_back_to_b():
    a = _map()
    b = 0.7 * a @ _rot(-52) + [3.0, 8.0]
    b[:, 1] = -b[:, 1]
    al = compare.align(a, b)
    pts = np.random.default_rng(3).normal(0, 2, (50, 2))
    np.testing.assert_allclose(al.invert(al.apply(pts)), pts, atol=1e-4)
    np.testing.assert_allclose(al.invert(a), b, atol=1e-4)


def test_a_started_layout_keys_its_own_cache_entry_and_default_keys_are_unchanged():
    from vae_explorer import projections

    plain = projections.cache_params("umap", 10, 0, "d")
    assert plain == {"method": "umap", "n": 10, "seed": 0, "data": "d", "v": 1}  # shipped keys
    one, two = _map(10, 1), _map(10, 2)
    k1 = projections.cache_params("umap", 10, 0, "d", one)
    assert k1["init"] == projections.init_id(one.copy()) != projections.init_id(two)
    assert {k: v for k, v in k1.items() if k != "init"} == plain


def test_umap_gets_the_layout_it_is_started_from(monkeypatch):
    """Known answer without numba: a stand-in umap module records what UMAP was given."""
    import sys
    import types

    from vae_explorer import projections

    got = {}

    class FakeUMAP:
        def __init__(self, **kw):
            got.update(kw)

        def fit_transform(self, x):
            return got["init"] * 2.0

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=FakeUMAP))
    start = _map(40)
    out = projections.project(np.random.default_rng(0).normal(size=(40, 8)), "umap", init=start)
    np.testing.assert_allclose(got["init"], start)
    np.testing.assert_allclose(out, 2.0 * start, rtol=1e-6)
    with pytest.raises(ValueError, match="initial layout"):
        projections.project(np.zeros((40, 8)), "umap", init=start[:10])


def _two_views(n=240, seed=0):
    """Two 'models' of the same points: 6 clusters in 10-D, and a noisy linear re-mix of them."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (6, 10))
    z = centres[rng.integers(0, 6, n)] + rng.normal(0, 1, (n, 10))
    w = z @ rng.normal(0, 1, (10, 12)) + rng.normal(0, 0.5, (n, 12))
    return z.astype(np.float32), w.astype(np.float32)


def test_tsne_of_b_started_from_a_ends_closer_to_a_than_from_its_own_start():
    from vae_explorer import projections

    za, zb = _two_views()
    a = projections.tsne_project(za, n_iter=250)
    own = projections.tsne_project(zb, n_iter=250, seed=7)
    from_a = projections.tsne_project(zb, n_iter=250, seed=7, init=a)
    # Procrustes can undo a rotation or reflection, not a different arrangement of the clusters
    assert compare.align(a, from_a).residual < compare.align(a, own).residual
    assert compare.align(a, from_a).residual < 0.5


def test_b_starts_from_a_2d_latent_at_once_and_waits_for_a_running_umap():
    from vae_explorer.comparemaps import start_from
    from vae_explorer.mapview import MapInfo

    xy = _map(20)
    latent = MapInfo(xy, "identity", "latent:k", "latent z1, z2", wanted="latent")
    init, wait = start_from(latent, "umap")
    assert init is xy and not wait
    assert start_from(latent, "pca") == (None, False)  # PCA maps are aligned by Procrustes only
    running = NS(poll=lambda: ("running", 0.5, "optimising"))
    pca_meanwhile = MapInfo(xy, "knn", "pca:k", "PCA 1, PCA 2", job=running, wanted="tsne")
    assert start_from(pca_meanwhile, "tsne") == (None, True)
    failed = NS(poll=lambda: ("error", 1.0, "boom"))
    pca_meanwhile.job = failed  # A's failed: B goes ahead from its own default start
    assert start_from(pca_meanwhile, "tsne") == (None, False)
    done = MapInfo(xy, "knn", "tsne:k", "t-SNE 1, t-SNE 2", wanted="tsne")
    assert start_from(done, "tsne")[0] is xy


def test_the_compare_settings_round_trip_through_the_url():
    from vae_explorer import state

    vals = {"cmp_with": "ckpt:mnist-conv-z16.safetensors", "cmp_colour": "moved"}
    url = state.url_for(vals, "compare")
    assert url == {"view": "compare", "cmp": "ckpt:mnist-conv-z16.safetensors",
                   "cmpcolour": "moved"}
    assert {k: v for k, v in state.parse_url(url).items() if k in vals} == vals
    assert state.parse_url({"cmp": "pixels:umap"})["cmp_with"] == "pixels:umap"
    for bad in ("pixels:lda", "ckpt:", "ckpt:../../etc/passwd", "http://x", "ckpt:a\nb"):
        assert "cmp_with" not in state.parse_url({"cmp": bad}), bad
    assert "cmpcolour" not in state.url_for({"cmp_colour": "label"})  # the default stays out


def test_the_compare_url_value_takes_listed_kinds_only():
    from vae_explorer.state import parse_compare

    assert [parse_compare(f"pixels:{m}") for m in ("pca", "umap", "tsne")] == [
        "pixels:pca", "pixels:umap", "pixels:tsne"]
    assert parse_compare("ckpt:mnist-conv-z16.safetensors") == "ckpt:mnist-conv-z16.safetensors"
    for bad in ("pixels:foo", "pixels:", "ckpt:", "ckpt:../x.safetensors", "ckpt:a\\b", "mnist",
                "ckpt:" + "a" * 300):
        assert parse_compare(bad) is None, bad
