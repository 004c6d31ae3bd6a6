import numpy as np
import pytest

from vae_explorer.atlas import (Atlas, as_nhwc_uint8, atlas_layout, content_hash, decode_png,
                            encode_png, grid_cell, pack_atlas, page_array, unpack_cell)


def _imgs(n, h=5, w=7, c=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


@pytest.mark.parametrize("n,h,w", [(1, 28, 28), (7, 28, 28), (10_000, 28, 28), (70_000, 28, 28),
                                   (50, 64, 64), (3, 5, 7)])
def test_layout_fits_every_cell_within_max_side(n, h, w):
    lay = atlas_layout(n, h, w)
    assert lay.cols * w <= 4096 and lay.rows_per_page * h <= 4096
    assert lay.pages * lay.per_page >= n > (lay.pages - 1) * lay.per_page
    seen = set()
    for i in {0, n // 2, n - 1, min(n - 1, lay.per_page), min(n - 1, lay.per_page - 1)}:
        page, x, y = lay.cell(i)
        ph, pw = lay.page_shape(page)
        assert 0 <= x <= pw - w and 0 <= y <= ph - h
        seen.add((page, x, y))
    with pytest.raises(IndexError):
        lay.cell(n)


def test_layout_small_max_side_makes_several_pages():
    lay = atlas_layout(100, 10, 10, max_side=40)
    assert (lay.cols, lay.rows_per_page, lay.per_page, lay.pages) == (4, 4, 16, 7)
    assert lay.page_shape(6) == (10, 40)  # 4 cells left: one row
    assert lay.to_json()["perPage"] == 16


@pytest.mark.parametrize("c", [1, 3])
def test_pack_round_trip_every_cell(c):
    imgs = _imgs(37, 6, 9, c)
    at = pack_atlas(imgs, max_side=40)
    assert at.layout.pages > 1 and at.channels == c
    for i in range(len(imgs)):
        np.testing.assert_array_equal(unpack_cell(at, i), imgs[i])


def test_greyscale_png_is_one_channel_and_small():
    imgs = _imgs(100, 28, 28, 1)
    at = pack_atlas(imgs)
    arr = decode_png(at.pages[0])
    assert arr.shape[-1] == 1
    assert at.pages[0][:8] == b"\x89PNG\r\n\x1a\n"
    # smooth images compress well
    smooth = np.zeros((1000, 28, 28, 1), np.uint8)
    smooth[:, 10:18, 10:18] = 200
    assert pack_atlas(smooth).nbytes < 20_000


def test_page_array_pads_last_row_with_zeros():
    imgs = np.full((5, 2, 2, 1), 9, np.uint8)
    lay = atlas_layout(5, 2, 2)  # 3 columns, 2 rows
    page = page_array(imgs, lay, 0)
    assert page.shape == (4, 6, 1)
    assert (page[2:, 4:] == 0).all() and (page[:2] == 9).all()


def test_to_json_is_base64_pages():
    d = pack_atlas(_imgs(4)).to_json()
    assert set(d) >= {"count", "cellH", "cellW", "cols", "perPage", "pages", "channels"}
    import base64
    assert base64.b64decode(d["pages"][0])[:4] == b"\x89PNG"


def test_input_validation():
    assert as_nhwc_uint8(np.zeros((2, 3, 3), np.uint8)).shape == (2, 3, 3, 1)
    with pytest.raises(ValueError):
        as_nhwc_uint8(np.zeros((2, 3, 3, 4), np.uint8))
    with pytest.raises(ValueError):
        as_nhwc_uint8(np.zeros((2, 3, 3, 1), np.float32))
    with pytest.raises(ValueError):
        as_nhwc_uint8(np.zeros((0, 3, 3, 1), np.uint8))
    with pytest.raises(ValueError):
        atlas_layout(0, 3, 3)


def test_encode_png_modes():
    assert decode_png(encode_png(np.zeros((3, 4), np.uint8))).shape == (3, 4, 1)
    assert decode_png(encode_png(np.zeros((3, 4, 3), np.uint8))).shape == (3, 4, 3)


def test_content_hash_depends_on_content_shape_dtype():
    a = np.arange(12, dtype=np.uint8)
    assert content_hash(a) == content_hash(a.copy())
    assert content_hash(a) != content_hash(a.reshape(3, 4))
    assert content_hash(a) != content_hash(a.astype(np.int16))
    b = a.copy()
    b[5] = 0
    assert content_hash(a) != content_hash(b)
    assert content_hash(a, None) != content_hash(a)
    assert content_hash(b"x", "y", 3) == content_hash(b"x", "y", 3)


def test_grid_cell_row0_is_top():
    ext = (-2.0, 2.0, -1.0, 1.0)
    assert grid_cell(-2.0, 1.0, ext, 4) == (0, 0)  # top-left corner
    assert grid_cell(1.99, -0.99, ext, 4) == (3, 3)
    assert grid_cell(2.0, -1.0, ext, 4) == (3, 3)  # edges clamp inside
    assert grid_cell(0.1, 0.6, ext, 4) == (0, 2)
    assert grid_cell(2.1, 0.0, ext, 4) is None
    assert grid_cell(0.0, 0.0, (0, 0, 0, 1), 4) is None


def test_atlas_dataclass_nbytes():
    at = Atlas(atlas_layout(1, 2, 2), 1, [b"abc", b"de"])
    assert at.nbytes == 5


def test_deflate_pages_round_trip_exactly_or_within_their_bits():
    from vae_explorer.atlas import decode_deflate, dequantize, encode_deflate, quantize

    rng = np.random.default_rng(0)
    for c in (1, 3):
        imgs = rng.integers(0, 256, (30, 7, 5, c), dtype=np.uint8)
        at = pack_atlas(imgs, fmt="deflate")
        assert at.format == "deflate" and at.bits == 8
        js = at.to_json()
        assert js["bits"] == 8 and js["pageShapes"] == [list(at.layout.page_shape(0))]
        for i in (0, 17, 29):
            np.testing.assert_array_equal(unpack_cell(at, i), imgs[i])
        six = pack_atlas(imgs, fmt="deflate", bits=6)
        for i in (0, 17, 29):
            assert np.abs(unpack_cell(six, i).astype(int) - imgs[i]).max() <= 2
    # Black and white survive any depth; 6 bits keep 64 levels, what map.js's table rebuilds.
    v = np.arange(256, dtype=np.uint8)
    assert dequantize(quantize(v, 6), 6)[[0, 255]].tolist() == [0, 255]
    assert len(np.unique(quantize(v, 6))) == 64
    assert dequantize(np.arange(64, dtype=np.uint8), 6).tolist() == \
        [round(q * 255 / 63) for q in range(64)]  # the browser's Math.round(q * 255 / 63)
    page = rng.integers(0, 256, (4, 6, 1), dtype=np.uint8)
    np.testing.assert_array_equal(decode_deflate(encode_deflate(page), (4, 6), 1), page)
