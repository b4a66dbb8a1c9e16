"""What the training engine reports, as plain immutable data.

The engine calls one callback with these; the CLI prints them and the GUI worker re-emits them as Qt
signals. Keeping them plain (no Qt, no tensors) lets them cross threads and be tested anywhere.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class DataProgress:
    """Decoding an image folder into its cache (before RunStarted), a few times a second: stoppable."""

    folder: str
    done: int  # files decoded so far
    total: int  # files to decode (those already in the cache are not counted)
    skipped: int  # unreadable files among those done
    files_per_sec: float
    eta_s: float  # nan until the rate is known


@dataclass(frozen=True)
class RunStarted:
    run_dir: str
    device: str  # e.g. "cpu", "cuda:0"
    dataset: str  # resolved name, e.g. "sample" or "fashion-mnist"
    num_train: int
    num_test: int
    batches_per_epoch: int
    epochs: int  # total epochs the run will reach
    start_epoch: int  # 0 for a fresh run, the last finished epoch when resuming
    params: int
    world_size: int = 1  # processes training together (torchrun)
    classes: tuple[str, ...] = ()  # the dataset's class names (an image folder's folder names)
    data_notes: tuple[str, ...] = ()  # sentences: images read or skipped, resident or streaming and why
    peak_flops: float = math.nan  # the device's measured matmul peak for the dtype the run computes in
    peak_label: str = ""  # what that peak is, e.g. "this CPU's bf16 peak"
    init_from: str | None = None  # warm start: the run whose weights were copied where layers fit
    reused_layers: tuple[str, ...] = ()  # layer names ("block1.conv1", "fc2") copied from that run
    new_layers: tuple[str, ...] = ()  # layers initialised as usual

    def warm_start_lines(self) -> tuple[str, ...]:
        """What a warm start reused and what is new, for the log (empty for a fresh start or a resume)."""
        if self.init_from is None:
            return ()
        return (f"warm start from {self.init_from}:",
                f"  reused ({len(self.reused_layers)}): {', '.join(self.reused_layers) or 'none'}",
                f"  new ({len(self.new_layers)}): {', '.join(self.new_layers) or 'none'}")


@dataclass(frozen=True)
class BatchProgress:
    """A point of the training curves, `points_per_epoch` times an epoch (like d2l's animator, not every batch).

    `train_loss` and `train_acc` are interval means, over the batches since the previous point (as TensorBoard
    plots them): a running mean since the epoch began would drop at every epoch boundary, which reads as an
    event when it is only bookkeeping.
    """

    epoch: int  # 1-based epoch in progress
    batch: int  # 1-based batches done in this epoch
    num_batches: int
    epoch_float: float  # d2l's x axis: epoch - 1 + batch / num_batches
    train_loss: float
    train_acc: float
    examples_per_sec: float  # training steps only, as d2l times it
    eta_s: float
    hardware_share: float = math.nan  # 3 x forward FLOPs x examples/sec over peak_flops, 0..1


@dataclass(frozen=True)
class StepProgress:
    """How far the epoch is, after a training step between two points: after the first step, then at most a
    few times a second. No metrics (reading them would synchronise with the device): for progress bars."""

    epoch: int
    batch: int
    num_batches: int
    examples_per_sec: float  # since the epoch began; on a GPU, steps queued rather than finished
    eta_s: float


@dataclass(frozen=True)
class EpochEnd:
    epoch: int  # 1-based
    train_loss: float
    train_acc: float
    test_acc: float
    examples_per_sec: float
    elapsed_s: float
    eta_s: float
    lr: float
    hardware_share: float = math.nan


@dataclass(frozen=True)
class Compiling:
    """torch.compile is compiling a step, once per run: seconds to a minute or more on a CPU."""

    step: str  # "training" | "evaluation"


@dataclass(frozen=True)
class Notice:
    """Something the user should know that does not stop the run (e.g. compiling failed, it runs uncompiled)."""

    message: str


@dataclass(frozen=True)
class Finished:
    """The run ended normally or by request; what was measured is on disk either way."""

    run_dir: str  # "" when a new run was stopped before its first progress point and its folder was discarded
    device: str
    epochs_done: int
    train_loss: float
    train_acc: float
    test_acc: float
    examples_per_sec: float
    cancelled: bool = False

    def summary_lines(self) -> tuple[str, str]:
        """d2l's two closing lines, with this run's numbers."""
        return (f"loss {self.train_loss:.3f}, train acc {self.train_acc:.3f}, test acc {self.test_acc:.3f}",
                f"{self.examples_per_sec:.1f} examples/sec on {self.device}")


# data / spec: bad input, nothing was trained (the CLI exits 2); stopped: stopped while the data was being
# prepared; disk: the run folder could not be written (full, read-only or deleted); diverged, out_of_memory,
# error: the run itself failed (the CLI exits 1).
FailureKind = Literal["diverged", "out_of_memory", "data", "spec", "stopped", "disk", "error"]


@dataclass(frozen=True)
class Failed:
    run_dir: str | None  # None when the run failed before its folder existed
    kind: FailureKind
    message: str  # full sentence for the user, says what to do


Event = (DataProgress | RunStarted | BatchProgress | StepProgress | EpochEnd | Compiling | Notice | Finished
         | Failed)


_EVENT_TYPES = {cls.__name__: cls for cls in (DataProgress, RunStarted, BatchProgress, StepProgress, EpochEnd,
                                               Compiling, Notice, Finished, Failed)}


def event_to_json(event: Event) -> str:
    """One line of JSON: how a training process reports to the process that launched it (see launch.py)."""
    return json.dumps({"event": type(event).__name__, **dataclasses.asdict(event)}, allow_nan=True)


def event_from_json(line: str) -> Event | None:
    """The event a line of `event_to_json` holds; None for any other line (a warning printed by a library)."""
    try:
        data = json.loads(line)
        cls = _EVENT_TYPES[data.pop("event")]
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
