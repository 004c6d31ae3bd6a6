"""Setting up one training run: resume or check the output folder, threads and precision, data,
model, optimizer and (for --neighbour-weight) the data's neighbour graph, all gathered in a Run
that the loop in vae_training.train steps through."""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from . import neighbour_graph, objective, system
from .checkpoint import hardware_string
from .config import BINARIZE, PREPROCESS, ConfigError, DataConfig, ModelConfig
from .data import DATASETS, BatchIterator, Dataset, load_dataset, to_data_space, to_device
from .model import VAE, count_parameters
from .runconfig import CKPT_FILE, RunConfig, check_objective, default_out, init_state, \
    model_config_for, resume_config
from .runfiles import set_rng_state

__all__ = ["Run", "setup_run", "make_optimizer"]


@dataclass
class Run:
    """Everything one run's epochs need, built once by setup_run."""
    cfg: RunConfig
    device: torch.device
    rank: int
    world: int
    mc: ModelConfig
    dc: DataConfig
    train_ds: Dataset
    test_ds: Dataset
    model: torch.nn.Module  # the VAE itself (saved, evaluated)
    step_model: torch.nn.Module  # what the step calls: the VAE, compiled and/or DDP-wrapped
    opt: torch.optim.Optimizer
    batch_gen: torch.Generator
    batches: BatchIterator
    out: Path
    hw: str
    history: list[dict]
    start_epoch: int = 0
    train_seconds: float = 0.0
    edges: "neighbour_graph.EdgeSampler | None" = None  # --neighbour-weight > 0
    umap_ab: tuple[float, float] = (1.0, 1.0)

    @property
    def ckpt_path(self) -> Path:
        return self.out / CKPT_FILE


def make_optimizer(model: torch.nn.Module, cfg: RunConfig):
    """Adam with its fused kernel (one op for all parameters, on CPU and CUDA) instead of the
    per-tensor loop of ~10 ops per parameter: 0.4-1.5 ms less per MLP 784-400-20 step on one EPYC
    core (loaded machine, docs/benchmarks.md). A resumed run keeps its saved setting."""
    try:
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                fused=True)
    except (RuntimeError, TypeError):  # a device without the fused kernel
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def _load_data(cfg: RunConfig) -> tuple[Dataset, Dataset]:
    if cfg.dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {cfg.dataset!r}; choose from {', '.join(DATASETS)}")
    if cfg.preprocess not in PREPROCESS or cfg.binarize not in BINARIZE:
        raise ConfigError(f"--preprocess must be one of {PREPROCESS}, --binarize one of {BINARIZE}")
    root, size = cfg.data_root or None, cfg.image_size or None
    train_ds = load_dataset(cfg.dataset, root, "train", cfg.download, size).subset(cfg.limit_train)
    test_ds = load_dataset(cfg.dataset, root, "test", cfg.download, size).subset(cfg.limit_test)
    return train_ds, test_ds


def _check_data(cfg: RunConfig, mc: ModelConfig, train_ds: Dataset) -> None:
    if cfg.binarize == "dynamic" and (mc.likelihood != "bernoulli" or cfg.preprocess != "unit"):
        raise ConfigError("--binarize dynamic samples {0, 1} pixels: it needs --likelihood "
                          "bernoulli and --preprocess unit")
    objective.check_data_range(to_data_space(train_ds.images[:2048], cfg.preprocess),
                               mc.likelihood)


def _neighbour_edges(cfg: RunConfig, train_ds: Dataset, world: int, rank: int):
    """The data's fuzzy k-NN graph (cached) and a seeded edge sampler, or None for weight 0."""
    w, k = cfg.neighbour_weight, cfg.neighbour_k
    if not (math.isfinite(w) and w >= 0) or not 2 <= k <= 200:
        raise ConfigError("--neighbour-weight must be >= 0 and --neighbour-k between 2 and 200")
    if not (math.isfinite(cfg.neighbour_scale) and 0 < cfg.neighbour_scale <= 1000
            and 1 <= cfg.neighbour_edges <= 64):
        raise ConfigError("--neighbour-scale must be in (0, 1000] and --neighbour-edges in 1..64")
    if w == 0:
        return None
    if world > 1:
        raise ConfigError("--neighbour-weight is not supported with several processes (torchrun)")
    t0 = time.perf_counter()
    x = train_ds.images.reshape(len(train_ds.images), -1).float().div_(255.0).numpy()
    graph = neighbour_graph.cached_graph(x, n_neighbors=k, seed=cfg.seed)
    _log(rank, f"neighbour graph: {len(graph.head):,} edges over {graph.n:,} images, k={k} "
               f"({time.perf_counter() - t0:.1f} s{', built' if graph.seconds else ', cached'})")
    # its own generator, so that weight 0 leaves every other random draw as it was
    return neighbour_graph.EdgeSampler(graph, torch.Generator().manual_seed(cfg.seed + 77))


def setup_run(cfg: RunConfig, device: torch.device, rank: int, world: int) -> Run:
    """Resume or check the output folder, set threads and precision, load the data, build the
    model and the optimizer (restoring their state when resuming)."""
    st, asked = None, cfg.precision
    if cfg.resume:
        cfg, st = resume_config(cfg, device)
        if asked not in ("auto", cfg.precision):
            _log(rank, f"--precision {asked} ignored: the run continues in {cfg.precision}, as "
                       f"it started (exact resume)")
    if cfg.epochs is None:
        cfg = dataclasses.replace(cfg, epochs=10)
    cfg = dataclasses.replace(cfg, precision=system.resolve_precision(cfg.precision, device))
    system.set_threads(cfg.threads, device)
    if cfg.batch_size % world:
        raise ConfigError(f"--batch-size {cfg.batch_size} must divide by the {world} processes")
    check_objective(cfg, world)
    torch.manual_seed(cfg.seed)
    train_ds, test_ds = _load_data(cfg)
    mc = model_config_for(cfg, train_ds)
    _check_data(cfg, mc, train_ds)
    dc = DataConfig(dataset=cfg.dataset, image_shape=train_ds.image_shape,
                    label_names=list(train_ds.label_names), preprocess=cfg.preprocess,
                    binarize=cfg.binarize, train_size=len(train_ds),
                    test_size=len(test_ds)).validate()
    out = Path(cfg.out or default_out(cfg, mc))
    cfg = dataclasses.replace(cfg, out=str(out))

    model = VAE(mc).to(device)
    if mc.arch == "conv":  # NHWC convolutions: 1.3x per training step on CPU (conv 32-64, z=2)
        model = model.to(memory_format=torch.channels_last)
    batch_gen = torch.Generator().manual_seed(cfg.seed)  # its state is restored in place
    images, labels = to_device(train_ds, device)
    batches = BatchIterator(images, labels, cfg.batch_size // world, batch_gen, shuffle=True,
                            rank=rank, world=world)
    run = Run(cfg=cfg, device=device, rank=rank, world=world, mc=mc, dc=dc, train_ds=train_ds,
              test_ds=test_ds, model=model, step_model=model, opt=make_optimizer(model, cfg),
              batch_gen=batch_gen, batches=batches, out=out, hw=hardware_string(device),
              history=[])
    run.edges = _neighbour_edges(cfg, train_ds, world, rank)
    if run.edges is not None:
        run.umap_ab = neighbour_graph.umap_ab()
    if st is not None:
        _restore(run, st)
    elif run.ckpt_path.exists() and not cfg.overwrite:
        raise ConfigError(f"{run.ckpt_path} already exists: continue it with --resume, or pass "
                          f"--overwrite / another --out")
    elif cfg.init_from:
        _init_from(run)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    if cfg.compile:  # opt-in: no gain on CPU for these models (docs/benchmarks.md)
        run.step_model = torch.compile(run.step_model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        run.step_model = DDP(run.step_model,
                             device_ids=[device.index] if device.type == "cuda" else None)
    _log(rank, f"{cfg.dataset}: {len(train_ds)} train / {len(test_ds)} test images "
               f"{train_ds.image_shape}; model {mc.arch} {mc.hidden} z={mc.latent_dim} "
               f"{mc.likelihood} ({count_parameters(model):,} parameters); {run.hw}; "
               f"{cfg.precision}"
               + (f"; IWAE k={cfg.iw_train}" if cfg.iw_train > 1 else "")
               + (f"; {world} processes" if world > 1 else ""))
    return run


def _init_from(run: Run) -> None:
    """--init-from: the source's weights, history, epoch count, training time and command
    (runconfig.init_state); the optimizer starts fresh."""
    st = init_state(run.cfg, run.mc)
    run.model.load_state_dict(st["model"])
    run.history, run.start_epoch = st["history"], st["epoch"]
    run.train_seconds = st["train_seconds"]
    run.cfg = dataclasses.replace(run.cfg, command=st["command"])
    _log(run.rank, f"starting from {run.cfg.init_from} (its {run.start_epoch} epochs; fresh "
                   f"optimizer)")


def _restore(run: Run, st: dict) -> None:
    if st.get("model_config") != dataclasses.asdict(run.mc):
        raise ConfigError(f"--resume: the model in {run.out} was {st.get('model_config')}, these "
                          f"flags give {dataclasses.asdict(run.mc)}")
    run.model.load_state_dict(st["model"])
    run.opt.load_state_dict(st["optimizer"])
    run.history = list(st["history"])
    run.start_epoch = int(st["epoch"])
    run.train_seconds = float(st.get("train_seconds", 0.0))
    set_rng_state(st["rng"], run.batch_gen, run.device)
    if run.edges is not None and "edge_order" in st["rng"]:
        run.edges.gen.set_state(st["rng"]["edge_order"])
    _log(run.rank, f"resuming {run.out} after epoch {run.start_epoch}")


def _log(rank: int, *a) -> None:
    if rank == 0:
        print(*a, flush=True)
