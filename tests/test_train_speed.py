"""bench/train_speed.py's smallest mode (time to quality, one run, one epoch) on tiny MNIST-format
files: it runs both sides and prints each run's set-up, train and test seconds apart."""
import re
import subprocess
import sys

from _training_helpers import REPO, make_fake_mnist

NUM = r"(\d+\.\d+)"


def test_ttq_prints_setup_train_and_test_seconds_for_both_sides(tmp_path):
    make_fake_mnist(tmp_path, n_train=256, n_test=128)
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "train_speed.py"), "--only", "ttq", "--repeat", "1",
         "--max-epochs", "1", "--target", "1e6", "--data-root", str(tmp_path), "--device", "cpu"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    for side in ("tutorial (as written)", "ours (no flags)"):
        run = re.search(re.escape(side) + rf"\s+run 1:\s+{NUM} s wall = set-up {NUM} \+ train "
                        rf"{NUM} \+ test {NUM} s, 1 epochs, test -ELBO {NUM}", text)
        assert run, text
        wall, setup, train, test, _ = map(float, run.groups())
        # each printed to 0.01 s
        assert min(setup, train, test) >= 0 and setup + train + test <= wall + 0.02
        assert re.search(re.escape(side) + rf"\s+median s: set-up {NUM}, train {NUM}, test {NUM}",
                         text), text
        assert re.search(re.escape(side) + r"\s+wall s min/median/max:", text), text
    assert re.search(rf"ours / tutorial \(medians\): {NUM}; target <= 0.33", text), text


def test_mlp_step_bench_prints_each_variant_and_the_data_path(tmp_path):
    make_fake_mnist(tmp_path, n_train=256, n_test=128)
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "mlp_step.py"), "--threads", "1", "--rounds", "1",
         "--steps", "2", "--data-root", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    for variant in ("math mode", "autocast", "fp32"):
        assert re.search(re.escape(variant) + rf"\s+{NUM} \[{NUM}-{NUM}\]\s+{NUM} \[", out.stdout), \
            out.stdout
    for part in ("x[idx]", "index_select", "index_select + to float"):
        assert re.search(re.escape(part) + rf"\s+{NUM} \[", out.stdout), out.stdout
