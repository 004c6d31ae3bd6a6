"""RunConfig: every setting of a training run (the CLI's flags, one field each), and how a run
is named and resumed. Plain data; the loop is vae_training.train, the flags vae_training.cli.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import load_trainer_state
from .config import ConfigError, ModelConfig, TrainConfig
from .data import Dataset
from .presets import PRESETS, preset_config

STATE_FILE = "trainer_state.pt"
CKPT_FILE = "model.safetensors"


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
    neighbour_weight: float = 0.0
    neighbour_k: int = 15
    neighbour_scale: float = 5.0
    neighbour_edges: int = 4
    iw_train: int = 1  # importance samples per image in the training bound (1: the ELBO)
    init_from: str = ""  # start from this checkpoint's weights (safetensors, validated)
    seed: int = 0
    # system / output
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16; the run stores the resolved fp32 / bf16
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
                           precision=self.precision, neighbour_weight=self.neighbour_weight,
                           neighbour_k=self.neighbour_k, neighbour_scale=self.neighbour_scale,
                           neighbour_edges=self.neighbour_edges,
                           threads=self.threads, iw_samples=self.iw_samples,
                           iw_train=self.iw_train, init_from=self.init_from,
                           data_root=self.data_root, out=self.out)


# Flags that may differ when resuming; everything else (data, model, optimisation) is taken from
# the saved run so that `--resume --out DIR` alone continues it.
RESUME_OVERRIDES = ("epochs", "device", "compile", "threads", "out", "resume", "overwrite",
                    "iw_samples", "progress", "images", "final_eval", "download", "data_root")



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


def resume_config(cfg: RunConfig, device: torch.device | None = None) -> tuple[RunConfig, dict]:
    """The saved run's configuration with this invocation's RESUME_OVERRIDES, and the state.

    The precision is the saved run's; a state written before it was recorded ran bf16 autocast
    on CUDA and fp32 on a CPU, so it continues that way."""
    out = Path(cfg.out or default_out(cfg))
    state_path = out / STATE_FILE
    if not state_path.is_file():
        raise ConfigError(f"--resume: {state_path} does not exist (pass the run's --out)")
    st = load_trainer_state(state_path)
    saved = dict(st.get("run_config") or {})
    if "precision" not in saved:
        saved["precision"] = "bf16" if device is not None and device.type == "cuda" else "fp32"
    if "neighbour_weight" in saved and "neighbour_scale" not in saved:
        # runs from before these settings existed used distances as they are and one edge each
        saved.update(neighbour_scale=1.0, neighbour_edges=1)
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


def check_objective(cfg: RunConfig, world: int = 1) -> None:
    """--iw-train: an integer 1..1000; above 1 the bound itself is trained, alone."""
    k = cfg.iw_train
    if not (isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= 1000):
        raise ConfigError(f"--iw-train must be an integer 1..1000, got {k!r}")
    if k > 1 and (cfg.beta != 1 or cfg.free_bits > 0 or cfg.warmup_epochs > 0):
        # the IW bound weighs whole samples: with a beta, free bits or a warm-up it would no
        # longer bound log p(x), and the figure it trains would mean nothing
        raise ConfigError("--iw-train K > 1 trains the importance-weighted bound itself: it needs "
                          "--beta 1, --free-bits 0 and --warmup-epochs 0")
    if k > 1 and world > 1:
        raise ConfigError("--iw-train > 1 is not supported with several processes (torchrun)")


def init_state(cfg: RunConfig, mc: ModelConfig) -> dict:
    """What --init-from takes from a checkpoint (validated safetensors, never a pickle): weights,
    history, epoch count, training time, and the command as source's command && this one, so the
    model card shows how to make the file from nothing."""
    from .checkpoint import load_checkpoint

    ck = load_checkpoint(cfg.init_from)
    if dataclasses.asdict(ck.model_config) != dataclasses.asdict(mc):
        raise ConfigError(f"--init-from: {cfg.init_from} holds the model "
                          f"{dataclasses.asdict(ck.model_config)}, these flags give "
                          f"{dataclasses.asdict(mc)}")
    history = [h for h in ck.history if isinstance(h, dict)]
    epoch = int(history[-1].get("epoch", len(history))) if history else 0
    if cfg.epochs is not None and cfg.epochs <= epoch:
        raise ConfigError(f"--init-from: {cfg.init_from} was trained {epoch} epochs and "
                          f"--epochs counts them: pass more than {epoch}")
    secs = ck.info.get("train_seconds")
    src = ck.info.get("command")
    command = f"{src} && {cfg.command}" if isinstance(src, str) and src and cfg.command \
        else cfg.command
    return {"model": ck.model.state_dict(), "history": history, "epoch": epoch,
            "train_seconds": float(secs) if isinstance(secs, (int, float)) else 0.0,
            "command": command}
