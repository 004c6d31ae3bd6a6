"""Issue 11's exports and the 'Neighbours kept' refresh, without Streamlit, on known data."""
import io

import numpy as np
import pytest
from PIL import Image

from vae_explorer import imagegrid


def test_grid_png_places_each_image_at_its_cell_upscaled_on_white():
    imgs = np.stack([np.full((4, 6, 1), 10 * (k + 1), np.uint8) for k in range(5)])
    png = imagegrid.grid_png(imgs, cols=3, scale=2, pad=4)
    out = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert out.shape == (2 * 8 + 3 * 4, 3 * 12 + 4 * 4, 3)
    for k in range(5):
        r, q = divmod(k, 3)
        y, x = 4 + r * 12, 4 + q * 16
        assert (out[y:y + 8, x:x + 12] == 10 * (k + 1)).all()
        assert (out[y - 1, x:x + 12] == 255).all() and (out[y:y + 8, x - 1] == 255).all()
    assert (out[16:, 4 + 2 * 16:] == 255).all()  # the sixth cell is empty


def test_grid_png_captions_add_their_lines_under_each_cell():
    imgs = np.zeros((2, 4, 4, 3), np.uint8)
    out = imagegrid.compose(imgs, ["#1 a\n0.5", "#2 b"], cols=2, scale=3, pad=2)
    h = 12 + 2 * imagegrid.LINE_PX
    assert out.shape == (h + 4, 2 * 12 + 6, 3)
    below = out[2 + 12:2 + h, 2:2 + 12]
    assert (below < 128).any()  # caption ink under the first image
    assert (out[2:14, 2:14] == 0).all()


def test_grid_png_refuses_mixed_sizes_and_nothing():
    with pytest.raises(ValueError):
        imagegrid.compose([np.zeros((4, 4, 1), np.uint8), np.zeros((5, 4, 1), np.uint8)])
    with pytest.raises(ValueError):
        imagegrid.compose([])
