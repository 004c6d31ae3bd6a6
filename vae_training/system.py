"""Device, CPU threads and numeric precision: the one policy for training, evaluation and the
explorer (no other module picks a device or a thread count on its own).

Precision
    "bf16" runs the matmuls / convolutions in bf16 with fp32 master weights; the loss, the KL
    and the optimizer stay in fp32. Two ways (bf16_kind): conv models and GPUs use bf16 autocast;
    an MLP on the CPU keeps every tensor fp32 and sets oneDNN's bf16 math mode for fp32 matmuls
    (bf16_matmuls), which rounds each matmul's inputs to bf16 inside the kernel and accumulates
    and returns fp32: no cast ops at all (autocast casts each weight, activation and gradient, 47
    copies per MLP 784-400-20 step, 20% of its time). "auto" picks bf16 where the hardware does
    bf16 arithmetic natively: a CUDA GPU that reports bf16 support, or a CPU with AVX512-BF16 or
    AMX-BF16 (oneDNN then runs bf16 matmuls at ~674-830 GFLOP/s on 2 EPYC cores, against ~155 in
    fp32). Elsewhere bf16 would be emulated, slower than fp32, so "auto" means fp32 there.
    Evaluation (IW NLL, test metrics) always runs in fp32.

Threads
    torch's intra-op threads spin-wait for each other, so a thread that shares its core with
    another busy process stalls every op. Measured on a 2-core EPYC, MLP 784-400-20 training:
    idle, 2 threads 3.4-3.7 s/epoch vs 4.5-4.8 s with 1 (fp32); with the load average at 5-7
    (other jobs on both cores), 2 threads took 72-76 ms/step vs 7.2 ms with 1 (bf16, fused Adam).
    So the default uses the cores idle when the run starts: cores minus those other processes
    keep busy (sampled from /proc/stat for 0.2 s), at least 1, at most 8. Not the load average:
    it lags by a minute, so the second run of a sweep would count the first as load.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import torch

from .config import ConfigError

PRECISIONS = ("auto", "fp32", "bf16")
MAX_THREADS = 8


# ---------------------------------------------------------------------------------------------
# device


def pick_device(name: str = "auto", local_rank: int | None = None) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but CUDA is not available")
        return torch.device("cuda", local_rank or 0)
    if name != "cpu":
        raise ConfigError(f"--device must be auto, cpu or cuda, got {name!r}")
    return torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# bf16 support


def cpu_flags() -> set[str]:
    """The CPU feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def cpu_has_bf16() -> bool:
    """Native bf16 arithmetic on this CPU (AVX512-BF16 or AMX-BF16).

    torch's own check (torch.ops.mkldnn._is_mkldnn_bf16_supported) also says yes for plain
    AVX-512, where oneDNN emulates bf16 more slowly than fp32, so the instruction flags decide.
    """
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def cuda_has_bf16() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def bf16_supported(device: torch.device) -> bool:
    return cuda_has_bf16() if device.type == "cuda" else cpu_has_bf16()


def resolve_precision(name: str, device: torch.device) -> str:
    """"auto" -> "bf16" where the device does bf16 natively, else "fp32"; others unchanged."""
    if name not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {name!r}")
    if name == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    return name


_NO_SWITCH = object()
_switch = _NO_SWITCH


def _mkldnn_matmul():
    """torch's switch for oneDNN's fp32-matmul math mode (None where this torch has none);
    looked up once: the latent path asks for it every step."""
    global _switch
    if _switch is _NO_SWITCH:
        ok = torch.backends.mkldnn.is_available()
        _switch = getattr(torch.backends.mkldnn, "matmul", None) if ok else None
    return _switch


def bf16_kind(device: torch.device, precision: str, arch: str = "") -> str:
    """How a run in `precision` gets its bf16: "" (none: fp32), "matmul" (an MLP on the CPU:
    bf16_matmuls around its steps) or "autocast" (conv models, GPUs, unknown arch).

    Per MLP 784-400-20 step (batch 128, 1 thread, loaded 2-core EPYC, bench/mlp_step.py):
    the math mode 4.12 ms CPU, autocast 4.75, fp32 5.78 (docs/benchmarks.md). Conv models stay on
    autocast: their convolutions gain from channels_last bf16 tensors, measured there."""
    if precision != "bf16":
        return ""
    if device.type == "cpu" and arch == "mlp" and _mkldnn_matmul() is not None:
        return "matmul"
    return "autocast"


@contextlib.contextmanager
def _matmul_mode(value: str, enabled: bool = True):
    m = _mkldnn_matmul() if enabled else None
    if m is None:
        yield
        return
    old = m.fp32_precision
    m.fp32_precision = value
    try:
        yield
    finally:
        m.fp32_precision = old


def bf16_matmuls(enabled: bool = True):
    """oneDNN's bf16 math mode for fp32 matmuls (CPU) while inside, forward and backward alike;
    the previous mode comes back on exit, so the test pass and evaluation stay fp32. The mode
    is process-wide: the trainer enters it around an epoch's steps only."""
    return _matmul_mode("bf16", enabled)


def bf16_matmuls_on() -> bool:
    m = _mkldnn_matmul()
    return m is not None and m.fp32_precision == "bf16"


class _IeeeLinear(torch.autograd.Function):
    """F.linear with its forward and backward matmuls in full fp32 while the math mode is on."""

    # the mode is switched inline, not through _matmul_mode: this runs 6 times a step

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        m = _mkldnn_matmul()
        old, m.fp32_precision = m.fp32_precision, "ieee"
        try:
            return torch.nn.functional.linear(x, weight, bias)
        finally:
            m.fp32_precision = old

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1])
        m = _mkldnn_matmul()
        old, m.fp32_precision = m.fp32_precision, "ieee"
        try:
            gx = g @ weight if ctx.needs_input_grad[0] else None
            gw = g2.t() @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        finally:
            m.fp32_precision = old
        gb = g2.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return gx, gw, gb


def fp32_linear(layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """layer(x) in full fp32 even inside bf16_matmuls (the model's latent path, model._fp32).
    MLP 784-400-20, 2 epochs, test -ELBO minus fp32's, seeds 1 / 2: the math mode everywhere
    -0.19 / +0.36 nats, with this path in fp32 -0.12 / +0.11 (autocast: -0.09 / -0.04)."""
    if _mkldnn_matmul() is None:
        return layer(x.float())
    return _IeeeLinear.apply(x.float(), layer.weight, layer.bias)


def autocast(device: torch.device, precision: str, arch: str = ""):
    """The forward pass's autocast context: bf16 matmuls/convs, fp32 elsewhere; none for fp32
    and where bf16_kind says "matmul" (the math mode does it without casts)."""
    if bf16_kind(device, precision, arch) != "autocast":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


# ---------------------------------------------------------------------------------------------
# threads


def busy_cores(interval: float = 0.2) -> float:
    """How many cores other processes keep busy now: /proc/stat sampled over ``interval``
    seconds (this process is idle meanwhile). The 1-minute load average where there is no
    /proc/stat; it lags, counting e.g. the previous run of a sweep as load."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:]]
        return sum(v[:8]), v[3] + v[4]  # all jiffies (guests excluded), idle + iowait
    try:
        t0, i0 = snap()
        time.sleep(interval)
        t1, i1 = snap()
        cores = os.cpu_count() or 1
        return cores * (1.0 - (i1 - i0) / max(1, t1 - t0))
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except OSError:  # neither (Windows)
            return 0.0


def idle_cores(cores: int | None = None, busy: float | None = None) -> int:
    """Cores not busy now: cores minus the busy ones (half a core counts as one), >= 1."""
    cores = cores or os.cpu_count() or 1
    busy = busy_cores() if busy is None else busy
    return max(1, min(cores, cores - int(busy + 0.5)))


def default_threads(cores: int | None = None, busy: float | None = None) -> int:
    """Training / evaluation threads when --threads is 0 (see the module docstring)."""
    return min(MAX_THREADS, idle_cores(cores, busy))


def flush_subnormals() -> bool:
    """Treat subnormal floats as zero (the CPU's FTZ/DAZ modes) in this thread and the threads
    started after it; False where the CPU has no such mode.

    Why: Adam's first moment of a weight whose gradient is always zero (MNIST's border pixels:
    fc1's columns for them, 13% of MLP 784-400-20's weights) decays by 0.9 a step into the
    subnormal range and stays at its smallest value, and x86 CPUs take a slow path for every
    subnormal operand: each MLP epoch after the first took 25-30% more CPU (1 thread: 2.12-2.44 s
    against 1.69-1.71 s with the modes set, docs/benchmarks.md). Nothing we compute lives below
    1e-38. The modes are per thread and a new thread copies its creator's, so this must run
    before torch starts its thread pool (the first parallel op): set_threads, which a run calls
    first, does it."""
    return bool(torch.set_flush_denormal(True))


def set_threads(n: int, device: torch.device | None = None) -> int:
    """Set torch's intra-op threads (0: default_threads(); on a GPU 0 leaves torch's own), and
    flush subnormals to zero on the CPU (flush_subnormals)."""
    flush_subnormals()
    if not n and device is not None and device.type != "cpu":
        return torch.get_num_threads()
    n = n or default_threads()
    torch.set_num_threads(n)
    return n


def explorer_threads(cores: int | None = None) -> int:
    """The explorer's share: all cores but one (the browser and the Streamlit server need one
    to stay responsive), at least 1, at most 8; $VAE_EXPLORER_THREADS overrides.

    On a 2-core machine that is one thread: measured here with other work running, encoding 2k
    MNIST images took 1.1-1.4 s with one thread and 1.4-2.6 s with two. Every session shares
    these threads (the explorer runs one heavy torch job at a time), so many sessions do not
    multiply them.
    """
    cores = cores or os.cpu_count() or 1
    env = os.environ.get("VAE_EXPLORER_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(MAX_THREADS, cores - 1))


# ---------------------------------------------------------------------------------------------
# inference (the explorer's decoded images)

DECODE_TOLERANCE = 2  # grey levels of 255: the most a bf16 decode may differ from fp32


@torch.inference_mode()
def bf16_decode_error(model, preprocess: str = "unit", n: int = 256, seed: int = 0) -> int:
    """Largest difference, in grey levels of 255, between bf16-autocast and fp32 decodes of n
    latents drawn from N(0, 1.5^2) (wider than the prior: the explorer's grids reach +-3).
    Conditional models are checked with the classes in turn."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.latent_dim, generator=g) * 1.5
    k = getattr(model, "num_classes", 0)
    y = torch.arange(n) % k if k else None
    from .data import to_unit

    def grey(x):  # as the explorer shows it (vae_explorer.images.to_uint8)
        return (to_unit(x.float(), preprocess) * 255.0 + 0.5).floor()

    ref = grey(model.mean_image(z, y))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = grey(model.mean_image(z, y))
    return int((ref - low).abs().max())


def decode_precision(model, preprocess: str = "unit") -> str:
    """"bf16" for the explorer's decoded images where this CPU does bf16 natively and the model's
    bf16 decodes stay within DECODE_TOLERANCE grey levels of fp32, else "fp32". Measured once
    per model object (two decodes of 256 latents). Encoder means are never decoded this way:
    they stay fp32 (they feed cached maps and neighbour search)."""
    cached = getattr(model, "_decode_precision", None)
    if cached is None:
        ok = cpu_has_bf16() and bf16_decode_error(model, preprocess) <= DECODE_TOLERANCE
        cached = "bf16" if ok else "fp32"
        model._decode_precision = cached
    return cached
