"""Plain-function logic of the explorer (no streamlit): fast, and each test can fail."""
from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from PIL import Image

from _explorer_helpers import make_checkpoint
from vae_explorer import (cache, checkpoints, cursor, encode, grids, images, interpolate, projection_jobs,
                          projections)
from vae_explorer import traversal
from vae_training.checkpoint import file_sha256


@pytest.fixture(scope="module")
def ck_path(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "tiny-z2.safetensors")


@pytest.fixture(scope="module")
def ck(ck_path):
    c, err = checkpoints.open_path(ck_path)
    assert err is None, err
    return c


# ----------------------------------------------------------------------------- projections


def _blob(n=300, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * np.array([5, 3, 1, 0.5, 0.2, 0.1])[:d]).astype(np.float32)


def test_pca_shape_determinism_and_variance_order():
    x = _blob()
    y1, fit1 = projections.pca(x)
    y2, fit2 = projections.pca(x.copy())
    assert y1.shape == (300, 2) and y1.dtype == np.float32
    np.testing.assert_array_equal(y1, y2)
    assert y1[:, 0].var() >= y1[:, 1].var()
    r = fit1["explained_ratio"]
    assert r[0] >= r[1] > 0
    # the first axis is the high-variance input dimension
    assert abs(fit1["components"][0, 0]) > 0.99
    # inverse of the transform lies on the plane: transform(inverse(y)) == y
    np.testing.assert_allclose(projections.pca_transform(projections.pca_inverse(y1, fit1), fit1),
                               y1, atol=1e-4)


def test_project_identity_for_2d_and_1d():
    x = _blob(50, 2)
    np.testing.assert_array_equal(projections.project(x, "umap"), x)
    one = projections.project(x[:, :1], "pca")
    assert one.shape == (50, 2) and np.all(one[:, 1] == 0)


@pytest.mark.slow
def test_tsne_tiny_deterministic():
    x = _blob(120)
    a = projections.project(x, "tsne", seed=3)
    b = projections.project(x, "tsne", seed=3)
    assert a.shape == (120, 2) and np.isfinite(a).all()
    np.testing.assert_allclose(a, b)


@pytest.mark.slow
def test_umap_background_job_writes_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path))
    x = _blob(150)
    params = projections.cache_params("umap", len(x), 0, "test")
    job = projection_jobs.start_job(x, "umap", "f" * 64, "proj-umap", params)
    import time

    t0 = time.time()
    while job.poll()[0] == "running" and time.time() - t0 < 300:
        time.sleep(0.5)
    assert job.poll()[0] == "done", job.poll()
    y = job.result()
    assert y.shape == (150, 2) and np.isfinite(y).all()
    assert cache.load("f" * 64, "proj-umap", params)["xy"].shape == (150, 2)


# ----------------------------------------------------------------------------- grids


def test_grid_corners_and_axis_values():
    plane = grids.dims_plane(2, 0, 1)
    u = grids.prior_values(5, 0.05)
    z = grids.grid_latents(plane, u, u)
    assert z.shape == (25, 2)
    lo, hi = u[0], u[-1]
    assert lo == pytest.approx(-1.6449, abs=1e-3) and hi == pytest.approx(1.6449, abs=1e-3)
    np.testing.assert_allclose(z[0], [lo, hi], atol=1e-6)  # top-left: u min, v max
    np.testing.assert_allclose(z[4], [hi, hi], atol=1e-6)  # top-right
    np.testing.assert_allclose(z[-1], [hi, lo], atol=1e-6)  # bottom-right
    np.testing.assert_allclose(z[20], [lo, lo], atol=1e-6)  # bottom-left


def test_dims_plane_keeps_other_dims_at_base():
    base = np.arange(5, dtype=np.float32)
    plane = grids.dims_plane(5, 1, 3, base)
    z = grids.grid_latents(plane, np.array([-1.0, 1.0]), np.array([-2.0, 2.0]))
    np.testing.assert_allclose(z[:, [0, 2, 4]], np.tile(base[[0, 2, 4]], (4, 1)))
    np.testing.assert_allclose(z[0, [1, 3]], [-1, 2])


def test_three_point_plane_contains_points():
    rng = np.random.default_rng(1)
    a, b, c = rng.standard_normal((3, 10)).astype(np.float32)
    plane = grids.three_point_plane(a, b, c)
    z = grids.grid_latents(plane, np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    # rows top (v=1) first: [(0,1), (1,1), (0,0), (1,0)]
    np.testing.assert_allclose(z[2], a, atol=1e-5)
    np.testing.assert_allclose(z[3], b, atol=1e-5)
    np.testing.assert_allclose(z[0], c, atol=1e-5)
    np.testing.assert_allclose(plane.coords(np.stack([a, b, c])), [[0, 0], [1, 0], [0, 1]], atol=1e-4)
    with pytest.raises(ValueError):
        grids.three_point_plane(a, 2 * a, 3 * a)


def test_pca_plane_data_range_and_render(ck):
    codes = _blob(200, 4)
    plane = grids.pca_plane(codes)
    (u0, u1), (v0, v1) = grids.data_ranges(plane, codes)
    assert u1 - u0 > v1 - v0 > 0
    u = grids.linear_values(u0, u1, 4)
    z = grids.grid_latents(plane, u, grids.linear_values(v0, v1, 3))
    assert z.shape == (12, 4)
    imgs = np.zeros((12, 28, 28, 1), np.uint8)
    png = grids.render_png(imgs, u, grids.linear_values(v0, v1, 3), plane, scale=2)
    im = Image.open(io.BytesIO(png))
    assert im.width > 4 * 56 and im.height > 3 * 56  # tiles + axis labels


# ----------------------------------------------------------------------------- interpolation


def test_slerp_end_points_exact_and_constant_norm():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 16))
    b = b / np.linalg.norm(b) * np.linalg.norm(a)
    np.testing.assert_array_equal(interpolate.slerp(a, b, 0.0), a.astype(np.float32))
    np.testing.assert_array_equal(interpolate.slerp(a, b, 1.0), b.astype(np.float32))
    for t in np.linspace(0, 1, 11):
        assert np.linalg.norm(interpolate.slerp(a, b, t)) == pytest.approx(np.linalg.norm(a), rel=1e-5)
    p = interpolate.path(a, b, 7, "slerp")
    np.testing.assert_array_equal(p[0], a.astype(np.float32))
    np.testing.assert_array_equal(p[-1], b.astype(np.float32))


def test_slerp_parallel_and_antiparallel_fall_back():
    a = np.array([1.0, 2.0, 3.0])
    for b in (2 * a, -a, np.zeros(3)):
        m = interpolate.slerp(a, b, 0.5)
        assert np.isfinite(m).all()
        np.testing.assert_allclose(m, (a + b) / 2, atol=1e-6)


def test_lerp_midpoint():
    np.testing.assert_allclose(interpolate.lerp([0, 2], [2, 4], 0.5), [1, 3])
    with pytest.raises(ValueError):
        interpolate.interpolate([0], [1], 0.5, "cubic")


def test_gif_and_png_bytes_decode():
    frames = np.stack([np.full((8, 8, 1), v, np.uint8) for v in (0, 128, 255)])
    gif = interpolate.gif_bytes(frames, scale=2)
    im = Image.open(io.BytesIO(gif))
    assert im.format == "GIF" and im.size == (16, 16) and im.n_frames == 4  # boomerang 0,1,2,1
    png = interpolate.filmstrip_png(frames, scale=2, pad=1)
    strip = Image.open(io.BytesIO(png))
    assert strip.format == "PNG" and strip.height == 16 and strip.width > 3 * 16
    rgb = np.zeros((4, 4, 3), np.uint8)
    assert Image.open(io.BytesIO(images.png_bytes(rgb))).mode == "RGB"


# ----------------------------------------------------------------------------- cursor


def test_cursor_exact_at_code_and_identity():
    rng = np.random.default_rng(3)
    codes = rng.standard_normal((100, 8)).astype(np.float32)
    xy = rng.standard_normal((100, 2)).astype(np.float32)
    for i in (0, 17, 99):
        np.testing.assert_array_equal(cursor.latent_at(xy[i], xy, codes, "knn"), codes[i])
    # between points: inside the convex hull of neighbours' codes, finite
    mid = cursor.latent_at((xy[0] + xy[1]) / 2, xy, codes, "knn")
    assert np.isfinite(mid).all()
    codes2 = rng.standard_normal((50, 2)).astype(np.float32)
    np.testing.assert_allclose(cursor.latent_at([0.3, -1.2], codes2, codes2, "identity"), [0.3, -1.2])
    np.testing.assert_allclose(cursor.latents_to_map(codes[:3], codes, xy), xy[:3], atol=1e-6)


def test_hover_grid_layout():
    rng = np.random.default_rng(4)
    codes = rng.standard_normal((60, 2)).astype(np.float32)
    lat, ext = cursor.hover_grid(codes, codes, "identity", g=4, extent=(0, 4, 0, 4))
    assert lat.shape == (16, 2) and ext == (0, 4, 0, 4)
    np.testing.assert_allclose(lat[0], [0.5, 3.5])  # row 0 = top (y max), column 0 = x min
    np.testing.assert_allclose(lat[3], [3.5, 3.5])
    np.testing.assert_allclose(lat[-1], [3.5, 0.5])
    fit = projections.pca_fit(_blob(80, 4))
    lat2, _ = cursor.hover_grid(np.zeros((80, 2)) + rng.standard_normal((80, 2)), _blob(80, 4),
                                "pca", fit, g=3)
    assert lat2.shape == (9, 4)


# ----------------------------------------------------------------------------- checkpoints


def test_open_good_file_and_bytes(ck_path):
    ck, err = checkpoints.open_path(ck_path)
    assert err is None and ck.model_config.latent_dim == 2
    ck2, err2 = checkpoints.open_bytes(ck_path.read_bytes(), "x.safetensors")
    assert err2 is None and ck2.sha256 == ck.sha256


def test_upload_validation_errors(ck_path, tmp_path):
    good = ck_path.read_bytes()
    ck, err = checkpoints.open_bytes(good, "x.safetensors", limit=len(good) - 1)
    assert ck is None and "limit" in err
    ck, err = checkpoints.open_bytes(good, "model.pt")
    assert ck is None and "safetensors" in err
    ck, err = checkpoints.open_bytes(pickle.dumps({"a": 1}, protocol=2), "evil.safetensors")
    assert ck is None and "pickle" in err
    corrupt = bytearray(good)
    corrupt[8:40] = b"\xff" * 32  # break the JSON header
    ck, err = checkpoints.open_bytes(bytes(corrupt), "bad.safetensors")
    assert ck is None and err
    ck, err = checkpoints.open_bytes(good[: len(good) // 2], "trunc.safetensors")
    assert ck is None and err
    ck, err = checkpoints.open_bytes(b"", "empty.safetensors")
    assert ck is None and err
    ck, err = checkpoints.open_path(tmp_path / "nope.safetensors")
    assert ck is None and "No file" in err
    p = tmp_path / "model.pth"
    p.write_bytes(good)
    ck, err = checkpoints.open_path(p)
    assert ck is None and "safetensors" in err


def _with_nan(data: bytes) -> bytes:
    """The same checkpoint with a NaN written into its first float32 tensor (header intact)."""
    import struct

    from vae_training.checkpoint import parse_header

    header, _ = parse_header(data)
    body = 8 + struct.unpack("<Q", data[:8])[0]
    name, ent = next((k, v) for k, v in header.items() if v.get("dtype") == "F32")
    out = bytearray(data)
    off = body + ent["data_offsets"][0]
    out[off:off + 4] = struct.pack("<f", float("nan"))
    return bytes(out)


def test_trusted_open_defers_the_model_only_for_bytes_validated_before(tmp_path, monkeypatch,
                                                                        ck_path):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    first, err = checkpoints.open_path(ck_path, trust_validated=True)
    assert err is None and first.ready  # never seen here: fully validated before returning
    again, err = checkpoints.open_path(ck_path, trust_validated=True)
    assert err is None and not again.ready  # same bytes passed before: model deferred
    assert again.sha256 == first.sha256 and again.model_config.latent_dim == 2
    again.load_in_background()
    for _ in range(600):
        if again.ready or again.error:
            break
        __import__("time").sleep(0.05)
    assert again.ready and again.error is None
    assert again.model.latent_dim == 2


def test_trusted_open_of_bad_tensors_reports_the_error(tmp_path, monkeypatch, ck_path):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "nan.safetensors"
    bad.write_bytes(_with_nan(ck_path.read_bytes()))
    ck, err = checkpoints.open_path(bad, trust_validated=True)
    assert ck is None and "NaN" in err  # not validated before: refused up front
    # A forged "validated" mark (tampered cache) only defers the check; the model never loads.
    import hashlib

    checkpoints.mark_validated(hashlib.sha256(bad.read_bytes()).hexdigest())
    ck, err = checkpoints.open_path(bad, trust_validated=True)
    assert err is None and not ck.ready
    with pytest.raises(checkpoints.CheckpointError, match="NaN"):
        ck.model
    assert "NaN" in ck.error and not ck.ready


def test_header_open_imports_no_torch(tmp_path, ck_path):
    """What a warm open of the app needs (metadata, sha256) comes without `import torch`."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, VAE_EXPLORER_CACHE=str(tmp_path / "cache"))
    repo = str(Path(__file__).resolve().parent.parent)
    code = (f"import sys; sys.path.insert(0, {repo!r})\n"
            "from vae_explorer import checkpoints\n"
            f"ck, err = checkpoints.open_path({str(ck_path)!r}, trust_validated=True)\n"
            "print(err, ck.ready, 'torch' in sys.modules)\n")
    run = lambda: subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, timeout=120).stdout.split()
    assert run() == ["None", "True", "True"]  # first time: full validation, model built
    assert run() == ["None", "False", "False"]  # validated before: header only, no torch


def test_list_and_resolve(tmp_path, ck_path):
    import shutil

    shutil.copy(ck_path, tmp_path / "b.safetensors")
    shutil.copy(ck_path, tmp_path / checkpoints.DEFAULT_NAME)
    (tmp_path / "notes.txt").write_text("x")
    names = [p.name for p in checkpoints.list_checkpoints(tmp_path)]
    assert names == [checkpoints.DEFAULT_NAME, "b.safetensors"]
    assert checkpoints.resolve_name("b", tmp_path).name == "b.safetensors"
    assert checkpoints.resolve_name("../b.safetensors", tmp_path) is None


# ----------------------------------------------------------------------------- cache


def test_cache_round_trip_and_key_isolation(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "user"))
    monkeypatch.setenv("VAE_EXPLORER_SHIPPED_CACHE", str(tmp_path / "shipped"))
    a = {"xy": np.arange(6, dtype=np.float32).reshape(3, 2), "lab": np.array([1, 2, 3])}
    sha1, sha2 = "a" * 64, "b" * 64
    assert cache.load(sha1, "proj-umap", {"n": 3}) is None
    assert cache.save(sha1, "proj-umap", {"n": 3}, a) is not None
    got = cache.load(sha1, "proj-umap", {"n": 3})
    np.testing.assert_array_equal(got["xy"], a["xy"])
    np.testing.assert_array_equal(got["lab"], a["lab"])
    assert cache.load(sha2, "proj-umap", {"n": 3}) is None  # other checkpoint
    assert cache.load(sha1, "proj-tsne", {"n": 3}) is None  # other computation
    assert cache.load(sha1, "proj-umap", {"n": 4}) is None  # other parameters
    # shipped cache is read first
    cache.save(sha1, "proj-umap", {"n": 3}, {"xy": a["xy"] + 100}, directory=tmp_path / "shipped")
    assert cache.load(sha1, "proj-umap", {"n": 3})["xy"][0, 0] == 100
    # a file with pickled objects is refused (allow_pickle=False) and treated as a miss
    bad = tmp_path / "user" / cache.filename(sha2, "x", {})
    np.savez(bad, obj=np.array([{"a": 1}], dtype=object))
    assert cache.load(sha2, "x", {}) is None


def test_cache_unwritable_is_not_fatal(tmp_path, monkeypatch):
    f = tmp_path / "file"
    f.write_text("not a dir")
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(f / "sub"))
    assert cache.save("c" * 64, "x", {}, {"a": np.zeros(2)}) is None
    got, hit = cache.get_or_compute("c" * 64, "x", {}, lambda: {"a": np.ones(2)})
    assert not hit and got["a"].sum() == 2


# ----------------------------------------------------------------------------- encode / decode


def test_encode_and_decode_shapes(ck):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (37, 1, 28, 28), dtype=np.uint8)
    out = encode.encode_split(ck.model, x, np.zeros(37, int), "unit", batch=16)
    assert out["mu"].shape == (37, 2) and out["recon"].shape == (37, 28, 28, 1)
    assert out["recon"].dtype == np.uint8 and out["rec_err"].shape == (37,)
    assert (out["kl"] >= 0).all() and out["kl_per_dim"].shape == (2,)
    np.testing.assert_allclose(out["kl"].mean(), out["kl_per_dim"].sum(), rtol=1e-5)
    imgs = encode.decode(ck.model, out["mu"][:5], "unit")
    assert imgs.shape == (5, 28, 28, 1) and imgs.dtype == np.uint8
    # the reconstruction is the decoded mean
    np.testing.assert_array_equal(imgs, out["recon"][:5])


def test_conditional_decode_needs_no_labels(tmp_path):
    p = make_checkpoint(tmp_path / "cvae.safetensors", latent_dim=3, arch="mlp", hidden=(16,),
                        num_classes=6)
    ck, err = checkpoints.open_path(p)
    assert err is None
    a = encode.decode(ck.model, np.zeros((2, 3)), "unit", y=0)
    b = encode.decode(ck.model, np.zeros((2, 3)), "unit", y=5)
    assert a.shape == (2, 28, 28, 1) and not np.array_equal(a, b)


def test_kl_per_point_matches_formula():
    mu = np.array([[1.0, 0.0]])
    logvar = np.array([[0.0, np.log(4.0)]])
    kl = encode.kl_per_dim_per_point(mu, logvar)
    np.testing.assert_allclose(kl, [[0.5, 0.5 * (4 - 1 - np.log(4))]])


# ----------------------------------------------------------------------------- traversal / images


def test_traversal_order_and_layout():
    assert traversal.dims_by_kl(np.array([0.1, 3.0, 1.0]), 3) == [1, 2, 0]
    assert traversal.dims_by_kl(None, 3) == [0, 1, 2]
    z = traversal.traversal_latents(np.zeros(3), [1, 2], np.array([-1.0, 0.0, 1.0]))
    assert z.shape == (6, 3)
    np.testing.assert_allclose(z[:3, 1], [-1, 0, 1])
    np.testing.assert_allclose(z[3:, 2], [-1, 0, 1])
    assert np.all(z[:3, [0, 2]] == 0)
    s1 = traversal.prior_samples(4, 3, seed=7)
    np.testing.assert_array_equal(s1, traversal.prior_samples(4, 3, seed=7))


def test_images_helpers():
    x = np.linspace(0, 1, 2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    u = images.to_uint8(x)
    assert u.shape == (2, 4, 5, 3) and u.dtype == np.uint8 and u.max() == 255 and u.min() == 0
    up = images.upscale(u[0], 3)
    assert up.shape == (12, 15, 3) and (up[:3, :3] == u[0, 0, 0]).all()
    t = images.tile(u, 2, pad=1)
    assert t.shape == (4, 11, 3)


def test_finished_reconstructions_kept_in_memory_are_bounded():
    from vae_explorer import compute

    jobs = {}
    running = compute.ReconJob()  # still decoding: never dropped
    compute._remember(jobs, "running", running)
    for i in range(compute._RECON_KEEP + 4):
        compute._remember(jobs, i, compute.ReconJob({"recon": np.zeros(1, np.uint8)}))
    assert jobs["running"] is running
    assert [k for k in jobs if k != "running"] == list(range(4, compute._RECON_KEEP + 4))


def test_precompute_writes_maps_the_app_finds(tmp_path, monkeypatch):
    """python -m vae_explorer.precompute stores a projection under exactly the key the app asks
    for (checkpoint sha256 + the sample's content key), in the folder given by --out."""
    from vae_explorer import precompute, sample

    ck_file = make_checkpoint(tmp_path / "z4.safetensors", latent_dim=4)
    out = tmp_path / "shipped"
    assert precompute.main([str(ck_file), "--methods", "tsne", "--n", "150",
                            "--out", str(out)]) == 0
    ck, err = checkpoints.open_path(ck_file)
    x, y = sample.load_split("shapes", "", "test", 150)  # what the app's "test" sample is
    key = sample.data_key("shapes", "test", x, y)
    monkeypatch.setenv("VAE_EXPLORER_SHIPPED_CACHE", str(out))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "user"))
    got = cache.load(ck.sha256, "proj-tsne", projections.cache_params("tsne", 150,
                                                                      projections.DEFAULT_SEED, key))
    assert got is not None and got["xy"].shape == (150, 2) and np.isfinite(got["xy"]).all()
    # --prune keeps the maps of checkpoints in checkpoints/ and drops the rest (this one)
    shipped = checkpoints.list_checkpoints()[0]
    keep = cache.save(file_sha256(shipped), "proj-tsne", {"n": 1}, {"xy": np.zeros((1, 2))},
                      directory=out)
    assert precompute.main(["--prune", "--out", str(out)]) == 0
    assert [p.name for p in out.glob("*.npz")] == [keep.name]


# ----------------------------------------------------------------------------- window grids


@pytest.mark.parametrize("text,want", [
    ("-1.5,2,0.25,3", (-1.5, 2.0, 0.25, 3.0)),
    (" 1e-3, 2e-3 ,-1,1", (0.001, 0.002, -1.0, 1.0)),
])
def test_parse_view_accepts_four_ordered_finite_numbers(text, want):
    assert cursor.parse_view(text) == pytest.approx(want)


@pytest.mark.parametrize("text", [None, "", "1,2,3", "1,2,3,4,5", "2,1,0,1", "0,1,1,1", "0,1,nan,2",
                                  "0,inf,0,1", "a,b,c,d", "0,1e7,0,1", "1," * 200 + "1"])
def test_parse_view_rejects_anything_else(text):
    assert cursor.parse_view(text) is None


def test_format_view_round_trips_to_four_significant_digits():
    v = (-1.234567, 0.987654, 12.3456, 13.9876)
    back = cursor.parse_view(cursor.format_view(v))
    spans = (v[1] - v[0], v[1] - v[0], v[3] - v[2], v[3] - v[2])
    assert all(abs(a - b) <= 1e-3 * s for a, b, s in zip(back, v, spans)), (back, v)


def test_window_for_a_view_contains_it_with_enough_cells():
    rng = np.random.default_rng(5)
    g = 24  # vae_explorer.compute.WINDOW_G
    for _ in range(500):
        x0, y0 = rng.uniform(-50, 50, 2)
        w, h = 10 ** rng.uniform(-3, 2, 2)
        view = (x0, x0 + w, y0, y0 + h)
        ext = cursor.window_extent(cursor.window_key(view))
        assert cursor.grid_serves(ext, g, view), (view, ext)
        # not needlessly coarse: the window is at most 3x the view on each axis
        assert ext[1] - ext[0] <= 3 * w and ext[3] - ext[2] <= 3 * h


def test_nearby_views_share_one_window():
    a = cursor.window_key((0.1, 1.1, 0.2, 1.0))
    assert a == cursor.window_key((0.12, 1.12, 0.21, 1.01))  # a small pan: same decode
    assert a != cursor.window_key((0.1, 0.3, 0.2, 0.4))  # zoomed in: finer grid
    assert a != cursor.window_key((5.1, 6.1, 0.2, 1.0))  # panned away
    assert cursor.window_key((0, 1, 1, 1)) is None


def test_grid_serves_needs_cover_and_resolution():
    ext, g = (-4.0, 4.0, -4.0, 4.0), 32  # cells of 0.25
    assert cursor.grid_serves(ext, g, (-3, 3, -2, 2))
    assert not cursor.grid_serves(ext, g, (-3, 5, -2, 2))  # sticks out
    assert not cursor.grid_serves(ext, g, (0, 1, 0, 1))  # 4 cells across: too coarse
    assert cursor.grid_serves(ext, g, (-4.0000001, 4, -4, 4))  # rounding at the edge


# ---------------------------------------------------------------------------------------------
# state: the registry of shareable settings (URL text is untrusted)


def test_url_parsers_reject_bad_text():
    from vae_explorer import state

    good = state.parse_url({"proj": "umap", "colour": "kl", "method": "slerp", "t": "0.25",
                            "a": "i7", "b": "z1,-2", "present": "1", "next": "B",
                            "zoom": "-1.5,2,-3,4e0", "ckpt": "mnist-conv-z16"})
    assert good == {"proj": "umap", "colour_by": "kl", "interp_method": "slerp", "interp_t": 0.25,
                    "point_a": {"kind": "index", "index": 7},
                    "point_b": {"kind": "z", "z": [1.0, -2.0]}, "presenter": True,
                    "pick_target": "B", "map_zoom": (-1.5, 2.0, -3.0, 4.0),
                    "url_ckpt": "mnist-conv-z16"}
    bad = {"proj": "PCA<script>", "colour": "red", "method": "cubic", "t": "1.5", "a": "i-1",
           "b": "znan", "present": "maybe", "next": "C", "ckpt": "x" * 600}
    assert state.parse_url(bad) == {}
    for z in ("1,2,3", "1,0,2,3", "0,1,5,5", "a,b,c,d", "0,inf,0,1", "nan,1,0,1", "0,1,0,1,2",
              "1e300,1e301,0,1"):
        assert state.parse_view(z) is None, z
    assert state.parse_url({"t": "nan"}) == {} and state.parse_url({"t": "-0.1"}) == {}


def test_url_for_leaves_defaults_out_and_round_trips():
    from vae_explorer import state

    values = {"proj": "tsne", "colour_by": "rec_err", "interp_method": "linear", "interp_t": 0.375,
              "point_a": {"kind": "index", "index": 2}, "point_b": None, "presenter": True,
              "pick_target": "A", "active_ckpt_name": "m.safetensors",
              "map_zoom": (0.0, 1.0, -2.0, 2.0)}
    url = state.url_for(values, page="interpolate")
    assert url == {"ckpt": "m.safetensors", "view": "interpolate", "present": "1",
                   "proj": "tsne", "colour": "rec_err", "a": "i2", "t": "0.375",
                   "zoom": "0,1,-2,2"}
    back = state.parse_url(url)
    for k in ("proj", "colour_by", "interp_t", "point_a", "presenter", "map_zoom"):
        assert back[k] == values[k], k
    assert state.url_for({"proj": "pca", "interp_t": 0.5}, page="map") == {}


def test_every_setting_has_a_distinct_url_key_and_a_parser_that_accepts_its_default():
    from vae_explorer import state

    urls = [s.url for s in state.SETTINGS.values()]
    assert len(set(urls)) == len(urls)
    for s in state.SETTINGS.values():
        if s.default is not None and s.write(s.default):
            assert s.parse(s.write(s.default)) == s.default, s.url


def test_student_address_never_offered_for_a_loopback_server():
    from vae_explorer import share

    assert share.student_host("127.0.0.1", find_ip=lambda: "10.0.0.5") is None
    assert share.student_host("localhost", find_ip=lambda: "10.0.0.5") is None
    assert share.student_host("0.0.0.0", find_ip=lambda: "10.0.0.5") == "10.0.0.5"
    assert share.student_host("192.168.1.20", find_ip=lambda: "10.0.0.5") == "192.168.1.20"
    url = share.student_url("http://localhost:8501/interpolate", "10.0.0.5", 8501,
                            {"a": "i1", "ckpt": "m.safetensors"})
    assert url == "http://10.0.0.5:8501/interpolate?a=i1&ckpt=m.safetensors"
    png = share.qr_png(url)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    ip = share.lan_ip()  # sends nothing; None without a network
    assert ip is None or not share.is_loopback(ip)


def test_scrub_frames_data_packs_every_frame():
    from vae_explorer import scrub
    from vae_explorer.atlas import Atlas, AtlasLayout, unpack_cell

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (scrub.FRAMES, 8, 6, 1), dtype=np.uint8)
    d = scrub.frames_data(frames, np.linspace(1, 2, scrub.FRAMES), 0.5, "k")
    a = d["atlas"]
    assert a["count"] == scrub.FRAMES and len(d["norms"]) == scrub.FRAMES
    lay = AtlasLayout(a["count"], a["cellH"], a["cellW"], a["cols"], a["perPage"] // a["cols"],
                      a["pages"])
    import base64
    atlas = Atlas(lay, 1, [base64.b64decode(p) for p in a["pages"]])
    i = scrub.frame_index(0.5)
    assert i == 32 and np.array_equal(unpack_cell(atlas, i), frames[i])
    assert scrub.frame_index(-3) == 0 and scrub.frame_index(1) == scrub.FRAMES - 1


def test_encoding_the_servers_read_only_images_warns_nothing(tmp_path):
    """The dataset sample is shared read-only between sessions; torch.from_numpy of a read-only
    array warned on every cold encode (server logs filled with 'not writable')."""
    import warnings

    from vae_training.checkpoint import load_checkpoint
    ck = load_checkpoint(make_checkpoint(tmp_path / "m.safetensors"))
    imgs = np.random.default_rng(0).integers(0, 256, (20, 1, 28, 28), dtype=np.uint8)
    imgs.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = encode.encode_codes(ck.model, imgs, None)
        rec = encode.encode_split(ck.model, imgs, None)
    assert out["mu"].shape == (20, 2) and len(rec["mu"]) == 20
    cvae = load_checkpoint(make_checkpoint(tmp_path / "c.safetensors", num_classes=6))
    labels = np.arange(20) % 6
    labels.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert encode.encode_codes(cvae.model, imgs, labels)["mu"].shape == (20, 2)
