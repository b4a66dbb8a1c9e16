"""Run folders: what a training run leaves on disk, and reading it back for plots and comparison.

One folder per run (`<timestamp>-<arch>`): arch.json, config.json, run.json (status and headline
numbers, so listing runs reads one small file each), steps.csv, epochs.csv, checkpoint.pt (the last
finished epoch, for resuming), final.pt and results.npz. Every write goes to a temporary file that is
then renamed over the old one, so a crash or a kill never leaves half a file behind.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .paths import user_dir
from .spec import ArchSpec, SpecError, atomic_write_text, from_json, to_json
from .train_config import ConfigError, TrainConfig

STEP_FIELDS = ("epoch_float", "train_loss", "train_acc")
EPOCH_FIELDS = ("epoch", "train_loss", "train_acc", "test_acc", "examples_per_sec", "elapsed_s", "lr",
                "test_examples_per_sec")  # the last: test-pass speed (inference); absent in older runs
STATUSES = ("running", "finished", "cancelled", "failed", "interrupted")  # interrupted: derived, never written
RUN_FORMAT = "vgg-studio.run"
SWEEP_FILE = "sweep.json"  # marks a folder that holds one sweep's runs (see sweep.py); listed with the runs


class RunError(Exception):
    """A run folder that cannot be read or written; the message is for the user."""


def default_runs_dir() -> Path:
    """Per-user folder for runs; the VGG_STUDIO_RUNS environment variable overrides it."""
    return user_dir("runs", "VGG_STUDIO_RUNS")


@dataclass(frozen=True)
class SweepTag:
    """The sweep a run belongs to: the sweep folder's name (its id) and the variant's label and place."""

    id: str
    label: str  # what this variant changed, e.g. "ratio=2"
    index: int  # 1-based
    count: int


@dataclass(frozen=True)
class RunInfo:
    path: Path
    name: str
    arch_name: str
    params: int
    dataset: str
    best_test_acc: float | None
    created: datetime
    status: str  # running | finished | cancelled | failed | interrupted (its process died mid-run)
    epochs_done: int
    epochs: int
    device: str = ""
    message: str = ""  # why it failed or stopped, for the user
    parent: str = ""  # the folder of the run this one is compared with (see lineage.py), "" for none
    sweep: SweepTag | None = None


@dataclass(frozen=True)
class RunResults:
    classes: tuple[str, ...]
    confusion: np.ndarray  # (K, K) int, rows = true class, columns = predicted
    examples: np.ndarray  # uint8 (M, C, H, W) test images at native size, misclassified first
    example_pred: np.ndarray  # (M,) int
    example_true: np.ndarray  # (M,) int


@dataclass(frozen=True)
class RunRecord:
    info: RunInfo
    spec: ArchSpec
    config: TrainConfig
    steps: list[dict]  # epoch_float, train_loss, train_acc
    epochs: list[dict]  # epoch, train_loss, train_acc, test_acc, examples_per_sec, elapsed_s, lr
    results: RunResults | None


def _csv_text(rows: list[dict], fields: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _read_csv(path: Path, ints: tuple[str, ...] = ()) -> list[dict]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: int(v) if k in ints else float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(fh)]  # a column added later is empty in older rows: left out


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "run"


# ------------------------------------------------------------------------------------------------
# Writing one run (used by the engine)
# ------------------------------------------------------------------------------------------------

class RunFolder:
    """The engine's handle on its run folder: keeps the metrics in memory and rewrites files atomically."""

    def __init__(self, path: Path, meta: dict[str, Any], steps: list[dict], epochs: list[dict]) -> None:
        self.path, self.meta, self.steps, self.epochs = path, meta, steps, epochs

    @classmethod
    def create(cls, spec: ArchSpec, config: TrainConfig, *, root: str | os.PathLike | None = None,
               path: str | os.PathLike | None = None, **meta: Any) -> RunFolder:
        """A new folder: `path` if given (must be absent or empty), else a unique one under `root`."""
        now = datetime.now().astimezone()
        if path is not None:
            folder = Path(path).expanduser()
            if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
                raise RunError(f"{folder} already exists and is not an empty folder; choose another output "
                               f"folder, or resume the run in it.")
            folder.mkdir(parents=True, exist_ok=True)
        else:
            base = Path(root).expanduser() if root is not None else default_runs_dir()
            base.mkdir(parents=True, exist_ok=True)
            stem = f"{now:%Y%m%d-%H%M%S}-{_slug(spec.name)}"
            for i in range(1, 1000):
                folder = base / (stem if i == 1 else f"{stem}-{i}")
                try:
                    folder.mkdir()  # atomic: two runs started in the same second get different folders
                    break
                except FileExistsError:
                    continue
            else:
                raise RunError(f"Cannot find a free run folder name in {base}.")
        run = cls(folder, {"format": RUN_FORMAT, "arch_name": spec.name, "status": "running",
                           "created": now.isoformat(timespec="seconds"), "epochs_done": 0,
                           "best_test_acc": None, "message": "", **meta}, [], [])
        atomic_write_text(folder / "arch.json", to_json(spec))
        run.write_config(config)
        run.update()
        return run

    @classmethod
    def reopen(cls, path: str | os.PathLike) -> RunFolder:
        """An existing folder, to resume: metadata and metrics as last written."""
        folder = Path(path).expanduser()
        meta = _read_meta(folder)
        try:
            steps = _read_csv(folder / "steps.csv")
            epochs = _read_csv(folder / "epochs.csv", ints=("epoch",))
        except (OSError, ValueError, csv.Error) as exc:
            raise RunError(f"Cannot read the metrics in {folder}: {exc}") from None
        return cls(folder, meta, steps, epochs)

    def truncate(self, epoch: int) -> None:
        """Forget metrics measured after `epoch` (a partial epoch that a resume will redo)."""
        self.steps = [r for r in self.steps if r["epoch_float"] <= epoch + 1e-9]
        self.epochs = [r for r in self.epochs if r["epoch"] <= epoch]
        self._write_metrics()

    def write_config(self, config: TrainConfig) -> None:
        atomic_write_text(self.path / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")

    def update(self, **meta: Any) -> None:
        self.meta.update(meta, updated=datetime.now().astimezone().isoformat(timespec="seconds"))
        if self.meta.get("status") == "running":  # lets readers tell a live run from one whose process died
            self.meta.update(pid=os.getpid(), host=socket.gethostname())
        atomic_write_text(self.path / "run.json", json.dumps(self.meta, indent=2) + "\n")

    def add_steps(self, rows: list[dict]) -> None:
        self.steps.extend(rows)
        atomic_write_text(self.path / "steps.csv", _csv_text(self.steps, STEP_FIELDS))

    def add_epoch(self, row: dict) -> None:
        self.epochs.append(row)
        best = max(r["test_acc"] for r in self.epochs)
        self._write_metrics()
        self.update(epochs_done=row["epoch"], best_test_acc=best)

    def _write_metrics(self) -> None:
        atomic_write_text(self.path / "steps.csv", _csv_text(self.steps, STEP_FIELDS))
        atomic_write_text(self.path / "epochs.csv", _csv_text(self.epochs, EPOCH_FIELDS))

    def save_torch(self, name: str, obj: Any) -> None:
        import torch

        atomic_write(self.path / name, lambda fh: torch.save(obj, fh))

    def load_checkpoint(self) -> dict[str, Any]:
        import torch

        path = self.path / "checkpoint.pt"
        if not path.exists():
            raise RunError(f"{self.path} has no checkpoint.pt: it never finished an epoch, so there is "
                           f"nothing to resume; start a new run instead.")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged or foreign file: say so rather than crash
            raise RunError(f"Cannot read {path}: {exc}") from None

    def save_results(self, results: RunResults) -> None:
        atomic_write(self.path / "results.npz", lambda fh: np.savez(
            fh, classes=np.array(results.classes), confusion=results.confusion, examples=results.examples,
            example_pred=results.example_pred, example_true=results.example_true))

    def log_error(self, text: str) -> None:
        atomic_write_text(self.path / "error.log", text)


# ------------------------------------------------------------------------------------------------
# Reading runs back
# ------------------------------------------------------------------------------------------------

def _read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{folder} is not a vgg-studio run (no run.json).") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"Cannot read {folder / 'run.json'}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
        raise RunError(f"{folder / 'run.json'} is not a vgg-studio run description.")
    return meta


def _process_gone(meta: dict[str, Any]) -> bool:
    """True when a "running" run's process is known to have ended (killed, crashed, power cut)."""
    pid = meta.get("pid")
    if not isinstance(pid, int) or meta.get("host") != socket.gethostname() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists but belongs to someone else
        return False
    return False


def _info(folder: Path, meta: dict[str, Any]) -> RunInfo:
    if meta.get("status") == "running" and _process_gone(meta):
        meta = {**meta, "status": "interrupted",
                "message": "Its process ended without finishing (killed or crashed); resume it to continue."}
    try:
        best = meta.get("best_test_acc")
        return RunInfo(path=folder, name=folder.name, arch_name=str(meta.get("arch_name", "")),
                       params=int(meta.get("params", 0)), dataset=str(meta.get("dataset", "")),
                       best_test_acc=None if best is None else float(best),
                       created=datetime.fromisoformat(meta["created"]), status=str(meta.get("status", "")),
                       epochs_done=int(meta.get("epochs_done", 0)), epochs=int(meta.get("epochs", 0)),
                       device=str(meta.get("device", "")), message=str(meta.get("message", "")),
                       parent=str(meta.get("parent") or ""),
                       sweep=SweepTag(**meta["sweep"]) if meta.get("sweep") else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"{folder / 'run.json'} is damaged ({exc!r}).") from None


def list_runs(root: str | os.PathLike | None = None) -> list[RunInfo]:
    """Every readable run under `root` (default: the per-user folder) and its sweep folders, newest first."""
    base = Path(root).expanduser() if root is not None else default_runs_dir()
    if not base.is_dir():
        return []
    infos = []
    sweeps = [f for f in base.iterdir() if (f / SWEEP_FILE).is_file() and not (f / "run.json").exists()]
    for folder in [*base.iterdir(), *(sub for s in sweeps for sub in s.iterdir())]:
        if folder.is_dir() and folder not in sweeps:
            try:
                infos.append(_info(folder, _read_meta(folder)))
            except RunError:
                continue
    return sorted(infos, key=lambda i: (i.created, i.name), reverse=True)


def load_results(path: str | os.PathLike) -> RunResults | None:
    file = Path(path) / "results.npz"
    if not file.exists():
        return None
    try:
        with np.load(file, allow_pickle=False) as z:
            return RunResults(classes=tuple(str(c) for c in z["classes"]), confusion=z["confusion"],
                              examples=z["examples"], example_pred=z["example_pred"],
                              example_true=z["example_true"])
    except (OSError, ValueError, KeyError) as exc:
        raise RunError(f"Cannot read {file}: {exc}") from None


def load_run(path: str | os.PathLike) -> RunRecord:
    """Everything a run folder holds except the weights; raises RunError with the reason."""
    folder = Path(path).expanduser()
    info = _info(folder, _read_meta(folder))
    try:
        spec = from_json((folder / "arch.json").read_text(encoding="utf-8"), source=str(folder / "arch.json"))
        config = TrainConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    except FileNotFoundError as exc:
        raise RunError(f"{folder} is incomplete: {Path(exc.filename).name} is missing.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, SpecError, ConfigError, TypeError) as exc:
        raise RunError(f"Cannot read the run in {folder}: {exc}") from None
    run = RunFolder.reopen(folder)
    return RunRecord(info=info, spec=spec, config=config, steps=run.steps, epochs=run.epochs,
                     results=load_results(folder))


def delete_run(path: str | os.PathLike) -> None:
    """Remove a run folder; refuses folders that are not runs, so a wrong path cannot wipe other files."""
    folder = Path(path).expanduser()
    _read_meta(folder)
    shutil.rmtree(folder)
