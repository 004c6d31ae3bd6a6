import csv
import subprocess
import sys

import pytest
import torch

from vae_training import objective
from vae_training.checkpoint import load_checkpoint, load_trainer_state
from vae_training.cli import build_parser, config_from_args, main
from vae_training.train import RunConfig, TrainingDiverged, train

from _training_helpers import REPO


def tiny(tmp_path, **kw) -> RunConfig:
    base = dict(dataset="shapes", arch="mlp", hidden=[64], latent_dim=2, limit_train=512,
                limit_test=128, batch_size=64, epochs=2, lr=2e-3, seed=3, device="cpu",
                threads=1, out=str(tmp_path / "run"), progress=False, images=False)
    base.update(kw)
    return RunConfig(**base)


def test_two_epochs_lower_the_loss_and_write_the_run(tmp_path):
    out = train(tiny(tmp_path, epochs=3, images=True, limit_train=1024))
    ck = load_checkpoint(out / "model.safetensors")
    h = ck.history
    assert [r["epoch"] for r in h] == [1, 2, 3]
    assert h[-1]["train_loss"] < h[0]["train_loss"] and h[-1]["test_loss"] < h[0]["test_loss"]
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert list(rows[0]) == ["epoch", "train_loss", "train_recon", "train_kl", "test_loss",
                             "test_recon", "test_kl", "seconds", "beta"]
    assert len(rows) == 3
    for f in ("recon_epoch001.png", "samples_epoch003.png", "trainer_state.pt"):
        assert (out / f).is_file()
    m = ck.metrics
    assert m["test_loss"] == pytest.approx(m["test_recon"] + m["test_kl"])
    assert 0 <= m["active_units"] <= 2 and len(m["kl_per_dim"]) == 2
    assert m["bce_floor"] > 0 and m["loss_minus_floor"] > 0 and 0 <= m["knn_accuracy"] <= 1
    assert ck.info["hardware"].startswith("CPU") and ck.info["train_seconds"] > 0
    assert ck.data.label_names[0] == "square" and ck.data.train_size == 1024


def test_resume_equals_an_uninterrupted_run(tmp_path):
    full = train(tiny(tmp_path, epochs=4, out=str(tmp_path / "full"), warmup_epochs=3,
                      free_bits=0.1))
    part = tiny(tmp_path, epochs=2, out=str(tmp_path / "part"), warmup_epochs=3, free_bits=0.1)
    train(part)
    train(tiny(tmp_path, epochs=4, out=str(tmp_path / "part"), warmup_epochs=3, free_bits=0.1,
               resume=True))
    a = load_trainer_state(full / "trainer_state.pt")
    b = load_trainer_state(tmp_path / "part" / "trainer_state.pt")
    assert a["epoch"] == b["epoch"] == 4
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(a["history"]) == strip(b["history"])


def test_existing_run_is_not_overwritten_without_a_flag(tmp_path):
    train(tiny(tmp_path, epochs=1, final_eval=False))
    with pytest.raises(Exception, match="--resume"):
        train(tiny(tmp_path, epochs=1))


def test_bernoulli_on_symmetric_data_is_refused(tmp_path):
    with pytest.raises(objective.DataRangeError, match="use --preprocess unit"):
        train(tiny(tmp_path, preprocess="symmetric", likelihood="bernoulli"))
    assert not (tmp_path / "run").exists()


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    args = ["--dataset", "shapes", "--arch", "mlp", "--hidden", "32", "--limit-train", "256",
            "--limit-test", "64", "--batch-size", "64", "--epochs", "3", "--device", "cpu",
            "--out", str(tmp_path / "run"), "--no-progress", "--no-images"]
    real = objective.negative_elbo
    calls = {"n": 0}

    def poisoned(*a, **kw):
        r = real(*a, **kw)
        if torch.is_grad_enabled():
            calls["n"] += 1
            if calls["n"] > 4:  # epoch 2 of 4 steps per epoch
                r["loss"] = r["loss"] * float("nan")
        return r

    monkeypatch.setattr(objective, "negative_elbo", poisoned)
    assert main(args) == 3
    err = capsys.readouterr().err
    assert "NaN" in err and "left untouched" in err
    ck = load_checkpoint(tmp_path / "run" / "model.safetensors")
    assert [r["epoch"] for r in ck.history] == [1]
    assert load_trainer_state(tmp_path / "run" / "trainer_state.pt")["epoch"] == 1


def test_conditional_gaussian_symmetric_run(tmp_path):
    out = train(tiny(tmp_path, epochs=1, conditional=True, preprocess="symmetric",
                     likelihood="gaussian_learned", arch="conv", hidden=[8, 16], iw_samples=5,
                     limit_train=256, limit_test=64, images=True))
    ck = load_checkpoint(out / "model.safetensors")
    assert ck.model_config.num_classes == 6 and ck.data.preprocess == "symmetric"
    assert ck.metrics["iw_k"] == 5 and "bce_floor" not in ck.metrics


def test_help_explains_every_flag():
    text = build_parser().format_help()
    for flag in ("--dataset", "--data-root", "--image-size", "--preset", "--arch", "--latent-dim",
                 "--hidden", "--dense", "--batchnorm", "--likelihood", "--preprocess",
                 "--binarize", "--conditional", "--epochs", "--batch-size", "--lr", "--beta",
                 "--warmup-epochs", "--free-bits", "--seed", "--device", "--precision", "--compile",
                 "--threads", "--out", "--resume", "--iw-samples", "--limit-train",
                 "--limit-test", "--no-progress"):
        assert flag in text, flag
    for action in build_parser()._actions:
        assert action.help, action.dest


@pytest.mark.slow
def test_cli_and_evaluate_on_real_mnist(tmp_path, shared_datasets):
    out = tmp_path / "mnist"
    r = subprocess.run([sys.executable, "-m", "vae_training", "--dataset", "mnist", "--data-root",
                        str(shared_datasets), "--preset", "mlp-400-20", "--epochs", "1",
                        "--limit-train", "6000", "--limit-test", "500", "--device", "cpu",
                        "--out", str(out), "--no-progress", "--no-images"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "vae_training.evaluate", str(out / "model.safetensors"),
                        "--k", "20", "--limit-test", "200", "--no-progress"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ck = load_checkpoint(out / "model.safetensors")
    m = ck.metrics
    assert m["iw_k"] == 20 and m["iw_nll"] <= m["test_loss"] + 1.0
    assert m["test_loss"] < 240 and m["knn_accuracy"] > 0.5
    # only the IW bound comes from the first 200 images; the rest is the whole test split
    assert m["iw_test_size"] == 200 and m["test_size"] == 10_000


def test_resume_with_only_out_reuses_the_saved_settings(tmp_path):
    cfg = tiny(tmp_path, epochs=1, final_eval=False)
    cfg.command = "python -m vae_training --first-run"
    train(cfg)
    assert main(["--resume", "--out", str(tmp_path / "run"), "--epochs", "2", "--device", "cpu",
                 "--no-progress", "--no-images"]) == 0
    ck = load_checkpoint(tmp_path / "run" / "model.safetensors")
    assert [r["epoch"] for r in ck.history] == [1, 2]
    assert ck.info["command"] == ("python -m vae_training --first-run && python -m vae_training "
                                  f"--resume --out {tmp_path / 'run'} --epochs 2 --device cpu "
                                  "--no-progress --no-images")
    assert ck.model_config.arch == "mlp" and ck.model_config.hidden == [64]
    assert ck.data.train_size == 512 and ck.train.epochs == 2


def test_knn_uses_undithered_codes_for_test_and_reference_alike():
    from vae_training.config import ModelConfig
    from vae_training.data import load_dataset
    from vae_training.evaluate import encode_all, evaluate_model, knn_accuracy
    from vae_training.model import VAE

    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="mlp", hidden=[32], latent_dim=2).validate()).eval()
    test = load_dataset("shapes", split="test").subset(300)
    train_ds = load_dataset("shapes", split="train").subset(600)
    m = evaluate_model(model, test, "unit", train_ds, binarize="dynamic")
    # the map the explorer draws: neither side binarised
    tmu, _ = encode_all(model, test.images, test.labels, "unit", torch.device("cpu"))
    rmu, _ = encode_all(model, train_ds.images, train_ds.labels, "unit", torch.device("cpu"))
    assert m["knn_accuracy"] == knn_accuracy(tmu, test.labels, rmu, train_ds.labels)
    # and it is not what binarised test codes would give
    bmu, _ = encode_all(model, test.images, test.labels, "unit", torch.device("cpu"),
                        binarize_gen=torch.Generator().manual_seed(0))
    assert not torch.allclose(bmu, tmu)


def test_every_flag_lands_in_its_runconfig_field():
    import dataclasses

    from vae_training import cli

    a = build_parser().parse_args(["--precision", "bf16", "--no-download", "--threads", "2",
                                   "--hidden", "8,16", "--binarize", "dynamic", "--no-images"])
    cfg = config_from_args(a)
    assert (cfg.precision, cfg.download, cfg.threads, cfg.hidden, cfg.binarize) == \
        ("bf16", False, 2, [8, 16], "dynamic")
    assert cfg.images is False and cfg.progress is True and cfg.epochs is None
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    for action in build_parser()._actions:
        if action.dest != "help":
            assert action.dest in fields or action.dest in cli._NEGATED.values(), action.dest


def test_evaluation_stores_mig_for_datasets_with_known_factors():
    from vae_training.config import ModelConfig
    from vae_training.data import load_dataset
    from vae_training.disentanglement import factor_scores, sample_factors
    from vae_training.evaluate import encode_all, evaluate_model
    from vae_training.model import VAE

    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="mlp", hidden=[32], latent_dim=3).validate()).eval()
    test = load_dataset("shapes", split="test").subset(400)
    m = evaluate_model(model, test, "unit")
    assert m["factor_names"] == ["shape", "scale", "x", "y", "rotation"]
    assert len(m["factor_mi"]) == 3 and all(len(row) == 5 for row in m["factor_mi"])
    mu, _ = encode_all(model, test.images, test.labels, "unit", torch.device("cpu"))
    want = factor_scores(mu.numpy(), *sample_factors(test.labels.numpy(), test.factors.numpy(),
                                                     test.factor_names)[:2],
                         (True, False, False, False, False))
    assert m["mig"] == pytest.approx(want.mig, abs=1e-4) and 0 <= m["mig"] <= 1
    test.factors = None  # a dataset without known factors has no MIG
    assert "mig" not in evaluate_model(model, test, "unit")
