"""Quitting the explorer while background work runs (Ctrl-C during a cold open) exits cleanly."""
import subprocess
import sys

from _training_helpers import REPO

# a real reconstruction job, as the app starts it, far from done when the script ends
SCRIPT = """
import time
from types import SimpleNamespace
import numpy as np
from vae_training.config import ModelConfig
from vae_training.model import VAE
from vae_explorer import compute

model = VAE(ModelConfig(arch="conv", hidden=[32, 64], latent_dim=2).validate()).eval()
ck = SimpleNamespace(model=model, data=SimpleNamespace(preprocess="unit"))
n = 50_000
job = compute.start_reconstruction("0" * 64, "exit-test", ck, np.zeros((n, 1, 28, 28), np.uint8),
                                   None, np.zeros((n, 2), np.float32))
while job.frac == 0:
    time.sleep(0.01)
print("left at", job.frac, flush=True)
"""


def test_exit_during_a_background_reconstruction_is_clean():
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    left_at = float(r.stdout.split("left at")[1])
    assert 0 < left_at < 0.5  # the job was mid-way when the interpreter began to exit
    # a daemon thread inside a torch op at shutdown aborts the process (status 134)
    assert "terminate called" not in r.stderr
    assert r.returncode == 0, r.stderr[-2000:]
