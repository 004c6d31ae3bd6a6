"""The training loop (its command line is vae_training.cli: python -m vae_training --help)

One RunConfig (a plain dataclass mirroring the flags) goes in, a run directory comes out:

    model.safetensors   the checkpoint (weights + metadata, rewritten atomically every epoch)
    trainer_state.pt    weights, optimizer, epoch, history and every RNG state, for --resume
    metrics.csv         one row per epoch
    recon_epochNNN.png  8 test images (top) and their reconstructions (bottom)
    samples_epochNNN.png  64 decoded samples from a fixed set of prior draws

The fast path keeps the whole uint8 data set on the training device, shuffles indices with a
seeded torch.Generator and converts each batch to float on the fly. Loss sums stay on the device;
the host reads them every PROGRESS_EVERY steps (progress bar, NaN check) and once per epoch.
Device, threads and precision come from vae_training.system; the loss and the KL are always
computed in fp32, the weights and Adam's moments stay fp32 in bf16 runs (autocast, or for an MLP
on the CPU oneDNN's bf16 math mode around the steps: system.bf16_kind).

    train(cfg) = setup_run(cfg) (vae_training.run_setup) -> for each epoch: train_one_epoch,
                 end_of_epoch -> final_eval
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist

from . import neighbour_graph, objective, system
from .checkpoint import build_metadata, save_checkpoint, save_trainer_state
from .data import dynamic_binarize, to_data_space
from .run_setup import Run, setup_run
from .runconfig import STATE_FILE, RunConfig
from .runfiles import rng_state, save_grids, write_csv
from .system import pick_device

__all__ = ["RunConfig", "TrainingDiverged", "train", "setup_run", "train_one_epoch",
           "end_of_epoch", "final_eval"]
PROGRESS_EVERY = 50  # steps between host syncs for the progress bar and the NaN check


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was left as it was."""


def _dist_env() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def _progress_bar(run: Run, epoch: int):
    try:
        from tqdm import tqdm
    except ImportError:  # progress bars are optional
        tqdm = _NoBar
    return tqdm(total=len(run.batches), desc=f"epoch {epoch}/{run.cfg.epochs}", leave=False,
                disable=not run.cfg.progress or run.rank != 0, dynamic_ncols=True)


def train_one_epoch(run: Run, epoch: int) -> tuple[list[float], float]:
    """One pass over the training set: ([loss, recon, kl] means over the epoch, last beta).

    The step queues its work without waiting for it: loss sums accumulate on the device and the
    host reads them every PROGRESS_EVERY steps and once at the end."""
    cfg, device = run.cfg, run.device
    run.step_model.train()
    acc = torch.zeros(3, device=device)
    bar = _progress_bar(run, epoch)
    # an MLP on the CPU gets its bf16 from oneDNN's math mode, on for the steps only (forward
    # and backward): end_of_epoch's test pass runs in fp32 (vae_training.system.bf16_kind)
    matmul_mode = system.bf16_kind(device, cfg.precision, run.mc.arch) == "matmul"
    with system.bf16_matmuls(matmul_mode):
        seen, beta_t = _steps(run, epoch, acc, bar)
    bar.close()
    if run.world > 1:
        tot = torch.cat([acc, torch.tensor([float(seen)], device=device)])
        dist.all_reduce(tot)
        acc, seen = tot[:3], int(tot[3].item())
    means = (acc / max(1, seen)).tolist()
    if not all(math.isfinite(v) for v in means):
        raise TrainingDiverged(_diverged_msg(epoch, len(run.batches), run.ckpt_path))
    return means, beta_t


def _steps(run: Run, epoch: int, acc: torch.Tensor, bar) -> tuple[int, float]:
    """The epoch's optimisation steps; loss sums (x batch size) into acc. Returns (images seen,
    last beta)."""
    cfg, device, steps = run.cfg, run.device, len(run.batches)
    cond = run.mc.num_classes > 0
    seen, beta_t = 0, cfg.beta
    for step, (xb, yb) in enumerate(run.batches):
        x = to_data_space(xb.to(device, non_blocking=True), cfg.preprocess)
        if cfg.binarize == "dynamic":
            x = dynamic_binarize(x)
        y = yb.to(device, non_blocking=True) if cond else None
        beta_t = objective.kl_weight(cfg.beta, cfg.warmup_epochs, epoch - 1 + step / steps)
        with system.autocast(device, cfg.precision, run.mc.arch):  # bf16; the loss is fp32
            r = objective.training_loss(run.step_model, x, y, beta_t, cfg.free_bits,
                                        run.mc.likelihood, cfg.iw_train)
            loss = r["loss"]
            if run.edges is not None:
                loss = loss + cfg.neighbour_weight * _neighbour_term(run, x.shape[0])
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        n = x.shape[0]
        acc += torch.stack([r["loss"], r["recon"], r["kl"]]).detach() * n
        seen += n
        bar.update(1)
        if (step + 1) % PROGRESS_EVERY == 0:
            cur = (acc / seen).tolist()  # the one host sync every PROGRESS_EVERY steps
            if not all(math.isfinite(v) for v in cur):
                bar.close()
                raise TrainingDiverged(_diverged_msg(epoch, step + 1, run.ckpt_path))
            bar.set_postfix(loss=f"{cur[0]:.2f}", recon=f"{cur[1]:.2f}", kl=f"{cur[2]:.2f}")
    return seen, beta_t


def _neighbour_term(run: Run, n: int) -> torch.Tensor:
    """Parametric UMAP's loss on the encoder means of n edges drawn from the data's graph."""
    n *= run.cfg.neighbour_edges
    head, tail = run.edges.sample(n)
    images = run.batches.images  # uint8, already on the device
    idx = torch.cat([head, tail]).to(images.device)
    x = to_data_space(images.index_select(0, idx), run.cfg.preprocess)  # see BatchIterator
    if run.cfg.binarize == "dynamic":
        x = dynamic_binarize(x)  # the encoder sees what the ELBO's batches show it
    y = run.batches.labels.index_select(0, idx) if run.mc.num_classes > 0 else None
    mu = objective.unwrap(run.step_model).encode(x, y)[0]
    a, b = run.umap_ab
    s = run.cfg.neighbour_scale
    return neighbour_graph.umap_cross_entropy(mu[:n] * s, mu[n:] * s, a, b,
                                              generator=run.edges.gen)


def _metadata(run: Run, metrics: dict) -> dict:
    return build_metadata(run.mc, run.dc, run.cfg.train_config(), run.history, metrics,
                          hardware=run.hw, command=run.cfg.command,
                          train_seconds=round(run.train_seconds, 3))


def end_of_epoch(run: Run, epoch: int, means: list[float], secs: float, beta_t: float) -> None:
    """Rank 0: test -ELBO (fp32), log line, grids, then trainer state, checkpoint and CSV."""
    from .evaluate import test_elbo

    cfg, model = run.cfg, run.model
    tm = test_elbo(model, run.test_ds.images, run.test_ds.labels, cfg.preprocess, run.device,
                   seed=cfg.seed + 1000, binarize=cfg.binarize)
    if not all(math.isfinite(v) for v in tm.values()):
        raise TrainingDiverged(_diverged_msg(epoch, len(run.batches), run.ckpt_path, "test loss"))
    train_loss, train_recon, train_kl = means
    run.history.append({"epoch": epoch, "train_loss": train_loss, "train_recon": train_recon,
                        "train_kl": train_kl, **tm, "seconds": round(secs, 3), "beta": beta_t})
    print(f"epoch {epoch:3d}/{cfg.epochs}  train {train_loss:9.3f} (recon "
          f"{train_recon:.3f}, kl {train_kl:.3f})  test {tm['test_loss']:9.3f}  "
          f"beta {beta_t:.3g}  {secs:.2f}s", flush=True)
    if cfg.images:
        save_grids(model, run.test_ds, run.mc, run.dc, run.out, epoch, run.device, cfg.seed)
    model.train()
    save_trainer_state(run.out / STATE_FILE, {
        "epoch": epoch, "model": model.state_dict(), "optimizer": run.opt.state_dict(),
        "history": run.history, "rng": _rng(run),
        "model_config": dataclasses.asdict(run.mc), "train_seconds": run.train_seconds,
        "run_config": dataclasses.asdict(cfg)})
    save_checkpoint(run.ckpt_path, model, _metadata(run, {}))
    write_csv(run.out / "metrics.csv", run.history)


def _rng(run: Run) -> dict:
    st = rng_state(run.batch_gen, run.device)
    if run.edges is not None:
        st["edge_order"] = run.edges.gen.get_state()
    return st


def final_eval(run: Run) -> None:
    """Rank 0: all test metrics (fp32; IW NLL when --iw-samples) into the checkpoint."""
    from .evaluate import evaluate_model

    cfg = run.cfg
    metrics = evaluate_model(run.model, run.test_ds, cfg.preprocess, run.train_ds, run.device,
                             k=cfg.iw_samples, binarize=cfg.binarize, seed=cfg.seed)
    run.model.train()
    save_checkpoint(run.ckpt_path, run.model, _metadata(run, metrics))
    summary = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in metrics.items()
                        if k in ("test_loss", "iw_nll", "active_units", "knn_accuracy",
                                 "loss_minus_floor"))
    print(f"final: {summary}  ->  {run.ckpt_path}", flush=True)


# ---------------------------------------------------------------------------------------------
# the run


def train(cfg: RunConfig) -> Path:
    """Train (or resume) one run; returns the run directory. Raises TrainingDiverged on NaN."""
    rank, local_rank, world = _dist_env()
    distributed = world > 1
    device = pick_device(cfg.device, local_rank if distributed else None)
    if distributed:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        return _train(cfg, device, rank, world)
    finally:
        if distributed:
            dist.destroy_process_group()


def _train(cfg: RunConfig, device: torch.device, rank: int, world: int) -> Path:
    run = setup_run(cfg, device, rank, world)
    for epoch in range(run.start_epoch + 1, run.cfg.epochs + 1):
        t0 = time.perf_counter()
        means, beta_t = train_one_epoch(run, epoch)  # its .tolist() waits for the device
        secs = time.perf_counter() - t0
        run.train_seconds += secs
        if rank == 0:
            end_of_epoch(run, epoch, means, secs, beta_t)
        if world > 1:
            dist.barrier()
    if rank == 0 and run.cfg.final_eval:
        final_eval(run)
    return run.out


class _NoBar:
    def __init__(self, *a, **k):
        pass

    def update(self, *a):
        pass

    def set_postfix(self, *a, **k):
        pass

    def close(self):
        pass


def _diverged_msg(epoch: int, step: int, ckpt: Path, what: str = "training loss") -> str:
    keep = f"the last good checkpoint {ckpt} was left untouched" if ckpt.exists() else \
        "no checkpoint had been written yet"
    return (f"the {what} became NaN/inf in epoch {epoch} (by step {step}); stopped, {keep}. "
            f"Try a lower --lr, --warmup-epochs, or --likelihood bernoulli / a larger "
            f"gaussian sigma.")
