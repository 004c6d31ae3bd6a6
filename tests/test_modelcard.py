"""checkpoints/README.md is generated from the checkpoints' own metadata."""
from vae_training.checkpoint import update_checkpoint_metadata
from vae_training.modelcard import main, render

from _explorer_helpers import make_checkpoint


def _history(n):
    return [{"epoch": i + 1, "train_loss": 100.0, "test_loss": 99.0} for i in range(n)]


def test_card_rows_and_summary_come_from_the_files(tmp_path):
    a = make_checkpoint(tmp_path / "a.safetensors", latent_dim=2)
    b = make_checkpoint(tmp_path / "b.safetensors", latent_dim=16)
    update_checkpoint_metadata(a, history=_history(3), hardware="CPU x86_64, 2 cores",
                               command="python -m vae_training --epochs 3", train_seconds=90.0,
                               metrics={"test_loss": 150.5, "knn_accuracy": 0.8123, "mig": 0.1234})
    update_checkpoint_metadata(b, history=_history(7), hardware="CPU x86_64, 2 cores",
                               metrics={"test_loss": 88.0, "iw_nll": 84.25, "iw_k": 500,
                                        "iw_test_size": 2000, "active_units": 12})
    card = render([a, b])
    row_a = next(line for line in card.splitlines() if line.startswith("| `a.safetensors`"))
    assert "| 3 | – | 1.5 min | 150.50 |" in row_a and "| 81.2 % | 0.123 |" in row_a
    row_b = next(line for line in card.splitlines() if line.startswith("| `b.safetensors`"))
    assert "84.25 (k=500, first 2000 test images)" in row_b and "| 12/16 |" in row_b
    assert "| – | – |" in row_b  # neither k-NN nor MIG measured
    assert "python -m vae_training --epochs 3" in card
    assert "Trained for 3 to 7 epochs on CPU x86_64, 2 cores." in card
    assert "not converged" not in card  # too few epochs to tell: no claim either way
    update_checkpoint_metadata(b, hardware="NVIDIA H100 80GB HBM3 (CUDA 12.8)")
    card = render([a, b])
    assert "CPU x86_64, 2 cores; NVIDIA H100 80GB HBM3 (CUDA 12.8)" in card


def test_converged_is_the_protocols_mean_gain_over_the_last_ten_epochs(tmp_path):
    from vae_training.modelcard import convergence

    flat = [{"epoch": i + 1, "test_loss": 100.0 - 0.05 * i} for i in range(15)]
    assert convergence(flat) == "yes (0.05/epoch)"
    falling = [{"epoch": i + 1, "test_loss": 100.0 - 0.5 * i} for i in range(15)]
    assert convergence(falling) == "no (0.50/epoch)"
    assert convergence(falling[:10]) == "–"  # 10 epochs: no 10-epoch window before the last
    a = make_checkpoint(tmp_path / "a.safetensors", latent_dim=2)
    update_checkpoint_metadata(a, history=falling)
    card = render([a])
    assert "| 15 | no (0.50/epoch) |" in card and "Those marked not converged" in card


def test_card_refuses_a_broken_file(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    assert main([str(bad)]) == 2
    assert "error" in capsys.readouterr().err


def test_card_says_when_a_map_was_shaped_by_the_neighbour_term(tmp_path):
    from vae_training.checkpoint import read_metadata
    a = make_checkpoint(tmp_path / "a.safetensors", latent_dim=2)
    train = dict(read_metadata(a)["train"], neighbour_weight=4000.0)
    update_checkpoint_metadata(a, train=train)
    row_a = next(line for line in render([a]).splitlines() if line.startswith("| `a.safetensors`"))
    assert "z=2 + neighbour term (W=4000)" in row_a


def test_card_names_beta_and_a_gaussian_likelihood(tmp_path):
    from vae_training.checkpoint import read_metadata
    a = make_checkpoint(tmp_path / "a.safetensors", latent_dim=8)
    doc = read_metadata(a)
    update_checkpoint_metadata(a, train=dict(doc["train"], beta=4.0),
                               model=dict(doc["model"], likelihood="gaussian", gaussian_sigma=0.1))
    row = next(line for line in render([a]).splitlines() if line.startswith("| `a.safetensors`"))
    assert "z=8 Gaussian σ=0.1 β=4 |" in row


def test_card_shows_an_absolute_run_folder_as_runs_name(tmp_path):
    a = make_checkpoint(tmp_path / "a.safetensors", latent_dim=2)
    update_checkpoint_metadata(a, command="python -m vae_training --epochs 3 --out /work/runs/x-z8 "
                                          "--data-root ../shared/datasets")
    card = render([a])
    assert "--out runs/x-z8 --data-root ../shared/datasets" in card and "/work/" not in card
    update_checkpoint_metadata(a, command="python -m training --epochs 2 && python -m training "
                                          "--resume --out runs/y")
    assert "python -m vae_training --epochs 2 && python -m vae_training --resume" in render([a])
