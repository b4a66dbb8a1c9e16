"""The chapter's closing chart as data: every run as accuracy against speed, with its size and the Pareto front.

One `Point` per run folder (best test accuracy, training and inference examples/sec, parameters, FLOPs and
training memory) and, on request, one per measured-but-untrained variant from the measurements file. The
window's efficiency chart and `vgg-studio runs` (table, JSON, CSV, `--chart`) both read these, so both show
the same numbers. No Qt here.

Where the numbers come from: training speed is the run's training-step examples/sec over all its epochs
(as d2l times it, and as `train` prints it last); inference speed is the same over its test passes (runs
made before that was recorded fall back to a stored measurement of the same architecture, device, batch
size and dtype); memory is a stored measurement's peak when there is one, else the summary's prediction (the CSV and
JSON say which).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from .measure import Measurement, arch_key, load_measurements, optimizer_state_key
from .runs import RunError, list_runs, load_run
from .spec import SpecError
from .summary import FLOAT32_BYTES, summarize


@dataclass(frozen=True)
class Axis:
    key: str
    title: str  # axis title, with its unit
    higher_is_better: bool  # for the Pareto front: speed yes, size no


X_AXES: dict[str, Axis] = {a.key: a for a in (
    Axis("train", "training examples/sec", True),
    Axis("inference", "inference examples/sec", True),
    Axis("params", "parameters", False),
    Axis("flops", "forward FLOPs per example", False),
)}
SIZES = {"params": "parameters", "memory": "training memory"}  # what the bubble area shows


@dataclass(frozen=True)
class Point:
    name: str  # the run folder's name, or "<arch> (measured)" for a measured-only variant
    path: str  # the run folder ("" for a measured-only variant)
    label: str  # the sweep variant's label ("ratio=2"), else ""
    sweep: str  # the sweep's id (its folder name), else ""
    arch_name: str
    dataset: str  # "" for a measured-only variant
    status: str  # the run's status, or "measured"
    device: str
    epochs_done: int
    params: int
    flops: int  # forward, per example
    test_acc: float | None  # best over the epochs
    train_examples_per_sec: float | None
    inference_examples_per_sec: float | None
    memory_bytes: int | None  # peak of a training step
    memory_source: str  # "measured" or "predicted"

    @property
    def measured_only(self) -> bool:
        return not self.path

    def x(self, axis: str) -> float | None:
        return {"train": self.train_examples_per_sec, "inference": self.inference_examples_per_sec,
                "params": float(self.params), "flops": float(self.flops)}[axis]

    def size(self, by: str) -> float | None:
        return float(self.params) if by == "params" else self.memory_bytes

    @property
    def title(self) -> str:
        """How a person names this point: the sweep label when it has one."""
        return f"{self.arch_name} {self.label}" if self.label else self.name


def _overall_rate(values: Iterable[float | None]) -> float | None:
    """Examples/sec over all epochs (total examples / total time: the harmonic mean of equal-sized epochs'
    rates), the number `train` prints last and `sweep` tabulates."""
    vals = [v for v in values if v is not None and v > 0]
    return statistics.harmonic_mean(vals) if vals else None


def _dtype(device: str, amp: bool) -> str:
    import torch

    from .engine import uses_bf16
    from .train_config import TrainConfig

    try:
        return "bfloat16" if uses_bf16(TrainConfig(amp=amp), torch.device(device or "cpu")) else "float32"
    except RuntimeError:  # a device string this torch does not know
        return "float32"


def collect(root: str | Path | None = None, *, dataset: str | None = None, sweep: str | None = None,
            include_measured: bool = False, measurements: list[Measurement] | None = None) -> list[Point]:
    """Points for every readable run under `root` (and its sweeps), newest first; filters by dataset or sweep id.

    Measured-only points (no accuracy) come last, one per stored measurement that no listed run matches.
    """
    stored = load_measurements() if measurements is None else measurements
    by_key = {m.key: m for m in reversed(stored)}  # newest wins
    points, used = [], set()
    for info in list_runs(root):
        if (dataset and info.dataset != dataset) or (sweep and (info.sweep is None or info.sweep.id != sweep)):
            continue
        try:
            record = load_run(info.path)
            summary = summarize(record.spec)
        except (RunError, SpecError):
            continue
        cfg = record.config
        dtype = _dtype(info.device, cfg.amp)
        key = f"{arch_key(record.spec)}|{info.device}|{cfg.batch_size}|{dtype}"
        m = by_key.get(key)
        used.add(key)
        infer = _overall_rate(e.get("test_examples_per_sec") for e in record.epochs)
        if infer is None and m is not None:
            infer = m.inference_examples_per_sec
        if m is not None:
            memory, source = m.peak_memory_bytes, "measured"
        else:
            memory = summary.training_memory(cfg.batch_size, 2 if dtype == "bfloat16" else FLOAT32_BYTES,
                                             optimizer_state_key(cfg)).total_bytes
            source = "predicted"
        points.append(Point(
            name=info.name, path=str(info.path), label=info.sweep.label if info.sweep else "",
            sweep=info.sweep.id if info.sweep else "", arch_name=info.arch_name, dataset=info.dataset,
            status=info.status, device=info.device, epochs_done=info.epochs_done, params=info.params,
            flops=summary.total_flops, test_acc=info.best_test_acc,
            train_examples_per_sec=_overall_rate(e.get("examples_per_sec") for e in record.epochs),
            inference_examples_per_sec=infer, memory_bytes=memory, memory_source=source))
    if include_measured and not sweep:
        for m in stored:
            if m.key in used:
                continue
            used.add(m.key)
            points.append(Point(
                name=f"{m.arch_name} (measured)", path="", label="", sweep="", arch_name=m.arch_name, dataset="",
                status="measured", device=m.device, epochs_done=0, params=m.params, flops=m.flops_per_example,
                test_acc=None, train_examples_per_sec=m.train_examples_per_sec,
                inference_examples_per_sec=m.inference_examples_per_sec, memory_bytes=m.peak_memory_bytes,
                memory_source="measured"))
    return points


def plottable(points: Iterable[Point], x: str) -> list[Point]:
    """Points with an accuracy and a positive x value: what the chart places as bubbles."""
    return [p for p in points if p.test_acc is not None and (p.x(x) or 0) > 0]


def pareto_front(points: Iterable[Point], x: str) -> list[Point]:
    """The runs no other run beats on both x and accuracy, sorted by x (best x last when higher is better)."""
    better_high = X_AXES[x].higher_is_better
    pts = plottable(points, x)

    def dominates(a: Point, b: Point) -> bool:
        ax, bx = (a.x(x), b.x(x)) if better_high else (-a.x(x), -b.x(x))
        return ax >= bx and a.test_acc >= b.test_acc and (ax > bx or a.test_acc > b.test_acc)

    front = [p for p in pts if not any(dominates(q, p) for q in pts if q is not p)]
    return sorted(front, key=lambda p: p.x(x))


FIELDS = ("name", "label", "sweep", "arch_name", "dataset", "status", "device", "epochs_done", "params", "flops",
          "test_acc", "train_examples_per_sec", "inference_examples_per_sec", "memory_bytes", "memory_source",
          "path")


def to_rows(points: Iterable[Point], front: Iterable[Point] = ()) -> list[dict]:
    """Plain dicts (the JSON and CSV form); `pareto` is true for points on `front`."""
    on_front = {id(p) for p in front}
    return [{**{k: asdict(p)[k] for k in FIELDS}, "pareto": id(p) in on_front} for p in points]


def to_csv(points: Iterable[Point], front: Iterable[Point] = ()) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=(*FIELDS, "pareto"), lineterminator="\n")
    writer.writeheader()
    for row in to_rows(points, front):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()
