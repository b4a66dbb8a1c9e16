"""Measure an architecture without training: throughput, peak memory and where the time goes (no Qt).

Everything runs on synthetic data of the architecture's input shape, after a warm-up, so a measurement
takes seconds and needs no data set. Speeds are medians of a few timed repeats (other programs share the
machine). Training steps are the engine's (autocast and channels_last by the engine's own rules, the same
optimizer); inference is a forward pass under `torch.inference_mode`.

Peak memory: on CUDA, `torch.cuda.max_memory_allocated` over one training step (everything the caching
allocator handed out, workspaces included). Elsewhere no allocator reports a peak, so the bytes really
held at the top of a step are counted: parameters, gradients, optimizer state and every tensor autograd
saves for backward (seen through `torch.autograd.graph.saved_tensors_hooks`, each storage once).

The quick speed probe behind the time estimate before Start is `cost.probe_speed`. Full measurements are
kept in a JSON file in the user data folder, keyed by architecture,
device, batch size and dtype, so a measured but untrained variant can be placed on the efficiency chart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import hardware
from .atomic import atomic_write
from .engine import make_optimizer, pick_device, uses_bf16, uses_channels_last
from .model import build_initialized
from .paths import user_dir
from .spec import ArchSpec, SpecError, check, from_dict, to_dict
from .summary import FLOAT32_BYTES, summarize
from .train_config import ConfigError, TrainConfig

MEASUREMENTS_FORMAT = "vgg-studio.measurements"
MEASUREMENTS_VERSION = 1
CLASSIFIER = "classifier"  # the name of Flatten + the fully connected layers in `blocks`

Progress = Callable[[float, str], None]  # fraction done in [0, 1], what is being measured


class MeasureError(Exception):
    """A measurement that could not be made (out of memory, ...); the message is for the user."""


class MeasureCancelled(Exception):
    """The caller's cancel flag was set; nothing was stored."""


@dataclass(frozen=True)
class BlockTime:
    """Forward + backward time of one VGG block (or the classifier) beside its share of the FLOPs."""

    name: str  # "block1", ..., or "classifier"
    seconds_per_batch: float
    time_share: float  # of the sum over blocks and the classifier, 0..1
    flop_share: float  # of the forward FLOPs (backward costs about twice forward for every layer)


@dataclass(frozen=True)
class Measurement:
    spec: ArchSpec
    device: str  # "cpu", "cuda:0", ...
    device_name: str  # the CPU or GPU model, for the reader
    dtype: str  # "bfloat16" (autocast) or "float32"
    batch_size: int
    optimizer: str  # the optimizer the training step (and its memory) used, e.g. "sgd" or "adam"
    train_examples_per_sec: float
    inference_examples_per_sec: float
    peak_memory_bytes: int
    predicted_memory_bytes: int  # the summary's estimate for the same batch, dtype and optimizer
    memory_method: str  # what peak_memory_bytes counts, in words
    memory_parts: dict[str, int]  # CPU: params, grads, optimizer, saved_for_backward; CUDA: empty
    blocks: tuple[BlockTime, ...]
    params: int
    flops_per_example: int  # forward
    measured_at: str  # ISO time
    torch_version: str = torch.__version__
    peak_flops: float = float("nan")  # the device's matmul peak for `dtype` (hardware.peak); NaN in older files

    @property
    def hardware_share(self) -> float:
        """Training's achieved FLOP/s over `peak_flops`, 0..1 (NaN when the peak is unknown)."""
        from .hardware import achieved_flops, share

        if not self.peak_flops > 0:
            return float("nan")
        return share(achieved_flops(self.flops_per_example, self.train_examples_per_sec), self.peak_flops)

    @property
    def arch_name(self) -> str:
        return self.spec.name

    @property
    def key(self) -> str:
        return measurement_key(self.spec, self.device, self.batch_size, self.dtype)

    def to_dict(self) -> dict[str, Any]:
        """The stable machine-readable form (also the CLI's JSON)."""
        return {
            "arch_name": self.spec.name, "arch_key": arch_key(self.spec), "device": self.device,
            "device_name": self.device_name, "dtype": self.dtype, "batch_size": self.batch_size,
            "optimizer": self.optimizer, "train_examples_per_sec": self.train_examples_per_sec,
            "inference_examples_per_sec": self.inference_examples_per_sec,
            "peak_memory_bytes": self.peak_memory_bytes, "predicted_memory_bytes": self.predicted_memory_bytes,
            "memory_method": self.memory_method, "memory_parts": dict(self.memory_parts),
            "blocks": [dataclasses.asdict(b) for b in self.blocks], "params": self.params,
            "flops_per_example": self.flops_per_example, "measured_at": self.measured_at,
            "torch_version": self.torch_version, "spec": to_dict(self.spec),
            "peak_flops": self.peak_flops, "hardware_share": self.hardware_share,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        return cls(spec=from_dict(data["spec"]), device=str(data["device"]), device_name=str(data["device_name"]),
                   dtype=str(data["dtype"]), batch_size=int(data["batch_size"]), optimizer=str(data["optimizer"]),
                   train_examples_per_sec=float(data["train_examples_per_sec"]),
                   inference_examples_per_sec=float(data["inference_examples_per_sec"]),
                   peak_memory_bytes=int(data["peak_memory_bytes"]),
                   predicted_memory_bytes=int(data["predicted_memory_bytes"]),
                   memory_method=str(data["memory_method"]),
                   memory_parts={str(k): int(v) for k, v in data.get("memory_parts", {}).items()},
                   blocks=tuple(BlockTime(str(b["name"]), float(b["seconds_per_batch"]), float(b["time_share"]),
                                          float(b["flop_share"])) for b in data["blocks"]),
                   params=int(data["params"]), flops_per_example=int(data["flops_per_example"]),
                   measured_at=str(data["measured_at"]), torch_version=str(data.get("torch_version", "")),
                   peak_flops=float(data.get("peak_flops", float("nan"))))


# ------------------------------------------------------------------------------------------------
# Keys and the measurements file
# ------------------------------------------------------------------------------------------------

def arch_key(spec: ArchSpec) -> str:
    """Identifies the network itself (not its name): two files with the same layers share measurements."""
    fields = {k: v for k, v in to_dict(spec).items() if k != "name"}
    return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def measurement_key(spec: ArchSpec, device: str, batch_size: int, dtype: str) -> str:
    return f"{arch_key(spec)}|{device}|{batch_size}|{dtype}"


def measurements_path() -> Path:
    """The measurements file in the per-user data folder; VGG_STUDIO_MEASUREMENTS overrides it."""
    return user_dir("measurements.json", "VGG_STUDIO_MEASUREMENTS")


def _read_entries(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}  # a damaged file only loses cached numbers; the next save replaces it
    if not isinstance(data, dict) or data.get("format") != MEASUREMENTS_FORMAT:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def load_measurements(path: str | os.PathLike | None = None) -> list[Measurement]:
    """Every readable stored measurement, newest first (unreadable entries are skipped)."""
    out = []
    for entry in _read_entries(Path(path) if path is not None else measurements_path()).values():
        try:
            out.append(Measurement.from_dict(entry))
        except (KeyError, TypeError, ValueError, SpecError):
            continue
    return sorted(out, key=lambda m: m.measured_at, reverse=True)


def find_measurement(spec: ArchSpec, device: str, batch_size: int, dtype: str,
                     path: str | os.PathLike | None = None) -> Measurement | None:
    key = measurement_key(spec, device, batch_size, dtype)
    return next((m for m in load_measurements(path) if m.key == key), None)


_file_lock = threading.Lock()


def save_measurement(m: Measurement, path: str | os.PathLike | None = None) -> Path:
    """Store `m` under its key, replacing an older measurement of the same key; returns the file."""
    file = Path(path) if path is not None else measurements_path()
    with _file_lock:
        entries = _read_entries(file)
        entries[m.key] = m.to_dict()
        doc = {"format": MEASUREMENTS_FORMAT, "version": MEASUREMENTS_VERSION, "entries": entries}
        file.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(doc, indent=1) + "\n"
        atomic_write(file, lambda fh: fh.write(text.encode("utf-8")))
    return file


# ------------------------------------------------------------------------------------------------
# The pieces of a measurement
# ------------------------------------------------------------------------------------------------

@dataclass
class _Bench:
    """A model with its optimizer and a synthetic batch on the device, set up as the engine would."""

    spec: ArchSpec
    device: torch.device
    bf16: bool
    channels_last: bool
    model: nn.Sequential
    optimizer: torch.optim.Optimizer
    x: torch.Tensor
    y: torch.Tensor

    @property
    def dtype(self) -> str:
        return "bfloat16" if self.bf16 else "float32"

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elif self.device.type == "mps":
            torch.mps.synchronize()

    def train_step(self) -> None:
        """The engine's step: forward and loss under autocast, zero_grad, backward, optimizer step."""
        with self.autocast():
            loss = F.cross_entropy(self.model(self.x), self.y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def infer_step(self) -> None:
        with torch.inference_mode(), self.autocast():
            self.model(self.x)


def _bench(spec: ArchSpec, config: TrainConfig, batch_size: int) -> _Bench:
    check(spec)
    device = pick_device(config.device)
    bf16 = uses_bf16(config, device)
    cl = uses_channels_last(config, device)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = build_initialized(spec)
    n = len(spec.blocks)  # the classifier grouped as one module, so hooks can time it like a block
    model = nn.Sequential(*list(net)[:n], nn.Sequential(*list(net)[n:])).to(device)
    if cl:
        model = model.to(memory_format=torch.channels_last)
    x = torch.randn(batch_size, spec.in_channels, spec.input_size, spec.input_size, generator=gen).to(device)
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, spec.num_classes, (batch_size,), generator=gen).to(device)
    return _Bench(spec, device, bf16, cl, model, make_optimizer(model.parameters(), config), x, y)


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise MeasureCancelled


def _seconds_per_call(fn: Callable[[], None], sync: Callable[[], None], budget_s: float,
                      cancel: threading.Event | None, repeats: int = 3) -> float:
    """Median over a few repeats of the mean time of one call, spending about `budget_s` after warming up.

    Warm-up is two calls (the first pays one-off kernel selection), one when a call takes over a third
    of the budget; a slow net gets fewer repeats of one call each rather than a longer wait.
    """
    t0 = time.perf_counter()
    _check(cancel)
    fn()
    sync()
    per_call = time.perf_counter() - t0
    if per_call < budget_s / 3:
        t0 = time.perf_counter()
        _check(cancel)
        fn()
        sync()
        per_call = time.perf_counter() - t0
    repeats = max(1, min(repeats, int(budget_s / per_call)))
    n = max(1, min(1000, int(budget_s / repeats / max(per_call, 1e-6))))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            _check(cancel)
            fn()
        sync()
        times.append((time.perf_counter() - t) / n)
    return statistics.median(times)


def optimizer_state_key(config: TrainConfig) -> str:
    """The summary's name for how many copies of the weights the optimizer keeps."""
    if config.optimizer == "sgd":
        return "sgd-momentum" if config.momentum else "sgd"
    return config.optimizer


def _tensor_bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def _measure_memory(b: _Bench, base_bytes: int) -> tuple[int, str, dict[str, int]]:
    """Peak bytes of one training step (after warm-up steps, so gradients and optimizer state exist).

    `base_bytes`: what the CUDA allocator held before the model was built (someone else's tensors).
    """
    parts = _counted_memory(b)
    if b.device.type == "cuda":
        b.sync()
        torch.cuda.reset_peak_memory_stats(b.device)
        b.train_step()
        b.sync()
        return (torch.cuda.max_memory_allocated(b.device) - base_bytes,
                "torch.cuda.max_memory_allocated over one training step (every tensor, workspaces included)",
                parts)
    return (sum(parts.values()), "counted: parameters + gradients + optimizer state + tensors saved for backward",
            parts)


def _counted_memory(b: _Bench) -> dict[str, int]:
    """Bytes held at the end of the forward pass of a step, by kind; each storage counted once."""
    params = list(b.model.parameters())
    param_storages = {p.untyped_storage().data_ptr() for p in params}
    grad_storages = {p.grad.untyped_storage().data_ptr() for p in params if p.grad is not None}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in param_storages and ptr not in grad_storages:
            saved[ptr] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), b.autocast():
        loss = F.cross_entropy(b.model(b.x), b.y)
    loss.backward()  # frees what was saved; no optimizer step, so the weights stay as they were
    state = [v for s in b.optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor)]
    return {"params": _tensor_bytes(params), "grads": _tensor_bytes(p.grad for p in params if p.grad is not None),
            "optimizer": _tensor_bytes(state), "saved_for_backward": sum(saved.values())}


def _block_times(b: _Bench, budget_s: float, cancel: threading.Event | None,
                 progress: Callable[[int, int], None]) -> tuple[BlockTime, ...]:
    """Forward + backward time of each block and the classifier inside real training steps, via module hooks.

    A block's backward runs from the gradient of its output to the gradient of its input; the first block's
    input needs no gradient, so its backward ends when `backward()` returns. On CUDA every hook waits for
    the device, which slows these steps but not the throughput figures (timed without hooks).
    """
    parts = list(b.model)  # the blocks, then the classifier as one Sequential (see _bench)
    names = [f"block{i + 1}" for i in range(len(parts) - 1)] + [CLASSIFIER]
    marks: dict[tuple[str, int], float] = {}

    def mark(kind: str, i: int) -> None:
        b.sync()
        marks[kind, i] = time.perf_counter()

    handles = []
    for i, m in enumerate(parts):
        handles += [m.register_forward_pre_hook(lambda *_, i=i: mark("fs", i)),
                    m.register_forward_hook(lambda *_, i=i: mark("fe", i)),
                    m.register_full_backward_pre_hook(lambda *_, i=i: mark("bs", i))]
        if i > 0:
            handles.append(m.register_full_backward_hook(lambda *_, i=i: mark("be", i)))
    per_step: list[list[float]] = []
    try:
        t0 = time.perf_counter()
        steps = 1
        while True:
            _check(cancel)
            b.train_step()
            b.sync()
            marks["be", 0] = time.perf_counter()
            per_step.append([marks["fe", i] - marks["fs", i] + marks["be", i] - marks["bs", i]
                             for i in range(len(parts))])
            progress(steps, 0)
            spent = time.perf_counter() - t0
            if steps >= 10 or (steps >= 2 and spent * (steps + 1) / steps > budget_s):
                break
            steps += 1
    finally:
        for h in handles:
            h.remove()
    times = [statistics.median(col) for col in zip(*per_step)]
    summary = summarize(b.spec)
    flops = [blk.flops for blk in summary.blocks] + [sum(r.flops for r in summary.head)]
    total_t, total_f = sum(times) or 1.0, sum(flops) or 1
    return tuple(BlockTime(n, t, t / total_t, f / total_f) for n, t, f in zip(names, times, flops))


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return f"{hardware.cpu_model()} ({os.cpu_count()} threads)"
    return device.type


def _is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text))


@contextlib.contextmanager
def _friendly_errors(spec: ArchSpec, batch_size: int, device: str):
    try:
        yield
    except (MeasureCancelled, SpecError, ConfigError):
        raise
    except (RuntimeError, MemoryError) as exc:
        if isinstance(exc, MemoryError) or _is_out_of_memory(exc):
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise MeasureError(f"Out of memory on {device} measuring {spec.name} at batch {batch_size} and "
                               f"{spec.input_size}x{spec.input_size} input; try a smaller batch size or input "
                               f"size, or a larger channel ratio.") from None
        raise


# ------------------------------------------------------------------------------------------------
# Public entry points
# ------------------------------------------------------------------------------------------------

def measure(spec: ArchSpec, config: TrainConfig = TrainConfig(), *, batch_size: int | None = None,
            budget_s: float = 3.0, on_progress: Progress | None = None, cancel: threading.Event | None = None,
            store: bool = True, path: str | os.PathLike | None = None) -> Measurement:
    """Measure `spec` as `config` would train it (device, amp, channels_last, optimizer, batch size).

    `budget_s` is the time spent timing (warm-ups come on top; a net whose single step takes longer than
    the budget is timed on a few steps anyway). Raises SpecError/ConfigError for bad input, MeasureError
    when the device runs out of memory and MeasureCancelled when `cancel` is set; stores the result in the
    measurements file unless `store` is False.
    """
    report = on_progress or (lambda fraction, text: None)
    bs = config.batch_size if batch_size is None else batch_size
    if not isinstance(bs, int) or bs < 1:
        raise ConfigError(f"Batch size must be a whole number of at least 1 (got {bs!r}).")
    check(spec)
    device_label = str(pick_device(config.device))
    with _friendly_errors(spec, bs, device_label):
        report(0.0, "setting up")
        base = torch.cuda.memory_allocated() if device_label.startswith("cuda") else 0
        b = _bench(spec, config, bs)
        report(0.05, "timing training steps")
        train_s = _seconds_per_call(b.train_step, b.sync, 0.4 * budget_s, cancel)
        report(0.4, "timing inference")
        b.model.eval()
        infer_s = _seconds_per_call(b.infer_step, b.sync, 0.2 * budget_s, cancel)
        b.model.train()
        report(0.55, "measuring memory")
        _check(cancel)
        peak, method, parts = _measure_memory(b, base)
        report(0.6, "timing each block")
        blocks = _block_times(b, 0.4 * budget_s, cancel,
                              lambda k, _: report(min(0.99, 0.6 + 0.1 * k), "timing each block"))
    summary = summarize(spec)
    peak_flops = hardware.peak(b.device, torch.bfloat16 if b.bf16 else torch.float32).flops
    predicted = summary.training_memory(bs, 2 if b.bf16 else FLOAT32_BYTES, optimizer_state_key(config)).total_bytes
    m = Measurement(spec=spec, device=str(b.device), device_name=_device_name(b.device), dtype=b.dtype,
                    batch_size=bs, optimizer=config.optimizer, train_examples_per_sec=bs / train_s,
                    inference_examples_per_sec=bs / infer_s, peak_memory_bytes=int(peak),
                    predicted_memory_bytes=int(predicted), memory_method=method, memory_parts=parts,
                    blocks=blocks, params=summary.total_params, flops_per_example=summary.total_flops,
                    measured_at=datetime.now().astimezone().isoformat(timespec="seconds"), peak_flops=peak_flops)
    if store:
        save_measurement(m, path)
    report(1.0, "done")
    return m
