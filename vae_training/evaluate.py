"""Test-set metrics of a trained VAE: python -m vae_training.evaluate CKPT

Everything here runs in fp32 (no autocast), whatever precision the model was trained in.

    test_loss / test_recon / test_kl   negative ELBO (beta = 1, no free bits) = recon + KL, nats
    iw_nll (iw_k)                      importance-weighted bound on -log p(x) with k samples
    active_units, kl_per_dim           Burda et al.: Var_x(E_q[z_u]) > 0.01; mean KL per dimension
    bce_floor, loss_minus_floor        continuous data under a Bernoulli likelihood: the sum of
                                       binary entropies of the pixel intensities is the least BCE
                                       any model can reach, so loss minus floor is what is fixable
    knn_accuracy                       5-NN label accuracy of the test codes (posterior means of the
                                       images as stored, never binarised: the explorer's map),
                                       with the codes of the first 50,000 training images as reference
                                       (the Parametric UMAP paper's protocol, Sainburg et al. 2021)
                                       (leave-one-out on the test codes when no train set is given)
    mig, factor_names, factor_mi       datasets generated from known factors (shapes, shapes-rgb):
                                       the Mutual Information Gap of the test codes and each
                                       dimension's normalised MI with each factor (label first)
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from . import objective, system
from .data import Dataset, dynamic_binarize, load_dataset, to_data_space

KNN_K = 5
KNN_REFERENCE = 50_000  # the project's metrics protocol (issue 13); files before it used 10,000


@torch.no_grad()
def encode_all(model, images: torch.Tensor, labels: torch.Tensor, preprocess: str,
               device: torch.device, batch_size: int = 1000, binarize_gen=None):
    mus, logvars = [], []
    cond = model.cfg.num_classes > 0
    for i in range(0, images.shape[0], batch_size):
        x = to_data_space(images[i:i + batch_size].to(device), preprocess)
        if binarize_gen is not None:
            x = dynamic_binarize(x, binarize_gen)
        y = labels[i:i + batch_size].to(device) if cond else None
        mu, logvar = model.encode(x, y)
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
    return torch.cat(mus), torch.cat(logvars)


def knn_accuracy(query: torch.Tensor, query_labels: torch.Tensor, ref: torch.Tensor | None = None,
                 ref_labels: torch.Tensor | None = None, k: int = KNN_K) -> float:
    """k-NN majority-vote label accuracy (Euclidean). ref None: leave-one-out on query."""
    loo = ref is None
    if loo:
        ref, ref_labels = query, query_labels
    n_cls = int(max(query_labels.max(), ref_labels.max())) + 1
    correct = 0
    for i in range(0, query.shape[0], 1024):
        q = query[i:i + 1024]
        d = torch.cdist(q, ref)
        if loo:
            d[torch.arange(q.shape[0]), torch.arange(i, i + q.shape[0])] = float("inf")
        idx = d.topk(min(k, ref.shape[0] - int(loo)), largest=False).indices
        votes = torch.zeros(q.shape[0], n_cls).scatter_add_(
            1, ref_labels[idx], torch.ones(idx.shape, dtype=torch.float32))
        correct += int((votes.argmax(1) == query_labels[i:i + 1024]).sum())
    return correct / max(1, query.shape[0])


@torch.inference_mode()  # no autograd bookkeeping at all (no_grad still tracks versions)
def test_elbo(model, images: torch.Tensor, labels: torch.Tensor, preprocess: str,
              device: torch.device, seed: int = 0, batch_size: int = 1000,
              binarize: str = "none") -> dict:
    """Negative ELBO on a data set with its own RNG (the global RNG is left untouched)."""
    model.eval()
    gen = torch.Generator(device=device).manual_seed(seed + 2)  # reparameterisation noise
    bgen = torch.Generator(device=device).manual_seed(seed)  # binarisation (as in evaluate_model)
    cond = model.cfg.num_classes > 0
    tot = torch.zeros(2, dtype=torch.float64, device=device)
    n = images.shape[0]
    for i in range(0, n, batch_size):
        x = to_data_space(images[i:i + batch_size].to(device), preprocess)
        if binarize == "dynamic":
            x = dynamic_binarize(x, bgen)
        y = labels[i:i + batch_size].to(device) if cond else None
        eps = torch.randn((x.shape[0], model.latent_dim), device=device, generator=gen)
        r = objective.negative_elbo(model, x, y, beta=1.0, noise=eps)
        tot += torch.stack([r["recon_per_sample"].sum(), r["kl_per_sample"].sum()]).double()
    recon, kl = (tot / max(1, n)).tolist()
    return {"test_loss": recon + kl, "test_recon": recon, "test_kl": kl}


@torch.no_grad()
def factor_metrics(mu: torch.Tensor, test: Dataset) -> dict:
    """MIG and the normalised mutual information of each dimension with each known factor (the
    label first, as a discrete factor), on the test codes; see vae_training.disentanglement."""
    from .disentanglement import factor_scores, sample_factors

    f, names, discrete = sample_factors(test.labels.cpu().numpy(), test.factors.cpu().numpy(),
                                        list(test.factor_names))
    s = factor_scores(mu.float().cpu().numpy(), f, names, discrete)
    return {"mig": round(s.mig, 5), "factor_names": names,
            "factor_mi": [[round(float(v), 4) for v in row] for row in s.mi]}


def evaluate_model(model, test: Dataset, preprocess: str, train: Dataset | None = None,
                   device: str | torch.device = "cpu", k: int = 0, binarize: str = "none",
                   seed: int = 0, batch_size: int = 500, progress: bool = False) -> dict:
    """All test metrics as a JSON-ready dict (see the module docstring)."""
    t0 = time.perf_counter()
    device = torch.device(device)
    model = objective.unwrap(model).to(device).eval()
    if model.cfg.arch == "conv":
        # NHWC convolutions, as the trainer uses: the IW bound of mnist-conv-z16 (k=1000, 5
        # images, fp32, 1 thread, loaded 2-core EPYC) 2.9-3.3 s instead of 6.2-7.0 s, the same
        # value within 1e-5 nats (tests/test_iwae.py). A module's .to() is in place: the
        # trainer's model is NHWC already, a checkpoint is saved contiguous either way.
        model = model.to(memory_format=torch.channels_last)
    lik = model.cfg.likelihood
    m: dict = {"test_size": int(test.images.shape[0]), "binarize": binarize}
    m.update(test_elbo(model, test.images, test.labels, preprocess, device, seed=seed,
                       batch_size=batch_size, binarize=binarize))
    # the same binarised test set (same generator seed) for codes and the IW bound
    mu, logvar = encode_all(model, test.images, test.labels, preprocess, device, batch_size,
                            torch.Generator(device=device).manual_seed(seed)
                            if binarize == "dynamic" else None)
    kl_dims = objective.kl_per_dimension(mu, logvar)
    au, _ = objective.active_units(mu)
    m["active_units"] = au
    m["active_units_threshold"] = 0.01
    m["latent_dim"] = int(mu.shape[1])
    m["kl_per_dim"] = [round(float(v), 5) for v in kl_dims]
    if test.factors is not None:  # a generated dataset: which dimension holds which factor
        m.update(factor_metrics(mu, test))
    if lik == "bernoulli" and binarize == "none":
        floor = 0.0
        for i in range(0, test.images.shape[0], 4096):
            x = to_data_space(test.images[i:i + 4096], "unit")
            floor += float(objective.bernoulli_entropy_floor(x).double().sum())
        floor /= max(1, test.images.shape[0])
        if floor > 0:  # continuous intensities (not already binary)
            m["bce_floor"] = floor
            m["loss_minus_floor"] = m["test_loss"] - floor
    if k and k > 0:
        gen = torch.Generator(device=device).manual_seed(seed + 1)
        bgen = torch.Generator(device=device).manual_seed(seed)
        cond = model.cfg.num_classes > 0
        total = 0.0
        # images per batch so that about this many samples are decoded at once: on a CPU small
        # batches stay in cache (k=500, conv z=16, one thread: 0.28 s per image with 5k samples
        # per batch, 0.6 s with 50k)
        per_batch = 50_000 if torch.device(device).type == "cuda" else 5_000
        bs = max(1, min(batch_size, per_batch // k))
        rng = range(0, test.images.shape[0], bs)
        if progress:
            from tqdm import tqdm

            rng = tqdm(rng, desc=f"IW bound k={k}", leave=False)
        for i in rng:
            x = to_data_space(test.images[i:i + bs].to(device), preprocess)
            if binarize == "dynamic":
                x = dynamic_binarize(x, bgen)
            y = test.labels[i:i + bs].to(device) if cond else None
            total += float(objective.iw_log_likelihood(model, x, y, k=k, generator=gen)
                           .double().sum())
        m["iw_nll"] = -total / max(1, test.images.shape[0])
        m["iw_k"] = int(k)
    labels = test.labels.cpu()
    if labels.numel() > KNN_K and len(test.label_names) > 1:
        # k-NN measures the map the explorer draws: codes of the images as stored, never
        # binarised, for test and reference alike (mixing the two treatments costs ~1 point)
        if binarize == "dynamic":
            mu, _ = encode_all(model, test.images, test.labels, preprocess, device, batch_size)
        if train is not None and train.images.shape[0] > KNN_K:
            ref = train.subset(KNN_REFERENCE)
            rmu, _ = encode_all(model, ref.images, ref.labels, preprocess, device, batch_size)
            m["knn_accuracy"] = knn_accuracy(mu, labels, rmu, ref.labels.cpu())
            m["knn_reference"] = f"{KNN_K}-NN of test codes among {rmu.shape[0]} train codes"
        else:
            m["knn_accuracy"] = knn_accuracy(mu, labels)
            m["knn_reference"] = f"{KNN_K}-NN leave-one-out on the test codes"
        m["knn_k"] = KNN_K
    from .checkpoint import hardware_string

    m["eval_device"] = hardware_string(device)
    m["eval_seconds"] = round(time.perf_counter() - t0, 3)
    return m


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m vae_training.evaluate",
        description="Compute test metrics of a checkpoint and store them in its metadata.")
    p.add_argument("checkpoint", help="path to a .safetensors checkpoint written by this tool")
    p.add_argument("--data-root", default=None,
                   help="dataset folder (default: the one recorded in the checkpoint, else "
                        "$VAE_DATA_ROOT, ../shared/datasets or ./.data)")
    p.add_argument("--k", type=int, default=500,
                   help="samples of the importance-weighted NLL bound (0 skips it; default 500)")
    p.add_argument("--binarize", choices=["none", "dynamic"], default=None,
                   help="binarise test pixels by Bernoulli sampling (fixed seed), as for published "
                        "binarised-MNIST NLLs (default: as the model was trained)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument("--limit-test", type=int, default=0,
                   help="compute the IW bound on the first N test images only (the other "
                        "metrics always use the whole test split)")
    p.add_argument("--batch-size", type=int, default=500, help="images per batch (default 500)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads (0: as the trainer, the cores idle now; see "
                        "vae_training.system)")
    p.add_argument("--no-write", action="store_true",
                   help="print the metrics only; do not write them into the checkpoint")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    from .checkpoint import CheckpointError, load_checkpoint, update_checkpoint_metadata
    from .config import ConfigError
    from .data import DatasetUnavailable

    try:
        device = system.pick_device(a.device)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    system.set_threads(a.threads, device)
    try:
        ck = load_checkpoint(a.checkpoint)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    dc = ck.data
    root = a.data_root or ck.train.data_root or None
    size = ck.model_config.image_shape[-1]
    try:
        full_test = load_dataset(dc.dataset, root, "test", image_size=size)
        test = full_test.subset(a.limit_test) if a.limit_test else full_test
        train = load_dataset(dc.dataset, root, "train", image_size=size)
    except DatasetUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if test.image_shape != list(ck.model_config.image_shape):
        print(f"error: the {dc.dataset} test images are {test.image_shape}, the model expects "
              f"{ck.model_config.image_shape}", file=sys.stderr)
        return 2
    binarize = a.binarize or dc.binarize
    subset = a.limit_test and test.images.shape[0] < full_test.images.shape[0]
    # (on a subset only the IW bound is kept: skip encoding the k-NN reference codes there)
    m = evaluate_model(ck.model, test, dc.preprocess, None if subset else train, device, k=a.k,
                       binarize=binarize, seed=ck.train.seed, batch_size=a.batch_size,
                       progress=not a.no_progress)
    if subset:
        # The IW bound is the costly part: only it comes from the first N images; everything
        # else is measured on the whole test split, so the checkpoint never mixes the two.
        iw = {"iw_nll": m["iw_nll"], "iw_k": m["iw_k"],
              "iw_test_size": int(test.images.shape[0])} if "iw_nll" in m else {}
        m = evaluate_model(ck.model, full_test, dc.preprocess, train, device, k=0,
                           binarize=binarize, seed=ck.train.seed, batch_size=a.batch_size,
                           progress=False)
        m.update(iw)
    for key, v in m.items():
        if key == "kl_per_dim":
            v = "[" + ", ".join(f"{t:.3f}" for t in v[:16]) + (", ...]" if len(v) > 16 else "]")
        elif isinstance(v, float):
            v = f"{v:.4f}"
        print(f"{key:>20}: {v}")
    if not a.no_write:
        update_checkpoint_metadata(a.checkpoint, metrics=m)
        print(f"metrics written into {a.checkpoint}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
