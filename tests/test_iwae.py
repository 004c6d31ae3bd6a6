"""--iw-train K (the IWAE bound as the training objective) and --init-from CKPT (fine-tuning).

Pure objective tests first (tiny models, fixed noise), then short runs on the built-in shapes.
"""
import math

import pytest
import torch
import torch.nn.functional as F

from vae_training import objective
from vae_training.checkpoint import load_checkpoint, load_trainer_state, read_metadata, \
    save_checkpoint, save_trainer_state
from vae_training.config import ConfigError, ModelConfig
from vae_training.model import VAE
from vae_training.train import RunConfig, train

from _training_helpers import REPO  # noqa: F401  (sets torch to one thread)


def _tiny_model(seed=0):
    torch.manual_seed(seed)
    return VAE(ModelConfig(arch="mlp", hidden=[16], latent_dim=3, image_shape=[1, 8, 8]))


def _log_weights(model, x, noise):
    """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x), written out from the densities."""
    mu, logvar = model.encode(x)
    std = torch.exp(0.5 * logvar)
    z = mu + noise * std
    logits = model.decode(z.reshape(-1, z.shape[-1])).reshape(noise.shape[0], x.shape[0], -1)
    xk = x.reshape(1, x.shape[0], -1).expand_as(logits)
    log_px = -F.binary_cross_entropy_with_logits(logits, xk, reduction="none").sum(-1)
    prior = torch.distributions.Normal(0.0, 1.0)
    log_pz = prior.log_prob(z).sum(-1)
    log_qz = torch.distributions.Normal(mu, std).log_prob(z).sum(-1)
    return log_px + log_pz - log_qz  # (k, N)


def test_k1_is_exactly_todays_loss():
    model = _tiny_model()
    x = torch.rand(8, 1, 8, 8).round()
    for beta, fb in ((1.0, 0.0), (0.5, 0.2)):
        torch.manual_seed(5)
        a = objective.training_loss(model, x, None, beta, fb, "bernoulli", iw_k=1)
        torch.manual_seed(5)
        b = objective.negative_elbo(model, x, None, beta=beta, free_bits=fb,
                                    likelihood="bernoulli")
        assert torch.equal(a["loss"], b["loss"]) and torch.equal(a["kl"], b["kl"])


def test_iw_bound_is_the_log_mean_weight_and_at_least_the_elbo():
    model = _tiny_model(1)
    x = torch.rand(8, 1, 8, 8).round()
    noise = torch.randn(7, 8, 3, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        r = objective.negative_iw_bound(model, x, k=7, noise=noise)
        lw = _log_weights(model, x, noise)
    # the known answer: log (1/k) sum_i w_i, per image, from the densities written out
    want = torch.logsumexp(lw, 0) - math.log(7)
    assert torch.allclose(r["bound_per_sample"], want, atol=1e-4)
    assert r["loss"].item() == pytest.approx(-want.mean().item(), abs=1e-4)
    # Jensen, exactly for the same draws: the k-sample bound >= the mean of the k ELBO samples
    assert (r["bound_per_sample"] >= lw.mean(0) - 1e-5).all()
    # and against the analytic ELBO over many draws (fixed seeds): the bound is the higher one
    with torch.no_grad():
        g = torch.Generator().manual_seed(3)
        elbo = torch.stack([-objective.negative_elbo(model, x, noise=torch.randn(8, 3, generator=g))
                            ["loss"] for _ in range(200)]).mean()
        iw = torch.stack([-objective.negative_iw_bound(
            model, x, k=20, noise=torch.randn(20, 8, 3, generator=g))["loss"]
            for _ in range(10)]).mean()
    assert iw > elbo + 0.05


def test_iw_bound_equals_log_px_when_the_posterior_is_the_prior():
    """A model whose encoder returns N(0, I) and whose decoder ignores z: every weight is
    p(x) itself, so the bound is log p(x) exactly, for any k, and equals the ELBO."""
    model = _tiny_model(2)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    x = torch.rand(4, 1, 8, 8).round()
    logits = model.decode(torch.zeros(1, 3)).reshape(-1)
    log_px = -F.binary_cross_entropy_with_logits(logits.expand(4, -1), x.reshape(4, -1),
                                                 reduction="none").sum(-1)
    with torch.no_grad():
        for k in (1, 5):
            r = objective.negative_iw_bound(model, x, k=k)
            assert torch.allclose(r["bound_per_sample"], log_px, atol=1e-4)
        e = objective.negative_elbo(model, x)
    assert e["loss"].item() == pytest.approx(-log_px.mean().item(), abs=1e-4)


def test_gradient_reaches_encoder_and_decoder():
    model = _tiny_model(3)
    x = torch.rand(8, 1, 8, 8).round()
    objective.negative_iw_bound(model, x, k=4)["loss"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert model.fc1.weight.grad.abs().sum() > 0  # through the reparameterised samples


def _tiny_run(tmp_path, **kw) -> RunConfig:
    base = dict(dataset="shapes", arch="mlp", hidden=[64], latent_dim=2, limit_train=256,
                limit_test=64, batch_size=64, epochs=2, lr=2e-3, seed=3, device="cpu",
                threads=1, out=str(tmp_path / "run"), progress=False, images=False,
                final_eval=False, precision="fp32")
    base.update(kw)
    return RunConfig(**base)


def test_iwae_run_stores_k_and_resume_keeps_it(tmp_path):
    full = train(_tiny_run(tmp_path, iw_train=3, out=str(tmp_path / "full")))
    assert load_checkpoint(full / "model.safetensors").train.iw_train == 3
    part = _tiny_run(tmp_path, iw_train=3, epochs=1, out=str(tmp_path / "part"))
    train(part)
    # resume without the flag: K comes from the saved run, the weights match the full run
    train(_tiny_run(tmp_path, epochs=2, out=str(tmp_path / "part"), resume=True))
    a = load_trainer_state(full / "trainer_state.pt")
    b = load_trainer_state(tmp_path / "part" / "trainer_state.pt")
    assert b["run_config"]["iw_train"] == 3
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert load_checkpoint(tmp_path / "part" / "model.safetensors").train.iw_train == 3


def test_k_above_1_refuses_beta_free_bits_and_warmup(tmp_path):
    for kw in (dict(beta=4.0), dict(free_bits=0.5), dict(warmup_epochs=2.0), dict(iw_train=0)):
        with pytest.raises(ConfigError):
            train(_tiny_run(tmp_path, **{"iw_train": 2, **kw}))


def test_a_state_written_before_iw_train_resumes_as_the_elbo(tmp_path):
    out = train(_tiny_run(tmp_path, epochs=1))
    st = load_trainer_state(out / "trainer_state.pt")
    del st["run_config"]["iw_train"], st["run_config"]["init_from"]
    save_trainer_state(out / "trainer_state.pt", st)
    train(_tiny_run(tmp_path, epochs=2, resume=True))
    assert load_trainer_state(out / "trainer_state.pt")["run_config"]["iw_train"] == 1


def test_a_checkpoint_without_the_new_fields_opens_as_the_elbo(tmp_path):
    out = train(_tiny_run(tmp_path, epochs=1))
    path = out / "model.safetensors"
    ck = load_checkpoint(path)
    doc = dict(ck.info)
    doc["train"] = {k: v for k, v in doc["train"].items() if k not in ("iw_train", "init_from")}
    save_checkpoint(path, ck.model, doc)  # as the previous version wrote it
    ck = load_checkpoint(path)
    assert "iw_train" not in read_metadata(path)["train"]
    assert ck.train.iw_train == 1 and ck.train.init_from == ""


def test_shipped_checkpoints_open_with_their_objective():
    """Files written before --iw-train open as K=1; the IWAE-fine-tuned mnist-conv-z16 says the
    K of its last run (50)."""
    for p in sorted((REPO / "checkpoints").glob("*.safetensors")):
        want = 50 if p.name == "mnist-conv-z16.safetensors" else 1
        assert load_checkpoint(p).train.iw_train == want, p.name


def test_init_from_continues_the_source_with_a_fresh_optimizer(tmp_path):
    src = train(_tiny_run(tmp_path, epochs=2, out=str(tmp_path / "src"), command="python -m "
                          "vae_training --epochs 2 --out /abs/runs/src"))
    src_ck = load_checkpoint(src / "model.safetensors")
    cfg = _tiny_run(tmp_path, epochs=3, out=str(tmp_path / "ft"), iw_train=2, lr=1e-4,
                    init_from=str(src / "model.safetensors"),
                    command="python -m vae_training --init-from /abs/runs/src/model.safetensors")
    out = train(cfg)
    ck = load_checkpoint(out / "model.safetensors")
    assert [h["epoch"] for h in ck.history] == [1, 2, 3]
    assert ck.history[:2] == src_ck.history
    assert ck.train.iw_train == 2 and ck.train.init_from.endswith("model.safetensors")
    assert ck.info["command"].startswith(
        "python -m vae_training --epochs 2 --out /abs/runs/src && ")
    assert ck.info["train_seconds"] > src_ck.info["train_seconds"]
    st = load_trainer_state(out / "trainer_state.pt")
    assert st["epoch"] == 3 and len(st["optimizer"]["state"]) > 0
    # the step count of Adam is one epoch's, not three: the optimizer started afresh
    steps = {int(s["step"]) for s in st["optimizer"]["state"].values()}
    assert steps == {4}  # 256 images / 64 per batch
    from vae_training.modelcard import render
    card = render([out / "model.safetensors"])
    assert "--init-from runs/src/model.safetensors" in card and "IWAE k=2" in card


def test_init_from_refuses_another_model_and_too_few_epochs(tmp_path):
    src = train(_tiny_run(tmp_path, epochs=2, out=str(tmp_path / "src")))
    with pytest.raises(ConfigError, match="model"):
        train(_tiny_run(tmp_path, epochs=3, out=str(tmp_path / "a"), latent_dim=4,
                        init_from=str(src / "model.safetensors")))
    with pytest.raises(ConfigError, match="pass more than 2"):
        train(_tiny_run(tmp_path, epochs=2, out=str(tmp_path / "b"),
                        init_from=str(src / "model.safetensors")))


def test_init_from_never_unpickles(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"x": torch.zeros(1)}, evil)
    from vae_training.checkpoint import CheckpointError
    with pytest.raises(CheckpointError, match="pickle"):
        train(_tiny_run(tmp_path, epochs=3, init_from=str(evil)))


def test_explorer_names_the_objective():
    from vae_explorer.checkpoints import loss_curve_title, training_objective
    from vae_training.config import TrainConfig
    assert training_objective(TrainConfig()) == "negative ELBO"
    assert training_objective(TrainConfig(beta=4.0)) == "negative ELBO, β=4"
    assert "k=5 (IWAE)" in training_objective(TrainConfig(iw_train=5))
    assert loss_curve_title(TrainConfig()) == "loss (negative ELBO, nats)"
    assert "IW bound k=5" in loss_curve_title(TrainConfig(iw_train=5))
    assert "ELBO" in loss_curve_title(TrainConfig(iw_train=5))


def test_evaluation_in_channels_last_gives_the_same_figures():
    """evaluate_model runs conv models in NHWC (2x faster IW bound on the CPU): same values."""
    from vae_training.data import Dataset
    from vae_training.evaluate import evaluate_model
    torch.manual_seed(0)
    cfg = ModelConfig(arch="conv", hidden=[8, 16], dense=32, latent_dim=3, image_shape=[1, 16, 16])
    model = VAE(cfg).eval()
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(12, 1, 16, 16, generator=g) > 0.5).float()
    iw = {}
    for fmt in (torch.contiguous_format, torch.channels_last):
        gen = torch.Generator().manual_seed(1)  # evaluate_model's: seed + 1
        iw[fmt] = objective.iw_log_likelihood(model.to(memory_format=fmt), x, k=50, generator=gen)
    assert torch.allclose(iw[torch.contiguous_format], iw[torch.channels_last], atol=1e-3)
    model = model.to(memory_format=torch.contiguous_format)
    images = (x * 255).to(torch.uint8)
    m = evaluate_model(model, Dataset("t", images, torch.zeros(12, dtype=torch.int64), ["a"]),
                       "unit", k=50)
    assert m["iw_nll"] == pytest.approx(-float(iw[torch.channels_last].mean()), abs=1e-3)
    conv = next(p for p in model.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)  # it ran in NHWC
