"""Run folders: what a training run leaves on disk, and reading it back for plots and comparison.

One folder per run (`<timestamp>-<arch>`): arch.json, config.json, run.json (status and headline
numbers, so listing runs reads one small file each), steps.csv, epochs.csv, checkpoint.pt (the last
finished epoch, for resuming), final.pt and results.npz. Every write goes to a temporary file that is
then renamed over the old one, so a crash or a kill never leaves half a file behind.

While a process trains a run it holds an OS lock on the run's folder (`flock` on the folder itself, so
nothing is added to it and the lock ends with the process however it ends): `is_locked` tells every
window and command that the run is in use, `delete_run` and a second resume refuse it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write, atomic_write_text
from .paths import user_dir
from .spec import ArchSpec, SpecError, to_json
from .spec import load as load_spec
from .train_config import ConfigError, TrainConfig

STEP_FIELDS = ("epoch_float", "train_loss", "train_acc")
EPOCH_FIELDS = ("epoch", "train_loss", "train_acc", "test_acc", "examples_per_sec", "elapsed_s", "lr",
                "test_examples_per_sec")  # the last: test-pass speed (inference); absent in older runs
# "interrupted" (its process died mid-run) and "damaged" (run.json unreadable) are derived, never written.
STATUSES = ("running", "finished", "cancelled", "failed", "interrupted", "damaged")
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
    status: str  # one of STATUSES; "running" means a live process holds the folder's lock right now
    epochs_done: int
    epochs: int
    device: str = ""
    message: str = ""  # why it failed or stopped, for the user
    parent: str = ""  # the folder of the run this one is compared with (see lineage.py), "" for none
    sweep: SweepTag | None = None
    resumable: bool = False  # it has a checkpoint and no process is training it

    @property
    def in_use(self) -> bool:
        """A process (this one or another) is training it: do not delete or resume it."""
        return self.status == "running"


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
    results_error: str = ""  # why results.npz could not be read (the rest of the run still loads)


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
# The folder lock: who is training a run right now
# ------------------------------------------------------------------------------------------------

try:
    import fcntl
except ImportError:  # Windows: no folder locks; a live run is told by the pid in run.json instead
    fcntl = None  # type: ignore[assignment]


class _FolderLock:
    """An exclusive `flock` on a run folder, held for as long as this object is open."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, folder: Path, wait_s: float = 1.0) -> _FolderLock | None:
        """The lock, or None when another holder keeps it for `wait_s` (a reader's brief probe never wins)."""
        if fcntl is None:
            return cls(-1)
        fd = os.open(folder, os.O_RDONLY)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return cls(fd)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return None
                time.sleep(0.05)

    def release(self) -> None:
        if self._fd is not None and self._fd >= 0:
            os.close(self._fd)  # closing the descriptor ends the flock
        self._fd = None


def is_locked(path: str | os.PathLike) -> bool:
    """Whether a process is training the run in `path` right now (False for a folder that is gone)."""
    folder = Path(path).expanduser()
    if fcntl is None:
        with contextlib.suppress(RunError):
            meta = _read_meta(folder)
            return meta.get("status") == "running" and not _process_gone(meta)
        return False
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # also ends the shared probe lock


def _in_use_message(folder: Path, meta: dict[str, Any] | None = None) -> str:
    pid = (meta or {}).get("pid")
    who = f"process {pid}" if isinstance(pid, int) else "another process"
    return (f"The run in {folder} is being trained right now (by {who}); wait for it to finish or stop it, "
            f"then try again.")


# ------------------------------------------------------------------------------------------------
# Writing one run (used by the engine)
# ------------------------------------------------------------------------------------------------

class RunFolder:
    """The engine's handle on its run folder: keeps the metrics in memory and rewrites files atomically."""

    def __init__(self, path: Path, meta: dict[str, Any], steps: list[dict], epochs: list[dict]) -> None:
        self.path, self.meta, self.steps, self.epochs = path, meta, steps, epochs
        self._lock: _FolderLock | None = None
        self.made_folder = False  # create() made the folder itself (so discarding it may remove it)

    def lock(self) -> None:
        """Take the folder's lock for this process; RunError when another process is training the run."""
        if self._lock is not None:
            return
        try:
            self._lock = _FolderLock.acquire(self.path)
        except OSError as exc:
            raise RunError(f"Cannot open the run folder {self.path}: {exc.strerror or exc}.") from None
        if self._lock is None:
            raise RunError(_in_use_message(self.path, self.meta))

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def discard(self) -> None:
        """Remove what this run wrote (a run that measured nothing): the folder too if create() made it."""
        if self.made_folder:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            for child in self.path.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        self.unlock()

    @classmethod
    def create(cls, spec: ArchSpec, config: TrainConfig, *, root: str | os.PathLike | None = None,
               path: str | os.PathLike | None = None, **meta: Any) -> RunFolder:
        """A new folder: `path` if given (must be absent or empty), else a unique one under `root`."""
        now = datetime.now().astimezone()
        made = False
        if path is not None:
            folder = Path(path).expanduser()
            if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
                raise RunError(f"{folder} already exists and is not an empty folder; choose another output "
                               f"folder, or resume the run in it.")
            made = not folder.exists()
            _make_folder(folder, parents=True, what="the run folder", flag="--out")
        else:
            base = Path(root).expanduser() if root is not None else default_runs_dir()
            _make_folder(base, parents=True, what="the runs folder", flag="VGG_STUDIO_RUNS or --out")
            stem = f"{now:%Y%m%d-%H%M%S}-{_slug(spec.name)}"
            for i in range(1, 1000):
                folder = base / (stem if i == 1 else f"{stem}-{i}")
                try:
                    folder.mkdir()  # atomic: two runs started in the same second get different folders
                    made = True
                    break
                except FileExistsError:
                    continue
                except OSError as exc:
                    raise RunError(f"Cannot make a run folder in {base}: {exc.strerror or exc}. Choose a "
                                   f"writable folder with VGG_STUDIO_RUNS or --out.") from None
            else:
                raise RunError(f"Cannot find a free run folder name in {base}.")
        run = cls(folder, {"format": RUN_FORMAT, "arch_name": spec.name, "status": "running",
                           "created": now.isoformat(timespec="seconds"), "epochs_done": 0,
                           "best_test_acc": None, "message": "", **meta}, [], [])
        run.made_folder = made
        run.lock()
        try:
            atomic_write_text(folder / "arch.json", to_json(spec))
            run.write_config(config)
            run.update()
        except OSError as exc:
            run.discard()
            raise RunError(f"Cannot write the new run in {folder}: {exc.strerror or exc}. Choose a writable "
                           f"folder with VGG_STUDIO_RUNS or --out.") from None
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

    def read_config(self) -> TrainConfig:
        """The settings the run was trained with (config.json)."""
        return _read_config(self.path)

    def load_checkpoint(self) -> dict[str, Any]:
        import torch

        path = self.path / "checkpoint.pt"
        if not path.exists():
            raise RunError(f"{self.path} has no checkpoint.pt: it never finished an epoch, so there is "
                           f"nothing to resume; start a new run instead.")
        if path.stat().st_size == 0:
            raise RunError(damaged_checkpoint(path, "it is empty (0 bytes)"))
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - torch.load raises many unrelated types for a damaged file
            ckpt = None
        if not isinstance(ckpt, dict) or not isinstance(ckpt.get("epoch"), int):
            raise RunError(damaged_checkpoint(path, "it is not a vgg-studio checkpoint or is damaged"))
        return ckpt

    def save_results(self, results: RunResults) -> None:
        atomic_write(self.path / "results.npz", lambda fh: np.savez(
            fh, classes=np.array(results.classes), confusion=results.confusion, examples=results.examples,
            example_pred=results.example_pred, example_true=results.example_true))

    def log_error(self, text: str) -> None:
        atomic_write_text(self.path / "error.log", text)


def damaged_checkpoint(path: Path, why: str) -> str:
    """The message for a checkpoint a resume cannot use (damaged, foreign, or from another architecture)."""
    return (f"Cannot resume from {path}: {why}. The run's metrics and final.pt are still usable; to train "
            f"further, start a new run with its architecture ({path.parent / 'arch.json'}).")


def _make_folder(folder: Path, *, parents: bool, what: str, flag: str) -> None:
    """mkdir with a message that names the folder and the setting to change, instead of an OSError."""
    try:
        folder.mkdir(parents=parents, exist_ok=True)
    except FileExistsError:  # exist_ok still raises when the path is a file
        raise RunError(f"{what.capitalize()} {folder} is a file, not a folder; point {flag} at a folder.") from None
    except OSError as exc:
        raise RunError(f"Cannot make {what} {folder}: {exc.strerror or exc}. Choose a writable folder with "
                       f"{flag}.") from None


# ------------------------------------------------------------------------------------------------
# Reading runs back
# ------------------------------------------------------------------------------------------------

class DamagedRun(RunError):
    """run.json exists but cannot be read: the folder is a run, damaged."""


def _read_meta(folder: Path) -> dict[str, Any]:
    file = folder / "run.json"
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{folder} is not a vgg-studio run (no run.json).") from None
    except NotADirectoryError:
        raise RunError(f"{folder} is not a vgg-studio run folder (it is a file).") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise DamagedRun(f"{file} is damaged (not readable JSON); the run's other files are intact, but it "
                         f"can only be deleted.") from None
    except OSError as exc:
        raise RunError(f"Cannot read {file}: {exc.strerror or exc}.") from None
    if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
        raise DamagedRun(f"{file} is not a vgg-studio run description; the folder can only be deleted.")
    return meta


def _read_config(folder: Path) -> TrainConfig:
    file = folder / "config.json"
    try:
        return TrainConfig.from_dict(json.loads(file.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise RunError(f"{folder} is incomplete: config.json is missing.") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, ConfigError, TypeError) as exc:
        raise RunError(f"Cannot read {file}: {exc}.") from None


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


def _live_status(folder: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """run.json's status corrected by what is true now: locked means running; a dead "running" is interrupted."""
    locked = is_locked(folder)
    status = meta.get("status")
    if locked and status != "running":
        return {**meta, "status": "running", "message": "Being resumed by another process."}
    if status != "running" or locked:
        return meta
    if fcntl is None and not _process_gone(meta):
        return meta
    if meta.get("host") not in (None, socket.gethostname()):
        return meta  # trained on another machine: cannot tell
    if (folder / "checkpoint.pt").is_file():
        why = "resume it to continue from its last finished epoch"
    else:
        why = "no epoch had finished, so there is nothing to resume; delete it"
    return {**meta, "status": "interrupted",
            "message": f"Its process ended without finishing (killed, crashed or out of disk space); {why}."}


def _info(folder: Path, meta: dict[str, Any]) -> RunInfo:
    meta = _live_status(folder, meta)
    resumable = meta.get("status") != "running" and (folder / "checkpoint.pt").is_file()
    try:
        best = meta.get("best_test_acc")
        return RunInfo(path=folder, name=folder.name, arch_name=str(meta.get("arch_name", "")),
                       params=int(meta.get("params", 0)), dataset=str(meta.get("dataset", "")),
                       best_test_acc=None if best is None else float(best),
                       created=datetime.fromisoformat(meta["created"]), status=str(meta.get("status", "")),
                       epochs_done=int(meta.get("epochs_done", 0)), epochs=int(meta.get("epochs", 0)),
                       device=str(meta.get("device", "")), message=str(meta.get("message", "")),
                       parent=str(meta.get("parent") or ""), resumable=resumable,
                       sweep=SweepTag(**meta["sweep"]) if meta.get("sweep") else None)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise DamagedRun(f"{folder / 'run.json'} is damaged ({exc!r}); the folder can only be deleted.") from None


def _damaged_info(folder: Path, error: RunError) -> RunInfo:
    """A run whose run.json cannot be read: listed (so it does not silently vanish), dated by its folder."""
    try:
        created = datetime.fromtimestamp(folder.stat().st_mtime).astimezone()
    except OSError:
        created = datetime.now().astimezone()
    return RunInfo(path=folder, name=folder.name, arch_name="", params=0, dataset="", best_test_acc=None,
                   created=created, status="damaged", epochs_done=0, epochs=0, message=str(error))


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
            except DamagedRun as exc:
                infos.append(_damaged_info(folder, exc))
            except RunError:
                continue  # not a run (no run.json), or unreadable as a folder
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
    except OSError as exc:
        raise RunError(f"Cannot read {file} ({exc.strerror or exc}); the run's curves and architecture are still "
                       f"usable.") from None
    except (ValueError, KeyError, EOFError):  # numpy's own words here advise unsafe pickle loading: not ours
        raise RunError(f"{file} is damaged (not a vgg-studio results file); the run's curves and architecture are "
                       f"still usable.") from None


def load_setup(path: str | os.PathLike) -> tuple[ArchSpec, TrainConfig]:
    """A run's architecture and training settings only (two small files); raises RunError with the reason."""
    folder = Path(path).expanduser()
    _read_meta(folder)  # says so when the folder is not a run at all
    try:
        spec = load_spec(folder / "arch.json")
    except SpecError as exc:
        if not (folder / "arch.json").exists():
            raise RunError(f"{folder} is incomplete: arch.json is missing.") from None
        raise RunError(f"Cannot read the run in {folder}: {exc}") from None
    return spec, _read_config(folder)


def load_run(path: str | os.PathLike) -> RunRecord:
    """Everything a run folder holds except the weights; raises RunError with the reason."""
    folder = Path(path).expanduser()
    info = _info(folder, _read_meta(folder))
    spec, config = load_setup(folder)
    run = RunFolder.reopen(folder)
    try:
        results, results_error = load_results(folder), ""
    except RunError as exc:
        results, results_error = None, str(exc)
    return RunRecord(info=info, spec=spec, config=config, steps=run.steps, epochs=run.epochs,
                     results=results, results_error=results_error)


def delete_run(path: str | os.PathLike) -> None:
    """Remove a run folder. Refuses folders that are not runs (so a wrong path cannot wipe other files) and
    runs a process is training (RunError saying so); a run with a damaged run.json can be deleted."""
    folder = Path(path).expanduser()
    try:
        meta: dict[str, Any] | None = _read_meta(folder)
    except DamagedRun:
        meta = None
    try:
        lock = _FolderLock.acquire(folder, wait_s=0.3)
    except OSError as exc:
        raise RunError(f"Cannot delete {folder}: {exc.strerror or exc}.") from None
    if lock is None or (fcntl is None and meta is not None and is_locked(folder)):
        raise RunError(_in_use_message(folder, meta))
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise RunError(f"Could not delete all of {folder}: {exc.strerror or exc} ({exc.filename}).") from None
    finally:
        lock.release()
