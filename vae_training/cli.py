"""The command line of the trainer: python -m vae_training --help

Each flag fills the RunConfig field of the same name (vae_training.train holds the loop).
"""
from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys

from . import objective, system
from .checkpoint import CheckpointError
from .config import BINARIZE, LIKELIHOODS, PREPROCESS, ConfigError
from .data import DATASETS, DatasetUnavailable
from .presets import PRESETS
from .runconfig import RunConfig
from .train import TrainingDiverged, train




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
    o.add_argument("--neighbour-weight", type=float, default=0.0, metavar="W",
                   help="add W x parametric UMAP's loss on the latent means to the negative ELBO: "
                        "images that are neighbours in pixel space stay neighbours in the latent "
                        "(a clearer 2-D map that still decodes). 0 = a plain VAE (default 0)")
    o.add_argument("--neighbour-k", type=int, default=15, metavar="K",
                   help="neighbours per image in the data's fuzzy k-NN graph (umap-learn; built "
                        "once, cached in ~/.cache/vae-explorer/neighbour-graphs; default 15)")
    o.add_argument("--neighbour-scale", type=float, default=5.0, metavar="S",
                   help="the term sees latent distances x S: UMAP's curve separates clusters a "
                        "few units apart, the prior keeps codes within ~3 of 0 (default 5)")
    o.add_argument("--neighbour-edges", type=int, default=4, metavar="E",
                   help="graph edges drawn per training image of a batch (default 4)")
    o.add_argument("--iw-train", type=int, default=1, metavar="K",
                   help="importance samples per image in the training bound: K > 1 trains on the "
                        "K-sample importance-weighted bound (IWAE, Burda et al. 2016), which the "
                        "IW NLL measures; costs ~K decoder passes per step. Needs --beta 1, no "
                        "--free-bits / --warmup-epochs (default 1 = the ELBO)")
    o.add_argument("--init-from", default="", metavar="CKPT",
                   help="start from the weights of this checkpoint (.safetensors written by this "
                        "tool; validated, never unpickled) with a fresh optimizer; its history "
                        "and epoch count carry on, so --epochs counts them (e.g. fine-tune a "
                        "shipped model with --iw-train)")
    o.add_argument("--seed", type=int, default=0, help="seed of init, batch order and noise")
    s = p.add_argument_group("system and output")
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto picks cuda when available (default auto)")
    s.add_argument("--precision", default="auto", choices=list(system.PRECISIONS),
                   help="bf16: autocast the forward matmuls/convs to bf16 (fp32 weights, loss "
                        "and KL); auto: bf16 on CPUs with AVX512-BF16/AMX and bf16-capable GPUs, "
                        "else fp32. Stored with the run; --resume keeps it (default auto)")
    s.add_argument("--compile", action="store_true",
                   help="torch.compile the model (no gain on CPU for these models, see "
                        "docs/benchmarks.md)")
    s.add_argument("--threads", type=int, default=0,
                   help="CPU threads for torch (0: the cores idle when the run starts, sampled "
                        "from /proc/stat, at least 1, at most 8)")
    s.add_argument("--out", default="",
                   help="run directory (default runs/<dataset>-<preset or arch>-z<latent>)")
    s.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its trainer_state.pt (data, model and "
                        "optimisation settings and the precision come from the saved run; --epochs "
                        "may raise the target; system flags such as --device apply)")
    s.add_argument("--overwrite", action="store_true",
                   help="start afresh even if --out already holds a checkpoint")
    s.add_argument("--iw-samples", type=int, default=0, metavar="K",
                   help="at the end, importance-weighted NLL bound with K samples (0: skip; "
                        "python -m vae_training.evaluate does it later, default k=500 there)")
    s.add_argument("--no-images", action="store_true", help="do not write PNG grids")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


# flags whose dest differs from the RunConfig field: --no-download etc. store the negation
_NEGATED = {"download": "no_download", "progress": "no_progress", "images": "no_images"}


def config_from_args(a: argparse.Namespace) -> RunConfig:
    """Each RunConfig field from the flag of the same name (one list of settings: RunConfig)."""
    kw = {}
    for f in dataclasses.fields(RunConfig):
        if f.name in _NEGATED:
            kw[f.name] = not getattr(a, _NEGATED[f.name])
        elif hasattr(a, f.name):
            kw[f.name] = getattr(a, f.name)
    return RunConfig(**kw)


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
