"""The hardware's share: achieved FLOP/s of a run against the device's measured peak for the dtype used (no Qt).

Examples/sec says little about whether a net uses the machine well: a tiny net at 28x28 may run 10,000
examples/sec and still leave most of the arithmetic idle. The share answers that. Achieved FLOP/s counts
3 x the forward FLOPs (forward, then backward for inputs and for weights, as the summary counts them:
2 per multiply-accumulate, convolutions and linear layers) per training example. The peak is what a
large square matmul reaches on this device in the dtype the run computes in, measured once by a short
probe and cached per device, dtype, thread count and torch version, so later runs start at once.
"""

from __future__ import annotations

import contextlib
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .atomic import atomic_write
from .paths import user_dir

# Square matmul sides tried (the best counts): large enough to reach the peak, small enough that on a
# shared CPU some calls run without being preempted (a 1024 fp32 matmul takes ~15 ms per core here).
PROBE_SIZES = {"cpu": (512, 1024), "cuda": (4096, 8192), "mps": (2048, 4096)}
PROBE_SECONDS = 0.3
DTYPE_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


@dataclass(frozen=True)
class Peak:
    """A device's measured matmul peak for one dtype; `label` reads "this CPU's bf16 peak"."""

    device: str  # what the device is, e.g. "Intel(R) Xeon(R) Processor, 2 threads" or "NVIDIA H100"
    dtype: str  # fp32 | bf16 | fp16
    flops: float  # per second

    @property
    def label(self) -> str:
        kind = "CPU" if self.device.startswith("cpu:") else "GPU"
        return f"this {kind}'s {self.dtype} peak"


def cache_path() -> Path:
    """The JSON file holding measured peaks (env VGG_STUDIO_CACHE names its folder)."""
    return user_dir("cache", "VGG_STUDIO_CACHE") / "peak-flops.json"


def describe(device: torch.device) -> str:
    """The device in words, precise enough to key a cache: the CPU model and thread count, or the GPU."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return f"mps:{platform.machine()}"
    return f"cpu:{cpu_model()}, {torch.get_num_threads()} threads"


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), for cache keys and benchmark reports."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def probe(device: torch.device, dtype: torch.dtype, seconds: float = PROBE_SECONDS) -> float:
    """FLOP/s of the fastest of repeated square matmuls in `dtype` on `device`, timed for about `seconds`."""
    sizes = PROBE_SIZES.get(device.type, PROBE_SIZES["cpu"])
    sync = _synchronizer(device)
    generator = torch.Generator(device="cpu").manual_seed(0)
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
        b = torch.randn(n, n, generator=generator).to(device=device, dtype=dtype)
        torch.mm(a, b)  # first call: library start-up, kernel selection
        sync()
        deadline = time.perf_counter() + seconds / len(sizes)
        for _ in range(1000):
            start = time.perf_counter()
            torch.mm(a, b)
            sync()
            best = max(best, 2.0 * n**3 / (time.perf_counter() - start))
            if time.perf_counter() > deadline:
                break
    return best


def _synchronizer(device: torch.device):
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    if device.type == "mps":
        return torch.mps.synchronize
    return lambda: None


def peak(device: torch.device, dtype: torch.dtype) -> Peak:
    """The cached peak for this device and dtype, probing (about 0.3 s) the first time.

    A cache that cannot be read or written is no error: the probe's number is used for this run.
    """
    name, dname = describe(device), DTYPE_NAMES.get(dtype, str(dtype).removeprefix("torch."))
    key = f"{name} | {dname} | torch {torch.__version__}"
    path = cache_path()
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(cached, dict):
            cached = {}
    except (OSError, ValueError):
        cached = {}
    value = cached.get(key)
    if not isinstance(value, (int, float)) or value <= 0:
        value = probe(device, dtype)
        cached[key] = value
        with contextlib.suppress(OSError):  # a read-only home: measured again next time
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda fh: fh.write((json.dumps(cached, indent=2) + "\n").encode()))
    return Peak(device=name, dtype=dname, flops=float(value))


def achieved_flops(forward_flops: int, examples_per_sec: float) -> float:
    """FLOP/s of training: forward, then backward (about twice the forward), per example."""
    return 3.0 * forward_flops * examples_per_sec


def share(achieved: float, peak_flops: float) -> float:
    """Achieved over peak, as a fraction between 0 and 1.

    A short probe on a busy machine can read a little low, so a run could seem to beat it; the share is
    capped at 1 rather than show more than the whole machine.
    """
    if peak_flops <= 0 or achieved <= 0:
        return 0.0
    return min(achieved / peak_flops, 1.0)
