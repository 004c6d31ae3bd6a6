"""The training loop and its command line: python -m vae_training --help

One RunConfig (a plain dataclass mirroring the flags) goes in, a run directory comes out:

    model.safetensors   the checkpoint (weights + metadata, rewritten atomically every epoch)
    trainer_state.pt    weights, optimizer, epoch, history and every RNG state, for --resume
    metrics.csv         one row per epoch
    recon_epochNNN.png  8 test images (top) and their reconstructions (bottom)
    samples_epochNNN.png  64 decoded samples from a fixed set of prior draws

The fast path keeps the whole uint8 data set on the training device, shuffles indices with a
seeded torch.Generator and converts each batch to float on the fly. Loss sums stay on the device;
the host reads them every PROGRESS_EVERY steps (progress bar, NaN check) and once per epoch.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from . import objective
from .checkpoint import (CheckpointError, build_metadata, hardware_string, load_trainer_state,
                         save_checkpoint, save_trainer_state)
from .config import BINARIZE, LIKELIHOODS, PREPROCESS, ConfigError, DataConfig, ModelConfig, \
    TrainConfig
from .data import DATASETS, BatchIterator, Dataset, DatasetUnavailable, dynamic_binarize, \
    load_dataset, to_data_space, to_device, to_unit
from .model import VAE, count_parameters
from .presets import PRESETS, preset_config

PROGRESS_EVERY = 50  # steps between host syncs for the progress bar and the NaN check
STATE_FILE = "trainer_state.pt"
CKPT_FILE = "model.safetensors"
CSV_FIELDS = ["epoch", "train_loss", "train_recon", "train_kl", "test_loss", "test_recon",
              "test_kl", "seconds", "beta"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was left as it was."""


@dataclass
class RunConfig:
    # data
    dataset: str = "shapes"
    data_root: str = ""
    image_size: int = 0
    preprocess: str = "unit"
    binarize: str = "none"
    limit_train: int = 0
    limit_test: int = 0
    download: bool = True
    # model (None: from the preset, else ModelConfig's default)
    preset: str = ""
    arch: str | None = None
    latent_dim: int | None = None
    hidden: list[int] | None = None
    dense: int | None = None
    batchnorm: bool | None = None
    likelihood: str | None = None
    gaussian_sigma: float | None = None
    conditional: bool = False
    # optimisation
    epochs: int | None = 10  # None: 10 for a new run, the saved target when resuming
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    beta: float = 1.0
    warmup_epochs: float = 0.0
    free_bits: float = 0.0
    seed: int = 0
    # system / output
    device: str = "auto"
    compile: bool = False
    threads: int = 0
    out: str = ""
    resume: bool = False
    overwrite: bool = False
    iw_samples: int = 0
    progress: bool = True
    images: bool = True  # write recon/sample grids every epoch
    command: str = ""  # the command line that started this run, recorded in the checkpoint
    final_eval: bool = True

    def train_config(self) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                           weight_decay=self.weight_decay, beta=self.beta,
                           warmup_epochs=self.warmup_epochs, free_bits=self.free_bits,
                           seed=self.seed, device=self.device, compile=self.compile,
                           threads=self.threads, iw_samples=self.iw_samples,
                           data_root=self.data_root, out=self.out)


# Flags that may differ when resuming; everything else (data, model, optimisation) is taken from
# the saved run so that `--resume --out DIR` alone continues it.
RESUME_OVERRIDES = ("epochs", "device", "compile", "threads", "out", "resume", "overwrite",
                    "iw_samples", "progress", "images", "final_eval", "download", "data_root")


# ---------------------------------------------------------------------------------------------
# set-up helpers


def default_threads() -> int:
    """CPU threads when --threads is 0.

    Measured on a shared 2-core VM (docs/benchmarks.md): 2 threads were no faster than 1 for
    these small matmuls and became several times slower when another process used a core,
    because torch's intra-op threads spin-wait for each other. So: 1 thread on machines with up
    to 2 cores, otherwise half the cores (leaving room for the OS / data / other jobs), at most 8.
    """
    n = os.cpu_count() or 1
    return 1 if n <= 2 else min(8, n // 2)


def pick_device(name: str, local_rank: int | None = None) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but CUDA is not available")
        return torch.device("cuda", local_rank or 0)
    if name != "cpu":
        raise ConfigError(f"--device must be auto, cpu or cuda, got {name!r}")
    return torch.device("cpu")


def model_config_for(cfg: RunConfig, ds: Dataset) -> ModelConfig:
    over = dict(arch=cfg.arch, latent_dim=cfg.latent_dim, hidden=cfg.hidden, dense=cfg.dense,
                batchnorm=cfg.batchnorm, likelihood=cfg.likelihood,
                gaussian_sigma=cfg.gaussian_sigma)
    over = {k: v for k, v in over.items() if v is not None}
    if "likelihood" not in over:
        over["likelihood"] = "gaussian" if cfg.preprocess == "symmetric" else "bernoulli"
    over["image_shape"] = ds.image_shape  # the data decides; presets adapt to it
    over["num_classes"] = len(ds.label_names) if cfg.conditional else 0
    if cfg.preset:
        return preset_config(cfg.preset, **over)
    return ModelConfig(**over).validate()


def default_out(cfg: RunConfig, mc: ModelConfig | None = None) -> str:
    name = cfg.preset or (mc.arch if mc else cfg.arch or ModelConfig.arch)
    latent = mc.latent_dim if mc else (cfg.latent_dim or PRESETS.get(cfg.preset, {}).get(
        "latent_dim", ModelConfig.latent_dim))
    return str(Path("runs") / f"{cfg.dataset}-{name}-z{latent}")


def resume_config(cfg: RunConfig) -> tuple[RunConfig, dict]:
    """The saved run's configuration with this invocation's RESUME_OVERRIDES, and the state."""
    out = Path(cfg.out or default_out(cfg))
    state_path = out / STATE_FILE
    if not state_path.is_file():
        raise ConfigError(f"--resume: {state_path} does not exist (pass the run's --out)")
    st = load_trainer_state(state_path)
    saved = dict(st.get("run_config") or {})
    merged = {**saved, **{k: getattr(cfg, k) for k in RESUME_OVERRIDES}}
    merged["out"] = str(out)
    if not cfg.data_root:
        merged["data_root"] = saved.get("data_root", "")
    if cfg.epochs is None:
        merged["epochs"] = saved.get("epochs", st["epoch"])
    if cfg.command and saved.get("command") and cfg.command != saved["command"]:
        # the model card shows how a checkpoint was made: every invocation, in order
        merged["command"] = f"{saved['command']} && {cfg.command}"
    known = {f.name for f in dataclasses.fields(RunConfig)}
    return RunConfig(**{k: v for k, v in merged.items() if k in known}), st


def _dist_env() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def write_csv(path: Path, history: list[dict]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for row in history:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    os.replace(tmp, path)


@torch.no_grad()
def save_grids(model, test: Dataset, mc: ModelConfig, dc: DataConfig, out: Path, epoch: int,
               device: torch.device, seed: int) -> None:
    from torchvision.utils import save_image

    model = objective.unwrap(model)
    was = model.training
    model.eval()
    cond = mc.num_classes > 0
    x = to_data_space(test.images[:8].to(device), dc.preprocess)
    y = test.labels[:8].to(device) if cond else None
    mu, _ = model.encode(x, y)
    rec = model.mean_image(mu, y)
    grid = torch.cat([to_unit(x, dc.preprocess), to_unit(rec.float(), dc.preprocess)])
    save_image(grid.cpu(), out / f"recon_epoch{epoch:03d}.png", nrow=8, padding=1)
    g = torch.Generator().manual_seed(seed + 7)
    z = torch.randn(64, mc.latent_dim, generator=g).to(device)
    ys = (torch.arange(64) % mc.num_classes).to(device) if cond else None
    s = to_unit(model.mean_image(z, ys).float(), dc.preprocess)
    save_image(s.cpu(), out / f"samples_epoch{epoch:03d}.png", nrow=8, padding=1)
    model.train(was)


def _rng_state(batch_gen: torch.Generator, device: torch.device) -> dict:
    st = {"torch": torch.get_rng_state(), "batch_order": batch_gen.get_state()}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state(device)
    return st


def _set_rng_state(st: dict, batch_gen: torch.Generator, device: torch.device) -> None:
    torch.set_rng_state(st["torch"])
    batch_gen.set_state(st["batch_order"])
    if device.type == "cuda" and "cuda" in st:
        torch.cuda.set_rng_state(st["cuda"], device)


# ---------------------------------------------------------------------------------------------
# the run


def train(cfg: RunConfig) -> Path:
    """Train (or resume) one run; returns the run directory. Raises TrainingDiverged on NaN."""
    rank, local_rank, world = _dist_env()
    distributed = world > 1
    device = pick_device(cfg.device, local_rank if distributed else None)
    if distributed:
        import torch.distributed as dist

        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        return _train(cfg, device, rank, world)
    finally:
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()


class _NoBar:
    def __init__(self, *a, **k):
        pass

    def update(self, *a):
        pass

    def set_postfix(self, *a, **k):
        pass

    def close(self):
        pass


def _log(rank: int, *a) -> None:
    if rank == 0:
        print(*a, flush=True)


def _train(cfg: RunConfig, device: torch.device, rank: int, world: int) -> Path:
    st = None
    if cfg.resume:
        cfg, st = resume_config(cfg)
    if cfg.epochs is None:
        cfg = dataclasses.replace(cfg, epochs=10)
    if device.type == "cpu":
        torch.set_num_threads(cfg.threads or default_threads())
    elif cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.batch_size % world:
        raise ConfigError(f"--batch-size {cfg.batch_size} must divide by the {world} processes")
    torch.manual_seed(cfg.seed)
    if cfg.dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {cfg.dataset!r}; choose from {', '.join(DATASETS)}")
    root = cfg.data_root or None
    size = cfg.image_size or None
    train_ds = load_dataset(cfg.dataset, root, "train", cfg.download, size).subset(cfg.limit_train)
    test_ds = load_dataset(cfg.dataset, root, "test", cfg.download, size).subset(cfg.limit_test)
    mc = model_config_for(cfg, train_ds)
    if cfg.preprocess not in PREPROCESS or cfg.binarize not in BINARIZE:
        raise ConfigError(f"--preprocess must be one of {PREPROCESS}, --binarize one of {BINARIZE}")
    if cfg.binarize == "dynamic" and (mc.likelihood != "bernoulli" or cfg.preprocess != "unit"):
        raise ConfigError("--binarize dynamic samples {0, 1} pixels: it needs --likelihood "
                          "bernoulli and --preprocess unit")
    objective.check_data_range(to_data_space(train_ds.images[:2048], cfg.preprocess),
                               mc.likelihood)
    dc = DataConfig(dataset=cfg.dataset, image_shape=train_ds.image_shape,
                    label_names=list(train_ds.label_names), preprocess=cfg.preprocess,
                    binarize=cfg.binarize, train_size=len(train_ds),
                    test_size=len(test_ds)).validate()
    out = Path(cfg.out or default_out(cfg, mc))
    cfg = dataclasses.replace(cfg, out=str(out))
    tc = cfg.train_config()

    model = VAE(mc).to(device)
    if mc.arch == "conv":  # NHWC convolutions: 1.3x per training step on CPU (conv 32-64, z=2)
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    batch_gen = torch.Generator().manual_seed(cfg.seed)
    history: list[dict] = []
    start_epoch, train_seconds = 0, 0.0
    state_path, ckpt_path = out / STATE_FILE, out / CKPT_FILE
    if st is not None:
        if st.get("model_config") != dataclasses.asdict(mc):
            raise ConfigError(f"--resume: the model in {out} was {st.get('model_config')}, these "
                              f"flags give {dataclasses.asdict(mc)}")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        history = list(st["history"])
        start_epoch = int(st["epoch"])
        train_seconds = float(st.get("train_seconds", 0.0))
        _set_rng_state(st["rng"], batch_gen, device)
        _log(rank, f"resuming {out} after epoch {start_epoch}")
    elif ckpt_path.exists() and not cfg.overwrite:
        raise ConfigError(f"{ckpt_path} already exists: continue it with --resume, or pass "
                          f"--overwrite / another --out")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    step_model = model
    if cfg.compile:
        step_model = torch.compile(model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        step_model = DDP(step_model, device_ids=[device.index] if device.type == "cuda" else None)

    images, labels = to_device(train_ds, device)
    it = BatchIterator(images, labels, cfg.batch_size // world, batch_gen, shuffle=True,
                       rank=rank, world=world)
    steps = len(it)
    cond = mc.num_classes > 0
    use_amp = device.type == "cuda"
    hw = hardware_string(device)
    _log(rank, f"{cfg.dataset}: {len(train_ds)} train / {len(test_ds)} test images "
               f"{train_ds.image_shape}; model {mc.arch} {mc.hidden} z={mc.latent_dim} "
               f"{mc.likelihood} ({count_parameters(model):,} parameters); {hw}"
               + (f"; {world} processes" if world > 1 else ""))
    try:
        from tqdm import tqdm
    except ImportError:  # progress bars are optional
        tqdm = _NoBar

    for epoch in range(start_epoch + 1, cfg.epochs + 1):
        step_model.train()
        t0 = time.perf_counter()
        acc = torch.zeros(3, device=device)
        seen = 0
        bar = tqdm(total=steps, desc=f"epoch {epoch}/{cfg.epochs}", leave=False,
                   disable=not cfg.progress or rank != 0, dynamic_ncols=True)
        beta_t = cfg.beta
        for step, (xb, yb) in enumerate(it):
            x = to_data_space(xb.to(device, non_blocking=True), cfg.preprocess)
            if cfg.binarize == "dynamic":
                x = dynamic_binarize(x)
            y = yb.to(device, non_blocking=True) if cond else None
            beta_t = objective.kl_weight(cfg.beta, cfg.warmup_epochs, epoch - 1 + step / steps)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_amp):
                r = objective.negative_elbo(step_model, x, y, beta=beta_t,
                                            free_bits=cfg.free_bits, likelihood=mc.likelihood)
            opt.zero_grad(set_to_none=True)
            r["loss"].backward()
            opt.step()
            n = x.shape[0]
            acc += torch.stack([r["loss"], r["recon"], r["kl"]]).detach().float() * n
            seen += n
            bar.update(1)
            if (step + 1) % PROGRESS_EVERY == 0:
                cur = (acc / seen).tolist()  # the one host sync every PROGRESS_EVERY steps
                if not all(math.isfinite(v) for v in cur):
                    bar.close()
                    raise TrainingDiverged(_diverged_msg(epoch, step + 1, ckpt_path))
                bar.set_postfix(loss=f"{cur[0]:.2f}", recon=f"{cur[1]:.2f}", kl=f"{cur[2]:.2f}")
        bar.close()
        if world > 1:
            import torch.distributed as dist

            tot = torch.cat([acc, torch.tensor([float(seen)], device=device)])
            dist.all_reduce(tot)
            acc, seen = tot[:3], int(tot[3].item())
        train_loss, train_recon, train_kl = (acc / max(1, seen)).tolist()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        secs = time.perf_counter() - t0
        if not all(math.isfinite(v) for v in (train_loss, train_recon, train_kl)):
            raise TrainingDiverged(_diverged_msg(epoch, steps, ckpt_path))
        train_seconds += secs
        if rank == 0:
            from .evaluate import test_elbo

            tm = test_elbo(objective.unwrap(model), test_ds.images, test_ds.labels,
                           cfg.preprocess, device, seed=cfg.seed + 1000,
                           binarize=cfg.binarize)
            if not all(math.isfinite(v) for v in tm.values()):
                raise TrainingDiverged(_diverged_msg(epoch, steps, ckpt_path, "test loss"))
            row = {"epoch": epoch, "train_loss": train_loss, "train_recon": train_recon,
                   "train_kl": train_kl, **tm, "seconds": round(secs, 3), "beta": beta_t}
            history.append(row)
            print(f"epoch {epoch:3d}/{cfg.epochs}  train {train_loss:9.3f} (recon "
                  f"{train_recon:.3f}, kl {train_kl:.3f})  test {tm['test_loss']:9.3f}  "
                  f"beta {beta_t:.3g}  {secs:.2f}s", flush=True)
            if cfg.images:
                save_grids(model, test_ds, mc, dc, out, epoch, device, cfg.seed)
            model.train()
            doc = build_metadata(mc, dc, tc, history, {}, hardware=hw, command=cfg.command,
                                 train_seconds=round(train_seconds, 3))
            save_trainer_state(state_path, {
                "epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "history": history, "rng": _rng_state(batch_gen, device),
                "model_config": dataclasses.asdict(mc), "train_seconds": train_seconds,
                "run_config": dataclasses.asdict(cfg)})
            save_checkpoint(ckpt_path, model, doc)
            write_csv(out / "metrics.csv", history)
        if world > 1:
            import torch.distributed as dist

            dist.barrier()

    if rank == 0 and cfg.final_eval:
        from .evaluate import evaluate_model

        metrics = evaluate_model(model, test_ds, cfg.preprocess, train_ds, device,
                                 k=cfg.iw_samples, binarize=cfg.binarize, seed=cfg.seed)
        model.train()
        doc = build_metadata(mc, dc, tc, history, metrics, hardware=hw, command=cfg.command,
                             train_seconds=round(train_seconds, 3))
        save_checkpoint(ckpt_path, model, doc)
        summary = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in metrics.items()
                            if k in ("test_loss", "iw_nll", "active_units", "knn_accuracy",
                                     "loss_minus_floor"))
        print(f"final: {summary}  ->  {ckpt_path}", flush=True)
    return out


def _diverged_msg(epoch: int, step: int, ckpt: Path, what: str = "training loss") -> str:
    keep = f"the last good checkpoint {ckpt} was left untouched" if ckpt.exists() else \
        "no checkpoint had been written yet"
    return (f"the {what} became NaN/inf in epoch {epoch} (by step {step}); stopped, {keep}. "
            f"Try a lower --lr, --warmup-epochs, or --likelihood bernoulli / a larger "
            f"gaussian sigma.")


# ---------------------------------------------------------------------------------------------
# command line


def _int_list(s: str) -> list[int]:
    try:
        return [int(v) for v in s.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m vae_training",
        description="Train a variational autoencoder and write a checkpoint for the explorer.",
        epilog="Examples:\n"
               "  python -m vae_training --dataset shapes --epochs 10\n"
               "  python -m vae_training --dataset mnist --preset mlp-400-20 --epochs 10\n"
               "  python -m vae_training --dataset mnist --preset mlp-400-20 --epochs 20 --resume\n"
               "  torchrun --nproc_per_node=4 -m vae_training --dataset celeba --preset "
               "celeba-conv-256\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    d = p.add_argument_group("data")
    d.add_argument("--dataset", default="shapes", choices=DATASETS,
                   help="shapes is built in (no download); folder reads --data-root/<class>/<img>"
                        " (default: shapes)")
    d.add_argument("--data-root", default="",
                   help="where datasets live / are downloaded to (torchvision layout, e.g. "
                        "ROOT/MNIST/raw/); default $VAE_DATA_ROOT, ../shared/datasets if it "
                        "exists, else ./.data")
    d.add_argument("--image-size", type=int, default=0,
                   help="resize images to this square side (default: native; 64 for celeba and "
                        "folder)")
    d.add_argument("--preprocess", default="unit", choices=PREPROCESS,
                   help="pixel scaling: unit = [0,1], symmetric = [-1,1] (Gaussian likelihood "
                        "only) (default: unit)")
    d.add_argument("--binarize", default="none", choices=BINARIZE,
                   help="dynamic: resample {0,1} pixels ~ Bernoulli(intensity) every batch, as for"
                        " published binarised-MNIST NLLs (default: none)")
    d.add_argument("--limit-train", type=int, default=0, metavar="N",
                   help="use only the first N training images (0: all)")
    d.add_argument("--limit-test", type=int, default=0, metavar="N",
                   help="use only the first N test images (0: all)")
    d.add_argument("--no-download", action="store_true",
                   help="never try to download; fail with instructions if files are missing")
    m = p.add_argument_group("model (flags override the preset)")
    m.add_argument("--preset", default="", choices=["", *PRESETS],
                   help="a named architecture: " + ", ".join(PRESETS))
    m.add_argument("--arch", choices=["mlp", "conv"], default=None,
                   help="mlp: fully connected; conv: stride-2 conv blocks (default conv)")
    m.add_argument("--latent-dim", type=int, default=None,
                   help="latent dimensions (default 2, which the explorer plots directly)")
    m.add_argument("--hidden", type=_int_list, default=None, metavar="W1,W2,...",
                   help="MLP hidden widths or conv channels, encoder order (default 32,64)")
    m.add_argument("--dense", type=int, default=None,
                   help="conv only: width of a dense layer before the latent heads (0: none)")
    m.add_argument("--batchnorm", action="store_true", default=None,
                   help="conv only: BatchNorm after each conv")
    m.add_argument("--likelihood", choices=LIKELIHOODS, default=None,
                   help="decoder distribution: bernoulli (BCE on logits), gaussian (fixed sigma, "
                        "--gaussian-sigma), gaussian_learned (one learned sigma). Default: "
                        "bernoulli for --preprocess unit, gaussian for symmetric")
    m.add_argument("--gaussian-sigma", type=float, default=None,
                   help="decoder std of --likelihood gaussian, in data units (default 0.1)")
    m.add_argument("--conditional", action="store_true",
                   help="conditional VAE (CVAE): the one-hot label goes into encoder and decoder")
    o = p.add_argument_group("optimisation")
    o.add_argument("--epochs", type=int, default=None,
                   help="total epochs, counting those already done when resuming (default 10; "
                        "with --resume: the saved run's)")
    o.add_argument("--batch-size", type=int, default=128,
                   help="global batch size, split over processes under torchrun (default 128)")
    o.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    o.add_argument("--weight-decay", type=float, default=0.0, help="Adam weight decay")
    o.add_argument("--beta", type=float, default=1.0,
                   help="weight of the KL term (beta-VAE; default 1 = the ELBO)")
    o.add_argument("--warmup-epochs", type=float, default=0.0,
                   help="linear KL warm-up from 0 to beta over this many epochs (default 0)")
    o.add_argument("--free-bits", type=float, default=0.0, metavar="NATS",
                   help="free bits: per-dimension KL (batch mean) below this is not penalised "
                        "(Kingma et al. 2016; default 0)")
    o.add_argument("--seed", type=int, default=0, help="seed of init, batch order and noise")
    s = p.add_argument_group("system and output")
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto picks cuda when available (default auto); bf16 autocast on cuda")
    s.add_argument("--compile", action="store_true", help="torch.compile the model")
    s.add_argument("--threads", type=int, default=0,
                   help="CPU threads for torch (0: 1 on machines with <= 2 cores, else half the "
                        "cores, at most 8)")
    s.add_argument("--out", default="",
                   help="run directory (default runs/<dataset>-<preset or arch>-z<latent>)")
    s.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its trainer_state.pt (data, model and "
                        "optimisation settings come from the saved run; --epochs may raise the "
                        "target; system flags such as --device apply)")
    s.add_argument("--overwrite", action="store_true",
                   help="start afresh even if --out already holds a checkpoint")
    s.add_argument("--iw-samples", type=int, default=0, metavar="K",
                   help="at the end, importance-weighted NLL bound with K samples (0: skip; "
                        "python -m vae_training.evaluate does it later, default k=500 there)")
    s.add_argument("--no-images", action="store_true", help="do not write PNG grids")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def config_from_args(a: argparse.Namespace) -> RunConfig:
    return RunConfig(
        dataset=a.dataset, data_root=a.data_root, image_size=a.image_size,
        preprocess=a.preprocess, binarize=a.binarize, limit_train=a.limit_train,
        limit_test=a.limit_test, download=not a.no_download, preset=a.preset, arch=a.arch,
        latent_dim=a.latent_dim, hidden=a.hidden, dense=a.dense, batchnorm=a.batchnorm,
        likelihood=a.likelihood, gaussian_sigma=a.gaussian_sigma, conditional=a.conditional,
        epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, weight_decay=a.weight_decay,
        beta=a.beta, warmup_epochs=a.warmup_epochs, free_bits=a.free_bits, seed=a.seed,
        device=a.device, compile=a.compile, threads=a.threads, out=a.out, resume=a.resume,
        overwrite=a.overwrite, iw_samples=a.iw_samples, progress=not a.no_progress,
        images=not a.no_images)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = build_parser().parse_args(argv)
    cfg = config_from_args(a)
    cfg.command = "python -m vae_training " + shlex.join(argv)
    try:
        train(cfg)
    except TrainingDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except (ConfigError, DatasetUnavailable, CheckpointError, objective.DataRangeError,
            KeyError) as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    return 0
