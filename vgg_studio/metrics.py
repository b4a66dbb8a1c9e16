"""A run's training curves as arrays, and their CSV form: what the live plots draw and what is exported.

Plain numpy and file I/O (no Qt), so the window and the command line export the same file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .atomic import atomic_write

CSV_HEADER = "epoch,train_loss,train_acc,test_acc"


def _empty() -> np.ndarray:
    return np.empty(0)


@dataclass(frozen=True)
class Curves:
    """One run's metrics: train loss/accuracy at fractional epochs, test accuracy at whole epochs."""

    label: str
    step_x: np.ndarray = field(default_factory=_empty)
    train_loss: np.ndarray = field(default_factory=_empty)
    train_acc: np.ndarray = field(default_factory=_empty)
    epoch_x: np.ndarray = field(default_factory=_empty)
    test_acc: np.ndarray = field(default_factory=_empty)

    @classmethod
    def from_rows(cls, label: str, steps: Sequence[dict], epochs: Sequence[dict]) -> Curves:
        """From a run folder's steps.csv and epochs.csv rows (`runs.RunRecord`)."""

        def col(rows: Sequence[dict], key: str) -> np.ndarray:
            return np.array([float(r[key]) for r in rows], dtype=float)

        return cls(label, col(steps, "epoch_float"), col(steps, "train_loss"), col(steps, "train_acc"),
                   col(epochs, "epoch"), col(epochs, "test_acc"))


def smooth_ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average with `weight` in [0, 1), debiased so the first
    points are not pulled towards zero; `weight` 0 returns the values as they are. NaNs are skipped."""
    values = np.asarray(values, dtype=float)
    if weight <= 0 or len(values) == 0:
        return values
    out = np.empty_like(values)
    last, steps = 0.0, 0
    for i, v in enumerate(values):
        if np.isfinite(v):
            last = last * weight + (1 - weight) * v
            steps += 1
        out[i] = last / (1 - weight**steps) if steps else v
    return out


def curves_csv(curves: Curves) -> str:
    """One row per x value; test acc only where an epoch ended (blank elsewhere), like the plot."""
    rows: dict[float, dict[str, float]] = {}
    for x, loss, acc in zip(curves.step_x, curves.train_loss, curves.train_acc):
        rows.setdefault(round(float(x), 9), {}).update(train_loss=float(loss), train_acc=float(acc))
    for x, acc in zip(curves.epoch_x, curves.test_acc):
        rows.setdefault(round(float(x), 9), {})["test_acc"] = float(acc)

    def fmt(value: float | None) -> str:
        return "" if value is None or math.isnan(value) else f"{value:.6g}"

    lines = [CSV_HEADER]
    for x in sorted(rows):
        r = rows[x]
        lines.append(f"{x:.6g},{fmt(r.get('train_loss'))},{fmt(r.get('train_acc'))},{fmt(r.get('test_acc'))}")
    return "\n".join(lines) + "\n"


def write_curves_csv(path: str | os.PathLike[str], curves: Curves) -> None:
    """Write `curves_csv(curves)` to `path` atomically; raises OSError."""
    text = curves_csv(curves)
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
