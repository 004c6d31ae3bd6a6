"""Datasets as uint8 tensors (N, C, H, W) + int64 labels, and the in-memory batch iterator.

MNIST, Fashion-MNIST and KMNIST are read from their IDX files with numpy (vae_training.idx) when
the files are there, else through torchvision's dataset classes (which can download them), as
CIFAR-10 is; their ``.data`` arrays are taken directly, with no per-sample PIL transforms. CelebA
and image folders are decoded once (CelebA is cached as a .npy next to the data). Training keeps the
uint8 tensor on the training device, permutes indices with a seeded torch.Generator and converts
each batch to float on the fly: no DataLoader, no worker processes, no per-sample Python.

Where files are missing and cannot be downloaded, DatasetUnavailable says exactly where to put
which files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .config import DATASETS, default_data_root

CELEBA_ATTRIBUTE = "Smiling"  # the CelebA label: 1 = smiling, 0 = not smiling
CELEBA_CROP = 148  # centre crop of the 178x218 aligned images, then resize (as in PyTorch-VAE)
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")

MNIST_LIKE = {
    # name: (torchvision class name, folder under root, label names, where to get it)
    "mnist": ("MNIST", "MNIST", [str(i) for i in range(10)],
              "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    "fashion-mnist": ("FashionMNIST", "FashionMNIST",
                      ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                       "Sneaker", "Bag", "Ankle boot"],
                      "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
    "kmnist": ("KMNIST", "KMNIST", ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
               "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
}


class DatasetUnavailable(RuntimeError):
    """The dataset's files are not there and could not be downloaded.

    str() is the full message for the command line. The parts let a GUI say it in one sentence:
    `what` is missing ("MNIST's test images"), `files` to put in `folder`, `details` (the full
    listing and where to get the files, with no command-line flags)."""

    def __init__(self, message: str, what: str = "", folder: str | os.PathLike = "",
                 files: tuple[str, ...] = (), details: str = ""):
        super().__init__(message)
        self.what, self.folder, self.files = what, str(folder), tuple(files)
        self.details = details or message


@dataclass
class Dataset:
    name: str
    images: torch.Tensor  # uint8 (N, C, H, W)
    labels: torch.Tensor  # int64 (N,)
    label_names: list[str]
    factors: torch.Tensor | None = None  # float32 (N, F) for datasets with known factors
    factor_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i):  # for a torch DataLoader, should anyone want one
        return self.images[i], self.labels[i]

    @property
    def image_shape(self) -> list[int]:
        return [int(s) for s in self.images.shape[1:]]

    def subset(self, n: int) -> "Dataset":
        """The first n samples (n <= 0: all)."""
        if n <= 0 or n >= len(self):
            return self
        return Dataset(self.name, self.images[:n], self.labels[:n], self.label_names,
                       None if self.factors is None else self.factors[:n], self.factor_names)


default_root = default_data_root  # $VAE_DATA_ROOT, else ../shared/datasets, else ./.data


def load_dataset(name: str, root: str | os.PathLike | None = None, split: str = "train",
                 download: bool = True, image_size: int | None = None) -> Dataset:
    """Load one split of a dataset as uint8 tensors. Raises DatasetUnavailable if it is absent."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    name = name.lower()
    root = str(root) if root else default_root()
    if name == "shapes":
        from . import shapes

        imgs, labels, factors = shapes.load_shapes(split)
        ds = Dataset("shapes", torch.from_numpy(imgs), torch.from_numpy(labels),
                     list(shapes.SHAPE_NAMES), torch.from_numpy(factors), list(shapes.FACTOR_NAMES))
    elif name == "shapes-rgb":
        from . import colour_shapes as cs

        imgs, labels, factors = cs.load(split)
        ds = Dataset(cs.NAME, torch.from_numpy(imgs), torch.from_numpy(labels),
                     list(cs.SHAPE_NAMES), torch.from_numpy(factors), list(cs.FACTOR_NAMES))
    elif name in MNIST_LIKE:
        ds = _load_mnist_like(name, root, split, download)
    elif name == "cifar10":
        ds = _load_cifar10(root, split, download)
    elif name == "celeba":
        ds = _load_celeba(root, split, download, image_size or 64)
        image_size = None  # already at size
    elif name == "folder":
        ds = _load_folder(root, split, image_size or 64)
        image_size = None
    else:
        raise ValueError(f"unknown dataset {name!r}; choose from: {', '.join(DATASETS)}")
    if image_size and image_size != ds.images.shape[-1]:
        ds.images = resize_uint8(ds.images, image_size)
    return ds


def resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a uint8 (N, C, H, W) batch to size x size (antialiased bilinear), in chunks."""
    import torch.nn.functional as F

    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for i in range(0, images.shape[0], 4096):
        x = images[i:i + 4096].float()
        y = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[i:i + 4096] = y.round().clamp(0, 255).to(torch.uint8)
    return out


def _load_mnist_like(name: str, root: str, split: str, download: bool) -> Dataset:
    """The IDX files read with numpy when they are there (vae_training.idx: no torchvision
    import, ~0.9 s of CPU less on the 2-core EPYC); torchvision's class otherwise, which can
    download them."""
    from . import idx

    cls_name, folder, label_names, _ = MNIST_LIKE[name]
    raw = Path(root) / folder / "raw"
    try:
        found = idx.load_split(raw, split)
    except (idx.IdxError, OSError, EOFError) as e:  # EOFError: a truncated .gz
        raise _mnist_unavailable(name, root, split, e, "has a file that cannot be read") from None
    if found is not None:
        images, targets = torch.from_numpy(found[0]), torch.from_numpy(found[1])
    else:
        import torchvision.datasets as tvd

        try:
            ds = getattr(tvd, cls_name)(root, train=(split == "train"), download=download)
        except Exception as e:  # RuntimeError "Dataset not found", URLError, md5 mismatch...
            raise _mnist_unavailable(name, root, split, e) from None
        images, targets = ds.data, ds.targets
        if not isinstance(images, torch.Tensor):
            images = torch.as_tensor(np.asarray(images))
    return Dataset(name, images.to(torch.uint8).unsqueeze(1).contiguous(),
                   torch.as_tensor(targets, dtype=torch.int64), list(label_names))


def _mnist_unavailable(name: str, root: str, split: str, e: Exception,
                       problem: str = "and could not be downloaded") -> DatasetUnavailable:
    _, folder, _, url = MNIST_LIKE[name]
    raw = Path(root) / folder / "raw"
    files = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    listing = "\n".join(f"  {raw / f}   (or {f}.gz, with the official checksum)" for f in files)
    details = (f"Put these four files there:\n{listing}\n"
               f"Get them from {url} (or run once with internet access: the files are "
               f"downloaded into {raw})")
    return DatasetUnavailable(
        f"{name} is not available under {root!r} {problem} "
        f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}).\n"
        f"{details}, or point --data-root at a folder that already holds {folder}/raw/.",
        what=f"{folder}'s {split} images", folder=raw,
        files=tuple(f"{f}.gz" for f in files if f.startswith("t10k" if split == "test" else "train")),
        details=details + ".",
    )


def _load_cifar10(root: str, split: str, download: bool) -> Dataset:
    import torchvision.datasets as tvd

    try:
        ds = tvd.CIFAR10(root, train=(split == "train"), download=download)
    except Exception as e:
        details = (f"Put the extracted folder at {Path(root) / 'cifar-10-batches-py'}"
                   f"/ (data_batch_1..5, test_batch, batches.meta), or cifar-10-python.tar.gz at "
                   f"{Path(root) / 'cifar-10-python.tar.gz'}.\nGet it from "
                   f"https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz")
        raise DatasetUnavailable(
            f"cifar10 is not available under {root!r} and could not be downloaded "
            f"({type(e).__name__}).\n{details}", what="CIFAR-10's images", folder=root,
            files=("cifar-10-python.tar.gz",), details=details) from None
    images = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
    return Dataset("cifar10", images, torch.as_tensor(ds.targets, dtype=torch.int64),
                   list(ds.classes))


def _load_celeba(root: str, split: str, download: bool, size: int) -> Dataset:
    """CelebA aligned faces: centre crop 148x148, resize to size x size, label = Smiling.

    Decoded once and cached as uint8 .npy files in <root>/celeba/ (about 12 KB per image at 64).
    """
    base = Path(root) / "celeba"
    cache_x = base / f"vae_cache_{split}_{size}.npy"
    cache_y = base / f"vae_cache_{split}_{size}_labels.npy"
    names = [f"not {CELEBA_ATTRIBUTE}", CELEBA_ATTRIBUTE]
    if cache_x.is_file() and cache_y.is_file():
        return Dataset("celeba", torch.from_numpy(np.load(cache_x)),
                       torch.from_numpy(np.load(cache_y)), names)
    import torchvision.datasets as tvd
    from torchvision.io import ImageReadMode, decode_image, read_file
    import torch.nn.functional as F

    try:
        ds = tvd.CelebA(root, split="train" if split == "train" else "test", target_type="attr",
                        download=download)
    except Exception as e:
        raise DatasetUnavailable(
            f"celeba is not available under {root!r} and could not be downloaded "
            f"({type(e).__name__}).\nPut these under {base}/: img_align_celeba/ (the 202,599 "
            f"aligned JPEGs, from img_align_celeba.zip), list_attr_celeba.txt, "
            f"list_eval_partition.txt, identity_CelebA.txt, list_bbox_celeba.txt, "
            f"list_landmarks_align_celeba.txt.\nGet them from "
            f"https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Google Drive links).") from None
    attr = ds.attr_names.index(CELEBA_ATTRIBUTE)
    labels = ds.attr[:, attr].to(torch.int64)
    folder = Path(ds.root) / ds.base_folder / "img_align_celeba"
    out = np.empty((len(ds.filename), 3, size, size), dtype=np.uint8)
    for i, fn in enumerate(ds.filename):
        img = decode_image(read_file(str(folder / fn)), mode=ImageReadMode.RGB)
        h, w = img.shape[1:]
        top, left = (h - CELEBA_CROP) // 2, (w - CELEBA_CROP) // 2
        img = img[:, top:top + CELEBA_CROP, left:left + CELEBA_CROP].float()[None]
        img = F.interpolate(img, size=(size, size), mode="bilinear", antialias=True)
        out[i] = img[0].round().clamp(0, 255).to(torch.uint8).numpy()
    try:
        np.save(cache_x, out)
        np.save(cache_y, labels.numpy())
    except OSError:
        pass  # read-only data folder: just decode again next time
    return Dataset("celeba", torch.from_numpy(out), labels, names)


def _load_folder(root: str, split: str, size: int) -> Dataset:
    """One sub-folder per class (labels = sorted folder names). If root has train/ and test/
    sub-folders those are the splits; otherwise every 10th image of each class is the test set."""
    from torchvision.io import ImageReadMode, decode_image, read_file
    import torch.nn.functional as F

    base = Path(root)
    if (base / "train").is_dir() and (base / "test").is_dir():
        base, pick = base / split, None
    else:
        pick = split
    if not base.is_dir():
        raise DatasetUnavailable(f"image folder {base} does not exist: point --data-root at a "
                                 f"folder with one sub-folder of images per class")
    classes = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetUnavailable(f"{base} has no class sub-folders: expected "
                                 f"{base}/<class name>/<image files>")
    files, labels = [], []
    for ci, c in enumerate(classes):
        fs = sorted(p for p in (base / c).iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if pick is not None:
            fs = [f for j, f in enumerate(fs) if (j % 10 == 9) == (pick == "test")]
        files += fs
        labels += [ci] * len(fs)
    if not files:
        raise DatasetUnavailable(f"no images ({', '.join(IMAGE_EXTS)}) found for split {split!r} "
                                 f"under {base}")
    decoded = []
    channels = 1
    for f in files:
        img = decode_image(read_file(str(f)), mode=ImageReadMode.UNCHANGED)
        if img.shape[0] == 4:  # drop alpha
            img = img[:3]
        elif img.shape[0] == 2:
            img = img[:1]
        channels = max(channels, img.shape[0])
        decoded.append(img)
    out = torch.empty((len(files), channels, size, size), dtype=torch.uint8)
    for i, img in enumerate(decoded):
        if img.shape[0] != channels:
            img = img.expand(channels, -1, -1)
        h, w = img.shape[1:]
        s = min(h, w)  # centre crop to a square, then resize
        img = img[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        if s != size:
            img = F.interpolate(img.float()[None], size=(size, size), mode="bilinear",
                                antialias=True)[0].round().clamp(0, 255)
        out[i] = img.to(torch.uint8)
    return Dataset("folder", out, torch.tensor(labels, dtype=torch.int64), classes)


# ---------------------------------------------------------------------------------------------
# pixel spaces


def to_data_space(x: torch.Tensor, preprocess: str = "unit") -> torch.Tensor:
    """uint8 (or [0,1] float) images -> float data space: [0, 1] ("unit") or [-1, 1] ("symmetric")."""
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    if preprocess == "unit":
        return x
    if preprocess == "symmetric":
        return x * 2.0 - 1.0
    raise ValueError(f"preprocess must be 'unit' or 'symmetric', got {preprocess!r}")


def to_unit(x: torch.Tensor, preprocess: str = "unit") -> torch.Tensor:
    """Data space -> [0, 1] for display (clamped)."""
    if preprocess == "symmetric":
        x = (x + 1.0) / 2.0
    return x.clamp(0.0, 1.0)


def dynamic_binarize(x01: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample each pixel as Bernoulli(intensity): the binarisation behind published MNIST NLLs."""
    return torch.bernoulli(x01.clamp(0.0, 1.0), generator=generator)


# ---------------------------------------------------------------------------------------------
# the in-memory fast path


class BatchIterator:
    """Shuffled mini-batches of (uint8 images, labels) indexed straight from device memory.

    ``images``/``labels`` should already live on the training device (see ``to_device``). The
    permutation comes from ``generator`` (a CPU torch.Generator, so the order is the same on any
    device and its state can be saved for --resume). With ``world > 1`` the permutation is
    sharded: rank r takes every world-th index starting at r, all ranks the same number.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int,
                 generator: torch.Generator | None = None, shuffle: bool = True,
                 drop_last: bool = False, rank: int = 0, world: int = 1):
        self.images, self.labels = images, labels
        self.batch_size = batch_size
        self.generator = generator
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rank, self.world = rank, world

    def _indices(self) -> torch.Tensor:
        n = self.images.shape[0]
        if self.shuffle:
            perm = torch.randperm(n, generator=self.generator)
        else:
            perm = torch.arange(n)
        if self.world > 1:
            per = n // self.world
            perm = perm[self.rank::self.world][:per]
        return perm

    def __len__(self) -> int:
        n = self.images.shape[0] // self.world if self.world > 1 else self.images.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        perm = self._indices().to(self.images.device, non_blocking=True)
        n = perm.shape[0]
        stop = n - n % self.batch_size if self.drop_last else n
        for i in range(0, stop, self.batch_size):
            idx = perm[i:i + self.batch_size]
            # index_select, not images[idx]: advanced indexing goes through the generic index
            # kernel, ~6x slower for these uint8 rows (MNIST epoch: 76 vs 12 ms CPU, 1 thread,
            # ~4% of the MLP's bf16 epoch); the same rows come out
            yield self.images.index_select(0, idx), self.labels.index_select(0, idx)


def to_device(ds: Dataset, device: torch.device, max_bytes: int | None = None) -> tuple:
    """(images, labels) on the training device when they fit (default: up to 40% of free GPU
    memory); else they stay in pinned host memory and batches are copied as they are indexed."""
    device = torch.device(device)
    imgs, labels = ds.images, ds.labels
    if device.type == "cuda":
        if max_bytes is None:
            free, _ = torch.cuda.mem_get_info(device)
            max_bytes = int(free * 0.4)
        if imgs.numel() <= max_bytes:
            return imgs.to(device), labels.to(device)
        return imgs.pin_memory(), labels.pin_memory()
    return imgs, labels
