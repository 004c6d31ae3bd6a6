"""Every checkpoint we ship opens through the normal validated path and decodes finite images."""
from pathlib import Path

import pytest
import torch

from vae_training.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "checkpoints").glob("*.safetensors"))
DEFAULT = ROOT / "checkpoints" / "shapes-conv-z2.safetensors"


def test_offline_default_is_shipped():
    assert DEFAULT in SHIPPED, "the README's run command opens this checkpoint"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_checkpoint_loads_and_decodes(path):
    assert path.stat().st_size < 8 * 1024 * 1024, "shipped checkpoints stay a few MB at most"
    ck = load_checkpoint(path)
    mc = ck.model_config
    z = torch.randn(16, mc.latent_dim, generator=torch.Generator().manual_seed(0))
    y = torch.arange(16) % mc.num_classes if mc.num_classes else None
    with torch.no_grad():
        img = ck.model.mean_image(z, y)
    assert img.shape == (16, *mc.image_shape)
    assert torch.isfinite(img).all()
    # the checkpoint describes itself: data, history and final test metrics
    assert ck.data.label_names, "label names are needed for the legend"
    assert len(ck.history) >= 1
    assert ck.metrics.get("test_loss") is not None


def test_model_card_lists_every_checkpoint():
    card = (ROOT / "checkpoints" / "README.md").read_text()
    for p in SHIPPED:
        assert p.name in card, f"{p.name} is missing from checkpoints/README.md"


def test_shipped_maps_belong_to_shipped_checkpoints():
    from vae_explorer import cache
    from vae_training.checkpoint import file_sha256

    shas = {p: file_sha256(p) for p in SHIPPED}
    from vae_explorer.analysis import pixels  # the Compare page's pixel maps belong to no checkpoint
    stale = cache.orphans(cache.SHIPPED_DIR, [*shas.values(), pixels.CACHE_SHA])
    assert not stale, f"maps of no shipped checkpoint: {stale} (python -m vae_explorer.precompute --prune)"
    # every shipped model with a latent above 2-D opens UMAP / t-SNE from the shipped cache
    names = [f.name for f in cache.SHIPPED_DIR.glob("*.npz")]
    for p, sha in shas.items():
        if load_checkpoint(p).model_config.latent_dim > 2:
            for method in ("umap", "tsne"):
                assert any(n.startswith(f"{sha[:16]}-proj-{method}-") for n in names), \
                    f"{p.name}: no {method} map (python -m vae_explorer.precompute {p.relative_to(ROOT)})"


def _shipped_datasets() -> list[str]:
    from vae_training.checkpoint import read_metadata

    return sorted({read_metadata(p)["data"]["dataset"] for p in SHIPPED})


@pytest.mark.parametrize("dataset", _shipped_datasets())
def test_shipped_pixel_maps_cover_every_shipped_dataset_test_split(dataset):
    """The Compare page's pixel UMAP / t-SNE open from the shipped cache for the test split of
    every dataset a shipped checkpoint uses (keys: the sample's content hash, as the page makes
    them). MNIST-family datasets are checked where ../shared/datasets (VAE_DATA_ROOT) holds them."""
    import os

    from vae_explorer import cache, projections, sample
    from vae_explorer.analysis import pixels

    root = os.environ.get("VAE_DATA_ROOT") or str(ROOT.parent / "shared" / "datasets")
    try:
        x, y = sample.load_split(dataset, root, "test", 10_000)
    except sample.DataMissing:
        pytest.skip(f"{dataset} is not in {root}")
    key = sample.data_key(dataset, "test", x, y)
    for method in ("umap", "tsne"):
        params = projections.cache_params(method, len(y), projections.DEFAULT_SEED, key)
        p = cache.SHIPPED_DIR / cache.filename(pixels.CACHE_SHA, f"proj-{method}", params)
        assert p.is_file(), (f"{dataset}: no shipped pixel {method} map "
                             f"(python -m vae_explorer.precompute --pixels {dataset})")
