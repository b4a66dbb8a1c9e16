"""What the training engine reports, as plain immutable data.

The engine calls one callback with these; the CLI prints them and the GUI worker re-emits them as Qt
signals. Keeping them plain (no Qt, no tensors) lets them cross threads and be tested anywhere.
"""

from __future__ import annotations

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
    classes: tuple[str, ...] = ()  # the dataset's class names (an image folder's folder names)
    data_notes: tuple[str, ...] = ()  # sentences: images read or skipped, resident or streaming and why


@dataclass(frozen=True)
class BatchProgress:
    """A few per epoch (like d2l's animator), not every batch: running means since the epoch began."""

    epoch: int  # 1-based epoch in progress
    batch: int  # 1-based batches done in this epoch
    num_batches: int
    epoch_float: float  # d2l's x axis: epoch - 1 + batch / num_batches
    train_loss: float
    train_acc: float
    examples_per_sec: float  # training steps only, as d2l times it
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


@dataclass(frozen=True)
class Finished:
    """The run ended normally or by request; what was measured is on disk either way."""

    run_dir: str
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


FailureKind = Literal["diverged", "out_of_memory", "data", "spec", "stopped", "error"]


@dataclass(frozen=True)
class Failed:
    run_dir: str | None  # None when the run failed before its folder existed
    kind: FailureKind
    message: str  # full sentence for the user, says what to do


Event = DataProgress | RunStarted | BatchProgress | EpochEnd | Finished | Failed
