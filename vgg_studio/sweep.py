"""Sweeps: one knob over a list of values, each variant trained as a normal run, grouped in one folder (no Qt).

`variants` turns "ratio=1,2,4" into validated (label, spec, config) triples before anything trains, so a
typo or a value that makes an impossible network is reported at once, naming the value. `run_sweep` then
trains them one after another with the engine, in `<sweep folder>/<NN>-<label>/`, and writes `sweep.json`
in the sweep folder; each run records its sweep id and label in run.json (`runs.SweepTag`), so the runs
list, `vgg-studio runs` and the efficiency chart can group them. A stop ends the run in progress as the
engine does (status cancelled) and starts no further variant; finished variants stay.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .events import Event, Failed, Finished
from .runs import SWEEP_FILE, RunError, default_runs_dir
from .spec import PRESET_NAMES, ArchSpec, Block, SpecError, load, preset, validate
from .train_config import DATASET_CHOICES, OPTIMIZERS, SCHEDULES, TrainConfig, validate_config

SWEEP_FORMAT = "vgg-studio.sweep"


class SweepError(ValueError):
    """A --vary that cannot be swept; the message names the knob or the value and says why."""


@dataclass(frozen=True)
class Variant:
    label: str  # "ratio=2": the knob and the value, as the user wrote it
    spec: ArchSpec
    config: TrainConfig


# ------------------------------------------------------------------------------------------------
# Knobs
# ------------------------------------------------------------------------------------------------

def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SweepError("not a whole number") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SweepError("not a number") from None


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise SweepError(f"not one of {', '.join(options)}")
        return text
    return parse


def _widths(text: str) -> tuple[int, ...]:
    """Classifier hidden widths: "4096:4096", "512", or "none" for no hidden layer."""
    if text.lower() == "none":
        return ()
    try:
        return tuple(int(w) for w in text.split(":"))
    except ValueError:
        raise SweepError("not a list of widths such as 4096:4096 (or none)") from None


def _num_blocks(spec: ArchSpec, n: int) -> ArchSpec:
    """Drop blocks from the end, or repeat the last block, until there are `n`."""
    if n < 1:
        raise SweepError("a network needs at least one block")
    blocks = spec.blocks[:n] + (spec.blocks[-1],) * max(0, n - len(spec.blocks))
    return spec.replace(blocks=blocks)


def _block_field(spec: ArchSpec, index: int, field: str, value: int) -> ArchSpec:
    if not 1 <= index <= len(spec.blocks):
        raise SweepError(f"the architecture has blocks 1 to {len(spec.blocks)}, not block {index}")
    old = spec.blocks[index - 1]
    new = Block(value, old.out_channels) if field == "convs" else Block(old.num_convs, value)
    return spec.with_block(index - 1, new)


@dataclass(frozen=True)
class Knob:
    name: str
    help: str
    parse: Callable[[str], Any]
    apply: Callable[[ArchSpec, TrainConfig, Any], tuple[ArchSpec, TrainConfig]]


def _arch(field: str, parse: Callable[[str], Any], help: str) -> Knob:
    return Knob(field, help, parse, lambda spec, config, v: (spec.replace(**{field: v}), config))


def _train(field: str, parse: Callable[[str], Any], help: str) -> Knob:
    return Knob(field, help, parse, lambda spec, config, v: (spec, config.replace(**{field: v})))


def _load_file(text: str) -> ArchSpec:
    try:
        return load(text)
    except SpecError as exc:
        raise SweepError(str(exc)) from None


KNOBS: dict[str, Knob] = {k.name: k for k in (
    _arch("ratio", _whole, "divide every block's channels by R"),
    _arch("input_size", _whole, "input height and width"),
    Knob("blocks", "number of blocks: drop blocks from the end or repeat the last", _whole,
         lambda spec, config, n: (_num_blocks(spec, n), config)),
    Knob("convs", "convolutions in every block", _whole,
         lambda spec, config, n: (spec.replace(blocks=tuple(Block(n, b.out_channels) for b in spec.blocks)),
                                  config)),
    _arch("dropout", _number, "classifier dropout probability"),
    _arch("hidden", _widths, "classifier hidden widths, e.g. 4096:4096, 512 or none"),
    _train("lr", _number, "learning rate"),
    _train("batch_size", _whole, "batch size"),
    _train("epochs", _whole, "epochs"),
    _train("optimizer", _choice(OPTIMIZERS), "optimizer"),
    _train("momentum", _number, "SGD momentum"),
    _train("weight_decay", _number, "weight decay"),
    _train("schedule", _choice(SCHEDULES), "learning-rate schedule"),
    _train("dataset", _choice(DATASET_CHOICES), "dataset"),
    _train("seed", _whole, "random seed"),
    Knob("preset", "a built-in architecture per variant", lambda t: preset(_choice(PRESET_NAMES)(t)),
         lambda spec, config, new: (new, config)),
    Knob("arch", "an architecture file per variant", _load_file, lambda spec, config, new: (new, config)),
)}
BLOCK_KNOB = re.compile(r"block(\d+)\.(convs|channels)")  # block3.channels=128,256: one block's knob


def knob_help() -> str:
    names = ", ".join(KNOBS)
    return f"{names}, block<N>.convs, block<N>.channels"


def _knob(name: str) -> Knob:
    key = name.strip().lower().replace("-", "_")
    if key in KNOBS:
        return KNOBS[key]
    m = BLOCK_KNOB.fullmatch(key)
    if m:
        index, field = int(m.group(1)), m.group(2)
        return Knob(key, f"block {index}'s {field}", _whole,
                    lambda spec, config, v: (_block_field(spec, index, field, v), config))
    raise SweepError(f"Unknown knob {name!r} in --vary; choose one of: {knob_help()}.")


def parse_vary(text: str) -> tuple[Knob, list[str]]:
    """"ratio=1,2,4" -> (the ratio knob, ["1", "2", "4"]); raises SweepError naming what is wrong."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip():
        raise SweepError(f"--vary wants KNOB=V1,V2,... (e.g. ratio=1,2,4), not {text!r}.")
    knob = _knob(name)
    values = [v.strip() for v in rest.split(",")]
    if not rest.strip() or any(not v for v in values):
        raise SweepError(f"--vary {knob.name}: give a comma-separated list of values without empty ones "
                         f"(got {rest!r}).")
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise SweepError(f"--vary {knob.name}: {dupes[0]} appears more than once.")
    return knob, values


def variants(spec: ArchSpec, config: TrainConfig, vary: str) -> list[Variant]:
    """Every variant of `vary` applied to (spec, config), each validated; SweepError names the first bad value."""
    knob, values = parse_vary(vary)
    out = []
    for text in values:
        label = f"{knob.name}={text}"
        try:
            new_spec, new_config = knob.apply(spec, config, knob.parse(text))
        except (SweepError, SpecError) as exc:
            raise SweepError(f"--vary {label}: {str(exc).rstrip('.')}.") from None
        problems = [p.message for p in validate(new_spec) if p.is_error] + validate_config(new_config)
        if problems:
            raise SweepError(f"--vary {label} is not a valid variant: {' '.join(problems)}")
        out.append(Variant(label, new_spec, new_config))
    return out


# ------------------------------------------------------------------------------------------------
# Running a sweep
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepStarted:
    sweep_dir: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class VariantStarted:
    index: int  # 1-based
    count: int
    label: str


@dataclass(frozen=True)
class VariantDone:
    index: int
    count: int
    label: str
    result: Finished | Failed  # the engine's last event for this variant
    wall_s: float  # from the variant's start to its end: data loading, training and testing


@dataclass(frozen=True)
class SweepDone:
    sweep_dir: str
    count: int  # variants asked for
    results: tuple[VariantDone, ...]  # every variant that ran, in order
    stopped: bool  # stopped on request: later variants never started

    @property
    def not_started(self) -> int:
        return self.count - len(self.results)


SweepEvent = SweepStarted | VariantStarted | VariantDone | SweepDone


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", text).strip("-.") or "variant"


def sweep_folder(base: ArchSpec, knob_label: str, out: str | Path | None, root: str | Path | None) -> Path:
    """`out` if given (absent or empty), else a fresh `<runs folder>/<time>-sweep-<arch>-<knob>`."""
    if out is not None:
        folder = Path(out).expanduser()
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise RunError(f"{folder} already exists and is not an empty folder; choose another output folder.")
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    parent = Path(root).expanduser() if root is not None else default_runs_dir()
    parent.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.now():%Y%m%d-%H%M%S}-sweep-{_slug(base.name)}-{_slug(knob_label)}"
    for i in range(1, 1000):
        folder = parent / (stem if i == 1 else f"{stem}-{i}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise RunError(f"Cannot find a free sweep folder name in {parent}.")


def _write_sweep_json(folder: Path, doc: dict) -> None:
    from .atomic import atomic_write

    text = json.dumps(doc, indent=2) + "\n"
    atomic_write(folder / SWEEP_FILE, lambda fh: fh.write(text.encode("utf-8")))


def run_sweep(items: list[Variant], on_event: Callable[[Event | SweepEvent], None] | None = None,
              cancel: threading.Event | None = None, *, out: str | Path | None = None,
              root: str | Path | None = None, knob: str = "", train_fn=None) -> SweepDone:
    """Train each variant in turn; engine events and sweep events go to `on_event` (from this thread).

    `train_fn`: the engine's `train` (the default) or a stand-in with its signature, for tests.

    A failed variant (diverged, out of memory) does not stop the sweep; a data or spec failure does (the next
    variants would fail the same way), and so does `cancel`. Raises RunError when the folder cannot be made.
    """
    if train_fn is None:
        from .engine import train as train_fn

    emit = on_event or (lambda event: None)
    cancel = cancel if cancel is not None else threading.Event()
    labels = tuple(v.label for v in items)
    folder = sweep_folder(items[0].spec, knob or labels[0].split("=")[0], out, root)
    doc = {"format": SWEEP_FORMAT, "id": folder.name, "knob": knob or labels[0].split("=")[0],
           "labels": list(labels), "arch_name": items[0].spec.name,
           "created": datetime.now().astimezone().isoformat(timespec="seconds"), "status": "running"}
    _write_sweep_json(folder, doc)
    emit(SweepStarted(str(folder), labels))
    results: list[VariantDone] = []
    stopped = False
    for i, v in enumerate(items, 1):
        if cancel.is_set():
            stopped = True
            break
        emit(VariantStarted(i, len(items), v.label))
        t0 = time.perf_counter()
        tag = {"id": folder.name, "label": v.label, "index": i, "count": len(items)}
        result = train_fn(v.spec, v.config, on_event=emit, cancel=cancel, run_dir=folder / f"{i:02d}-{_slug(v.label)}",
                       meta={"sweep": tag})
        results.append(VariantDone(i, len(items), v.label, result, time.perf_counter() - t0))
        emit(results[-1])
        if isinstance(result, Finished) and result.cancelled:
            stopped = True
            break
        if isinstance(result, Failed) and result.kind in ("data", "spec"):
            break
    _write_sweep_json(folder, {**doc, "status": "stopped" if stopped else "finished"})
    done = SweepDone(str(folder), len(items), tuple(results), stopped)
    emit(done)
    return done
