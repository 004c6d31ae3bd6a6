"""The device / threads / precision policy (vae_training.system) and the trainer under it."""
import ast

import pytest
import torch

from vae_training import system
from vae_training.checkpoint import load_checkpoint, load_trainer_state, save_trainer_state
from vae_training.config import ConfigError, TrainConfig, from_dict
from vae_training.train import train

from _training_helpers import REPO
from test_training import tiny

CPU = torch.device("cpu")


@pytest.mark.parametrize("flags,expected", [
    ({"avx512f", "avx512bw", "avx512_bf16"}, "bf16"),  # Zen 4 / Cooper Lake
    ({"avx512f", "amx_bf16", "amx_tile"}, "bf16"),  # Sapphire Rapids
    ({"avx512f", "avx512bw"}, "fp32"),  # AVX-512 without BF16: bf16 only emulated
    ({"avx2", "fma"}, "fp32"),
    (set(), "fp32"),  # no /proc/cpuinfo (macOS, Windows)
])
def test_auto_picks_bf16_only_where_the_cpu_has_it(monkeypatch, flags, expected):
    monkeypatch.setattr(system, "cpu_flags", lambda: flags)
    assert system.resolve_precision("auto", CPU) == expected
    assert system.resolve_precision("fp32", CPU) == "fp32"
    assert system.resolve_precision("bf16", CPU) == "bf16"  # asked for: honoured


def test_cuda_bf16_follows_the_gpu_and_bad_names_are_refused(monkeypatch):
    monkeypatch.setattr(system, "cuda_has_bf16", lambda: False)
    assert system.resolve_precision("auto", torch.device("cuda", 0)) == "fp32"
    monkeypatch.setattr(system, "cuda_has_bf16", lambda: True)
    assert system.resolve_precision("auto", torch.device("cuda", 0)) == "bf16"
    with pytest.raises(ConfigError, match="--precision"):
        system.resolve_precision("fp16", CPU)


def test_threads_are_the_idle_cores():
    assert system.default_threads(cores=2, busy=0.2) == 2  # idle 2-core machine
    assert system.default_threads(cores=2, busy=1.3) == 1  # one core busy elsewhere
    assert system.default_threads(cores=2, busy=6.0) == 1  # never below one
    assert system.default_threads(cores=16, busy=10.0) == 6
    assert system.default_threads(cores=64, busy=0.0) == system.MAX_THREADS


def test_busy_cores_is_a_fraction_of_the_machine():
    assert 0.0 <= system.busy_cores(0.05) <= (__import__("os").cpu_count() or 1) + 1e-6


def test_cpu_flags_reads_proc_cpuinfo_here():
    flags = system.cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags on this machine")
    assert system.cpu_has_bf16() == bool(flags & {"avx512_bf16", "amx_bf16"})


def test_bf16_run_matches_fp32_and_is_recorded(tmp_path):
    a = train(tiny(tmp_path, epochs=3, precision="fp32", out=str(tmp_path / "fp32")))
    b = train(tiny(tmp_path, epochs=3, precision="bf16", out=str(tmp_path / "bf16")))
    ha, hb = load_checkpoint(a / "model.safetensors"), load_checkpoint(b / "model.safetensors")
    assert ha.train.precision == "fp32" and hb.train.precision == "bf16"
    assert load_trainer_state(b / "trainer_state.pt")["run_config"]["precision"] == "bf16"
    la, lb = ha.history[-1]["test_loss"], hb.history[-1]["test_loss"]
    # different arithmetic, same optimisation: within 1% after 3 epochs (typically ~0.1%)
    assert lb == pytest.approx(la, rel=0.01)
    # and the bf16 run really ran in bf16 (its losses are not bit-identical to fp32)
    assert ha.history[0]["train_loss"] != hb.history[0]["train_loss"]


def test_bf16_kind_math_mode_for_the_cpu_mlp_autocast_elsewhere():
    cuda = torch.device("cuda", 0)
    assert system.bf16_kind(CPU, "bf16", "mlp") == "matmul"
    assert system.bf16_kind(CPU, "bf16", "conv") == "autocast"  # channels_last bf16 convs
    assert system.bf16_kind(cuda, "bf16", "mlp") == "autocast"
    assert system.bf16_kind(CPU, "bf16") == "autocast"  # arch unknown: as before
    assert system.bf16_kind(CPU, "fp32", "mlp") == system.bf16_kind(CPU, "fp32", "conv") == ""
    # the math mode replaces autocast, never both
    assert not torch.is_autocast_enabled("cpu")
    with system.autocast(CPU, "bf16", "mlp"):
        assert not torch.is_autocast_enabled("cpu")
    with system.autocast(CPU, "bf16", "conv"):
        assert torch.is_autocast_enabled("cpu")


def _mode():
    return torch.backends.mkldnn.matmul.fp32_precision


def test_bf16_matmuls_sets_the_math_mode_and_restores_it_even_on_error():
    before = _mode()
    with system.bf16_matmuls():
        assert _mode() == "bf16"
        a, b = torch.randn(64, 300), torch.randn(300, 50)
        # inputs rounded to bf16 inside the kernel, output fp32
        out = a @ b
        assert out.dtype == torch.float32
        assert torch.allclose(out, a.bfloat16().float() @ b.bfloat16().float(), atol=1e-3)
    assert _mode() == before
    with pytest.raises(RuntimeError, match="boom"):
        with system.bf16_matmuls():
            raise RuntimeError("boom")
    assert _mode() == before
    with system.bf16_matmuls(enabled=False):
        assert _mode() == before


def test_the_latent_path_stays_fp32_inside_the_math_mode():
    g = torch.Generator().manual_seed(0)
    layer = torch.nn.Linear(300, 20)
    x = torch.randn(64, 300, generator=g)

    def run(fn):
        layer.zero_grad(set_to_none=True)
        xi = x.clone().requires_grad_()
        out = fn(xi)
        (out * torch.linspace(-1, 1, 20)).sum().backward()
        return out.detach(), xi.grad, layer.weight.grad, layer.bias.grad

    ref = run(layer)  # fp32, outside the mode
    with system.bf16_matmuls():
        kept = run(lambda xi: system.fp32_linear(layer, xi))
        rounded = run(layer)
    for a, b in zip(ref, kept):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)
    assert (ref[0] - rounded[0]).abs().max() > 1e-3  # the mode really rounds plain matmuls
    before = _mode()
    for a, b in zip(ref, run(lambda xi: system.fp32_linear(layer, xi))):  # outside the mode
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5)
    assert _mode() == before  # left as it was


def test_the_mlp_trains_in_the_math_mode_and_evaluates_in_fp32(tmp_path, monkeypatch):
    """What each forward pass ran under: the training steps in bf16 math mode, the per-epoch
    test pass and the final metrics in fp32, and the mode is back as it was afterwards."""
    from vae_training import run_setup as train_mod  # where the run builds its VAE

    seen = []
    real = train_mod.VAE

    def recording_vae(cfg):
        m = real(cfg)
        m.fc1.register_forward_pre_hook(lambda mod, a: seen.append((mod.training, _mode())))
        return m

    monkeypatch.setattr(train_mod, "VAE", recording_vae)
    before = _mode()
    train(tiny(tmp_path, epochs=2, precision="bf16", final_eval=True))
    assert _mode() == before
    assert {m for t, m in seen if t} == {"bf16"}
    assert {m for t, m in seen if not t} == {before}  # test pass, metrics: fp32


def _same_run(a, b):
    sa, sb = load_trainer_state(a / "trainer_state.pt"), load_trainer_state(b / "trainer_state.pt")
    assert sa["epoch"] == sb["epoch"]
    for k, v in sa["model"].items():
        assert torch.equal(v, sb["model"][k]), k
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(sa["history"]) == strip(sb["history"])


def test_resume_keeps_the_runs_precision_even_where_auto_would_differ(tmp_path, monkeypatch):
    monkeypatch.setattr(system, "cpu_flags", lambda: {"avx512_bf16"})
    full = train(tiny(tmp_path, epochs=3, out=str(tmp_path / "full")))  # auto -> bf16
    train(tiny(tmp_path, epochs=1, out=str(tmp_path / "part")))
    assert load_trainer_state(tmp_path / "part" / "trainer_state.pt")[
        "run_config"]["precision"] == "bf16"
    monkeypatch.setattr(system, "cpu_flags", lambda: set())  # "another machine": auto -> fp32
    train(tiny(tmp_path, epochs=3, out=str(tmp_path / "part"), resume=True))
    _same_run(full, tmp_path / "part")


def test_a_state_from_before_precision_was_recorded_resumes_in_fp32(tmp_path, monkeypatch):
    monkeypatch.setattr(system, "cpu_flags", lambda: {"avx512_bf16"})
    full = train(tiny(tmp_path, epochs=3, precision="fp32", out=str(tmp_path / "full")))
    part = tmp_path / "part"
    train(tiny(tmp_path, epochs=1, precision="fp32", out=str(part)))
    st = load_trainer_state(part / "trainer_state.pt")
    del st["run_config"]["precision"]  # as written by the previous version (fp32 on a CPU)
    save_trainer_state(part / "trainer_state.pt", st)
    train(tiny(tmp_path, epochs=3, out=str(part), resume=True))
    _same_run(full, part)


def test_older_training_arguments_still_open():
    tc = from_dict(TrainConfig, {"epochs": 10, "device": "auto", "threads": 0})
    assert tc.precision == ""  # not recorded


def _imports(path):
    tree = ast.parse(path.read_text())
    return {(n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


def test_the_train_evaluate_import_cycle_is_gone():
    pkg = REPO / "vae_training"
    assert "train" not in _imports(pkg / "evaluate.py")
    assert not {"train", "evaluate", "cli"} & _imports(pkg / "system.py")
    # the policy has one home: no other module defines its own device / thread picker
    for f in pkg.glob("*.py"):
        if f.name != "system.py":
            names = {n.name for n in ast.walk(ast.parse(f.read_text()))
                     if isinstance(n, ast.FunctionDef)}
            assert not names & {"default_threads", "pick_device", "_pick_device"}, f.name


SHIPPED = sorted((REPO / "checkpoints").glob("*.safetensors"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_models_decode_in_bf16_only_within_two_grey_levels(path, monkeypatch):
    monkeypatch.setattr(system, "cpu_flags", lambda: {"avx512_bf16"})  # decide as on such a CPU
    ck = load_checkpoint(path)
    err = system.bf16_decode_error(ck.model, ck.data.preprocess)
    print(f"{path.stem}: bf16 decode differs from fp32 by up to {err} grey levels")
    expected = "bf16" if err <= system.DECODE_TOLERANCE else "fp32"
    # measured here: 4 (mnist-mlp-400-20, fashion-mnist-conv-z16) to 16 (shapes-conv-z2) grey
    # levels, so every shipped model keeps fp32 decoding
    assert system.decode_precision(ck.model, ck.data.preprocess) == expected


def test_a_model_within_the_tolerance_decodes_in_bf16_and_never_without_native_bf16(monkeypatch):
    from vae_training.config import ModelConfig
    from vae_training.model import VAE

    torch.manual_seed(0)
    model = VAE(ModelConfig(arch="mlp", hidden=[16], latent_dim=2).validate()).eval()
    with torch.no_grad():
        model.fc4.weight.mul_(0.01)  # outputs near sigmoid(bias): bf16 rounding stays < 1 level
    monkeypatch.setattr(system, "cpu_flags", lambda: {"avx512_bf16"})
    assert system.bf16_decode_error(model) <= system.DECODE_TOLERANCE
    assert system.decode_precision(model) == "bf16"
    del model._decode_precision
    monkeypatch.setattr(system, "cpu_flags", lambda: {"avx512f"})
    assert system.decode_precision(model) == "fp32"


_SUBNORMALS = """
import numpy as np, torch
from vae_training import system
system.set_threads(2)  # what a run does first, before torch starts its thread pool
x = torch.full((1 << 20,), 1e-39)  # subnormal; 2 threads share the product
zero = int(((x * 2.0) == 0).sum())
p = torch.nn.Parameter(torch.ones(1 << 16))
opt = torch.optim.Adam([p], lr=1e-3, fused=True)
p.grad = torch.full_like(p, 1e-3)
opt.step()
for _ in range(900):  # an always-zero gradient afterwards: an MNIST border pixel's weight
    p.grad = torch.zeros_like(p)
    opt.step()
m = opt.state[p]["exp_avg"].numpy()
torch.set_flush_denormal(False)
print(zero, int(((m != 0) & (np.abs(m) < np.finfo(np.float32).tiny)).sum()))
"""


def test_a_run_flushes_subnormals_to_zero_in_every_thread():
    """Adam's moments of never-updated weights decay into subnormals, on which x86 CPUs slow
    down (25-30% per MLP epoch): a run sets the flush modes before torch's thread pool starts,
    so both threads' halves of an op treat them as zero and no moment is left subnormal."""
    import subprocess
    import sys

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-to-zero mode")
    out = subprocess.run([sys.executable, "-c", _SUBNORMALS], cwd=REPO, capture_output=True,
                         text=True, timeout=120, check=True).stdout.split()
    assert out == [str(1 << 20), "0"]
