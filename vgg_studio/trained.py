"""A network ready to leave the app: its architecture, its weights, and how its inputs were prepared (no Qt).

Export and predict both need the same three things from a run folder — the spec, the trained state_dict
and the run's preprocessing (input size, per-channel mean/std, class names) — so they are read here once.
A bare architecture (a preset or a file) is a `TrainedNet` too, with fresh Xavier weights and no
preprocessing, so the exporters treat both alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .batching import prepare_batch
from .data import DataError, load_dataset
from .model import build_initialized, build_model
from .runs import RunError, RunFolder, load_run
from .spec import ArchSpec, SpecError, check

WEIGHT_FILES = ("final.pt", "checkpoint.pt")  # in the order they are preferred


@dataclass(frozen=True, eq=False)
class TrainedNet:
    """An architecture with weights; `classes`/`mean`/`std` are set only for a trained run."""

    spec: ArchSpec
    state_dict: dict[str, torch.Tensor] | None  # contiguous CPU tensors; None: fresh seeded Xavier init
    source: str  # "run DIR", "preset tiny", "arch FILE": said in exported files and messages
    name: str  # a short name for files (the run folder's or the architecture's)
    classes: tuple[str, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    run_dir: Path | None = None
    summary: str = ""  # e.g. "sample, 1 epoch, test accuracy 0.712"
    seed: int = 0  # of the Xavier init when there are no trained weights

    @property
    def trained(self) -> bool:
        return self.run_dir is not None

    def model(self) -> nn.Module:
        """A fresh module in eval mode holding these weights (built by the one model builder)."""
        if self.state_dict is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                return build_initialized(self.spec).eval()
        net = build_model(self.spec)
        net.load_state_dict(self.state_dict)
        return net.eval()

    def weights(self) -> dict[str, torch.Tensor]:
        """The state_dict as contiguous CPU tensors (built on demand for an untrained network)."""
        return self.state_dict if self.state_dict is not None else _plain(self.model().state_dict())

    def preprocess(self, images_u8: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) with the run's channels -> the float input the network was trained on."""
        if self.mean is None or self.std is None:
            raise RunError(f"{self.source} is not a trained run: it has no normalisation to apply.")
        return prepare_batch(images_u8, self.spec.input_size, self.mean, self.std)


def from_spec(spec: ArchSpec, source: str, seed: int = 0) -> TrainedNet:
    """An untrained network: Xavier init as in d2l, seeded so two exports of one spec are identical.

    The weights are made only when an exporter asks for them (the Python export never does).
    """
    check(spec)
    return TrainedNet(spec=spec, state_dict=None, source=source, name=spec.name, seed=seed)


def load_weights(run_dir: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """final.pt, or the last checkpoint's model for a run still going; RunError when there is neither."""
    folder = Path(run_dir).expanduser()
    for name in WEIGHT_FILES:
        path = folder / name
        if not path.exists():
            continue
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch.load raises many unrelated types for a damaged file
            raise RunError(f"Cannot read the weights in {path}: {exc}") from None
        state = obj.get("model") if name == "checkpoint.pt" and isinstance(obj, dict) else obj
        if isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values()):
            return _plain(state)
        raise RunError(f"{path} does not hold a state_dict.")
    raise RunError(f"{folder} has no trained weights yet (neither final.pt nor checkpoint.pt): let the run "
                   f"finish at least one epoch.")


def from_run(run_dir: str | os.PathLike[str]) -> TrainedNet:
    """The run's architecture, its last weights and its preprocessing; RunError with the reason otherwise."""
    record = load_run(run_dir)
    folder = record.info.path
    try:
        check(record.spec)
    except SpecError as exc:
        raise RunError(f"The architecture of {folder} is not valid: {exc}") from None
    state = load_weights(folder)
    expected = build_model(record.spec).state_dict()
    if {k: tuple(v.shape) for k, v in state.items()} != {k: tuple(v.shape) for k, v in expected.items()}:
        raise RunError(f"The weights in {folder} do not fit its arch.json (different layers or shapes).")
    meta = RunFolder.reopen(folder).meta
    mean, std, classes = meta.get("mean"), meta.get("std"), meta.get("classes")
    if mean is None or std is None or classes is None:  # runs recorded before these were kept in run.json
        mean, std, classes = _stats_from_dataset(record.config.dataset, record.config.data_dir, folder)
        if record.results is not None:
            classes = record.results.classes
    classes, mean, std = tuple(str(c) for c in classes), tuple(map(float, mean)), tuple(map(float, std))
    spec = record.spec
    if len(classes) != spec.num_classes or len(mean) != spec.in_channels or len(std) != spec.in_channels:
        raise RunError(f"{folder}: run.json's classes or mean/std do not match the architecture "
                       f"({spec.num_classes} classes, {spec.in_channels} channels).")
    last = record.epochs[-1] if record.epochs else None
    done = record.info.epochs_done
    summary = f"{record.info.dataset or record.config.dataset}, {done} epoch{'s' if done != 1 else ''}"
    if last is not None:
        summary += f", test accuracy {last['test_acc']:.3f}"
    return TrainedNet(spec=spec, state_dict=state, source=f"run folder {folder}", name=folder.name, classes=classes,
                      mean=mean, std=std, run_dir=folder, summary=summary)


def _stats_from_dataset(dataset: str, data_dir: str | None, folder: Path):
    try:
        d = load_dataset(dataset, data_dir, download=False)
    except DataError as exc:
        raise RunError(f"{folder} does not record its normalisation (an older run) and its data set cannot be "
                       f"read to recompute it: {exc}") from None
    return d.mean, d.std, d.classes


def _plain(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU tensors: safetensors and exporters want them so (training uses channels_last)."""
    return {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
