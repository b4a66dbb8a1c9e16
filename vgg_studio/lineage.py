"""Runs' parents: which earlier run a new run is measured against, and each run's label from it (no Qt).

A run records its parent's folder in run.json (`parent`). The window picks the parent: the pinned
baseline's most recent run on the same dataset, else the previous run started from the window; the CLI
takes `--parent RUN_DIR`. The Runs list then names each run by what differs from its parent
(`changes.change_label`), or by its architecture when it has none.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .changes import change_label
from .runs import RunError, RunInfo, load_setup
from .spec import ArchSpec
from .train_config import TrainConfig


def same_architecture(a: ArchSpec, b: ArchSpec) -> bool:
    """Equal as trained: the dataset decides input channels and classes, and the name is only a name."""
    def plain(s: ArchSpec) -> ArchSpec:
        return s.replace(name="", in_channels=1, num_classes=1)

    return plain(a) == plain(b)


def parent_folder(info: RunInfo) -> Path | None:
    """The parent's folder as recorded, or the folder of that name beside this run (runs folder moved)."""
    if not info.parent:
        return None
    recorded = Path(info.parent)
    if recorded.is_dir():
        return recorded
    beside = info.path.parent / recorded.name
    return beside if beside.is_dir() else recorded


class Setups:
    """Each run's (architecture, training settings), read once per version of its files."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[int, tuple[ArchSpec, TrainConfig]]] = {}

    def get(self, folder: Path) -> tuple[ArchSpec, TrainConfig] | None:
        """None when the folder is gone or unreadable (a label then says so)."""
        try:
            stamp = max(os.stat(folder / name).st_mtime_ns for name in ("arch.json", "config.json"))
        except OSError:
            return None
        hit = self._cache.get(folder)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            setup = load_setup(folder)
        except RunError:
            return None
        self._cache[folder] = (stamp, setup)
        return setup


def choose_parent(runs: Iterable[RunInfo], setups: Setups, dataset: str, baseline: ArchSpec | None = None,
                  previous: Path | None = None) -> Path | None:
    """The parent of a run about to start on `dataset` (a resolved name, as run.json records it).

    The pinned baseline's most recent run on the same dataset that finished at least one epoch; else the
    previous run started from the window (`previous`); else none. `runs` come newest first (list_runs).
    """
    if baseline is not None:
        for info in runs:
            if info.dataset != dataset or info.epochs_done < 1:
                continue
            setup = setups.get(info.path)
            if setup is not None and same_architecture(setup[0], baseline):
                return info.path
    return previous


@dataclass(frozen=True)
class RunLabel:
    text: str  # what differs from the parent, or the architecture's name
    parent: str  # the parent's folder name, "" without one

    @property
    def tooltip(self) -> str:
        return f"Compared with its parent run {self.parent}" if self.parent else "No parent run"


def run_label(info: RunInfo, setups: Setups) -> RunLabel:
    """Label one run by what changed from its parent (architecture and training settings together)."""
    parent = parent_folder(info)
    if parent is None:
        return RunLabel(info.arch_name or info.name, "")
    mine, theirs = setups.get(info.path), setups.get(parent)
    if mine is None or theirs is None:
        return RunLabel(info.arch_name or info.name, f"{parent.name} (no longer readable)")
    return RunLabel(change_label(theirs[0], mine[0], theirs[1], mine[1]), parent.name)
