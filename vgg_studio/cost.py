"""What a training run will cost before it starts: a quick measured speed turned into minutes per epoch.

The architecture's FLOPs say how the cost scales, but not how fast this machine is; so `probe_speed` times a
few real training steps (synthetic images through the engine's own batch preparation, model and step: the
same autocast or kept bf16 weights, loss and optimizer) and remembers the result per device, architecture,
dtype and batch size for the life of the process. `estimate` turns that speed and the data set's size into
seconds per epoch and per run; `smaller_input` and `epochs_within` name one-click ways out of a long run.
No Qt: the window calls these from a worker thread, and they would serve a command line as well.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import threading
import time
from dataclasses import dataclass

from .spec import ArchSpec, check, to_json
from .train_config import DATASETS, TrainConfig

# Train / test images per data set (fixed by the files; the sample is the bundled subset).
SPLIT_SIZES = {"sample": (10_000, 2_000), "fashion-mnist": (60_000, 10_000), "mnist": (60_000, 10_000),
               "cifar10": (50_000, 10_000)}
NATIVE_SHAPES = {"sample": (1, 28), "fashion-mnist": (1, 28), "mnist": (1, 28), "cifar10": (3, 32)}
assert set(SPLIT_SIZES) == set(NATIVE_SHAPES) == set(DATASETS)
TEST_IMAGE_COST = 1 / 3  # a test image is a forward pass: about a third of a training step's work
SLOW_S = 600.0  # a run longer than this is called long, and cheaper choices are offered
# The probe steps at the run's own batch size: time per image falls as the batch grows (a probe at 32 images
# judged d2l-small's epoch at batch 128 twice as long as it was), so only memory may make it smaller.
PROBE_ACTIVATION_BYTES = 2 << 30  # halve the batch while its activations would need more memory than this
PROBE_STEPS = 3  # timed steps after the warm-up; their median is the speed, so one slow step (another
# process on the cores, the allocator's first big blocks) does not decide the estimate
PROBE_MAX_TIMED_S = 15.0  # no more timing than this (at least one step): a big net at 224 px takes seconds a step

_cache: dict[tuple, float] = {}
_cache_lock = threading.Lock()


class ProbeCancelled(Exception):
    """The probe was asked to stop (the architecture or settings changed while it ran)."""


def probe_speed(spec: ArchSpec, config: TrainConfig, *, steps: int = PROBE_STEPS,
                cancel: threading.Event | None = None) -> float:
    """Training images per second for `spec` as `config` would train it here; cached, cheap (one warm-up step
    and the median of up to `steps` timed ones, fewer once PROBE_MAX_TIMED_S is spent, at the run's batch size
    as far as memory allows: `probe_batch`). Raises ProbeCancelled or what torch raises. Call it off the GUI
    thread: at 224 px on two CPU cores one step of d2l-small at batch 128 takes about 4 s.
    """
    import torch
    import torch.nn.functional as F

    from .batching import prepare_batch
    from .engine import make_optimizer, pick_device, uses_bf16, uses_channels_last
    from .model import build_initialized
    from .recipes import augment
    from .steps import Steps

    device = pick_device(config.device)
    channels, native = NATIVE_SHAPES.get(_resolved(config.dataset), (1, 28))
    spec = check(spec.replace(in_channels=channels))
    bf16, channels_last = uses_bf16(config, device), uses_channels_last(config, device)
    batch = probe_batch(spec, config.batch_size)
    key = (str(device), to_json(spec), bf16, channels_last, batch, config.optimizer)
    with _cache_lock:
        if key in _cache:
            return _cache[key]

    def stop_if_asked() -> None:
        if cancel is not None and cancel.is_set():
            raise ProbeCancelled

    gen = torch.Generator().manual_seed(0)
    model = build_initialized(spec).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    images = torch.randint(0, 256, (batch, channels, native, native), generator=gen, dtype=torch.uint8).to(device)
    labels = torch.randint(0, spec.num_classes, (batch,), generator=gen).to(device)
    mean, std = (0.5,) * channels, (0.25,) * channels

    def forward_loss(net, x, y):  # as the engine's session computes it
        with torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
            out = net(x)
            return out, F.cross_entropy(out, y, label_smoothing=config.label_smoothing)

    # The engine's own step (kept bf16 weights on a CPU, as training uses them); never compiled here: compiling
    # takes longer than the whole probe, so a compiled run's estimate is the uncompiled speed.
    stepper = Steps(model, make_optimizer(model.parameters(), config), forward_loss, lambda net, x: net(x),
                    compile=False, kept_bf16=bf16 and device.type == "cpu", batch_size=batch, eval_batch_size=batch,
                    on_compiling=lambda _name: None, on_fallback=lambda _message: None)

    def step() -> None:
        u8 = augment(images, gen, flip=config.flip, shift=config.shift) if config.flip or config.shift else images
        stepper.train_step(prepare_batch(u8, spec.input_size, mean, std, channels_last=channels_last), labels)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    stop_if_asked()
    step()  # warm-up: allocations, kernel choice
    start, durations = time.perf_counter(), []
    while len(durations) < max(1, steps) and not (durations and time.perf_counter() - start >= PROBE_MAX_TIMED_S):
        stop_if_asked()
        began = time.perf_counter()
        step()
        durations.append(time.perf_counter() - began)
    speed = batch / statistics.median(durations)
    with _cache_lock:
        _cache[key] = speed
    return speed


def probe_batch(spec: ArchSpec, batch_size: int) -> int:
    """The probe's batch: the run's, halved until its activations fit in PROBE_ACTIVATION_BYTES (d2l-small at
    224 px needs ~16 MiB per image, so 128 fit; VGG-11 ~63 MiB, so 32), at least 1."""
    from .summary import summarize

    per_image = summarize(spec).training_memory(1).activations_bytes
    batch = max(1, batch_size)
    while batch > 1 and batch * per_image > PROBE_ACTIVATION_BYTES:
        batch //= 2
    return batch


def _resolved(dataset: str) -> str:
    if dataset != "auto":
        return dataset
    from .data import resolve_dataset_name

    return resolve_dataset_name("auto")


@dataclass(frozen=True)
class CostEstimate:
    """Seconds a run will take at a measured speed (training steps plus each epoch's test pass)."""

    dataset: str
    num_train: int
    num_test: int
    epochs: int
    examples_per_sec: float
    device: str  # as the sentence names it: "this CPU", "the GPU"

    @property
    def epoch_s(self) -> float:
        if self.examples_per_sec <= 0:
            return math.inf
        return (self.num_train + TEST_IMAGE_COST * self.num_test) / self.examples_per_sec

    @property
    def total_s(self) -> float:
        return self.epochs * self.epoch_s

    @property
    def slow(self) -> bool:
        return self.total_s > SLOW_S

    def sentence(self) -> str:
        """'≈ 6 min per epoch, ≈ 1 h for 10 epochs on this CPU'."""
        epochs = f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}"
        if self.epochs == 1:
            return f"≈ {rough_duration(self.epoch_s)} for 1 epoch on {self.device}"
        return (f"≈ {rough_duration(self.epoch_s)} per epoch, ≈ {rough_duration(self.total_s)} for {epochs} "
                f"on {self.device}")


def estimate(config: TrainConfig, examples_per_sec: float, device: str) -> CostEstimate:
    """The cost of training `config` (its data set, epochs) at `examples_per_sec`."""
    dataset = _resolved(config.dataset)
    num_train, num_test = SPLIT_SIZES.get(dataset, SPLIT_SIZES["fashion-mnist"])
    return CostEstimate(dataset, num_train, num_test, config.epochs, examples_per_sec, device)


def rough_duration(seconds: float) -> str:
    """A duration as people say it: '40 s', '6 min', '1.5 h', '3 days'."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 36 * 3600:
        hours = seconds / 3600
        return f"{hours:.1f} h" if hours < 10 else f"{round(hours)} h"
    return f"{seconds / 86400:.1f} days"


def device_words(device: str) -> str:
    """How the estimate names a device: 'this CPU', 'the GPU', 'Apple's GPU'."""
    kind = device.split(":")[0]
    return {"cpu": "this CPU", "cuda": "the GPU", "mps": "Apple's GPU"}.get(kind, device)


SMALLEST_INPUT = 32  # a cheaper input size is offered down to this, CIFAR's size (Fashion-MNIST's is 28)


def smaller_input(spec: ArchSpec) -> int | None:
    """A smaller input size the architecture still accepts (each block halves it, the last map stays at least
    2×2) and not below SMALLEST_INPUT; None when the input is already that small."""
    if not isinstance(spec.input_size, int):
        return None
    size = max(2 ** (len(spec.blocks) + 1), SMALLEST_INPUT)
    return size if size < spec.input_size else None


def epochs_within(estimate_: CostEstimate, seconds: float = SLOW_S) -> int | None:
    """The most epochs that fit in `seconds` (at least 1), or None when that is no fewer than asked."""
    fit = max(1, int(seconds // estimate_.epoch_s)) if math.isfinite(estimate_.epoch_s) else 1
    return fit if fit < estimate_.epochs else None
