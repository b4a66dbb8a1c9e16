"""Training hyper-parameters as immutable data, with validation and JSON round-trip (no torch, no Qt).

Defaults are d2l's `train_ch6` recipe for the VGG chapter: SGD, lr 0.05, batch 128, 10 epochs.
The input size is not here: it is the architecture's `input_size`, and the data is resized to it.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The word lists of the training settings: one home for the names the CLI accepts and the labels the GUI shows.
DATASETS = ("sample", "fashion-mnist", "mnist", "cifar10")  # what `data.load_dataset` loads
DATASET_CHOICES = ("auto", *DATASETS)
DATASET_LABELS = {"auto": "Auto (Fashion-MNIST or sample)", "sample": "Bundled sample",
                  "fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "cifar10": "CIFAR-10"}
OPTIMIZERS = ("sgd", "adam", "adamw")
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3}  # d2l's 0.05 is for SGD; Adam wants ~1e-3
# Optimizer state per parameter, in copies of the parameter tensor, for the summary's memory estimate; SGD keeps
# one (the momentum buffer) only when its momentum is above 0, hence the extra "sgd-momentum" kind.
OPTIMIZER_STATE_COPIES = {"sgd": 0, "sgd-momentum": 1, "adam": 2, "adamw": 2}
OPTIMIZER_LABELS = {"sgd": "SGD", "sgd-momentum": "SGD + momentum", "adam": "Adam", "adamw": "AdamW"}
SCHEDULES = ("constant", "cosine", "onecycle")
SCHEDULE_LABELS = {"constant": "Constant", "cosine": "Cosine", "onecycle": "One-cycle"}
DEVICES = ("auto", "cpu", "cuda", "mps")
RECIPES = ("d2l", "fast")  # named presets of the settings below (values in `recipes.py`); d2l is the default
RECIPE_LABELS = {"d2l": "d2l (train_ch6)", "fast": "fast (airbench-style)"}  # short: the panel's combo is narrow
FOLDER_PREFIX = "folder:"  # dataset "folder:PATH": your own images, one subfolder per class (image_folder.py)
DATA_MODES = ("auto", "resident", "stream")  # auto: resident when the images fit comfortably (batch_sources.py)


def dataset_folder(dataset: str) -> Path | None:
    """The folder of a "folder:PATH" dataset name (~ expanded), None for a built-in name."""
    if not isinstance(dataset, str) or not dataset.startswith(FOLDER_PREFIX):
        return None
    return Path(dataset[len(FOLDER_PREFIX):].strip()).expanduser()


def folder_dataset(path: str | os.PathLike[str]) -> str:
    """The dataset name of an image folder, with its absolute path (so a resume reads the same files)."""
    return FOLDER_PREFIX + str(Path(path).expanduser().absolute())


# What a resume may change: how far to train and where/how fast it runs. Everything else defines the run, so
# config.json (one set of settings for every epoch) could not say what the earlier epochs used.
RESUME_MAY_CHANGE = ("epochs", "device", "data_dir", "amp", "channels_last", "cudnn_benchmark", "points_per_epoch",
                     "data_mode", "compile")


class ConfigError(ValueError):
    """A hyper-parameter that cannot be used; the message is for the user."""


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "auto"  # "auto": the full Fashion-MNIST if on disk, else the bundled sample
    data_dir: str | None = None  # None: the per-user data folder
    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.05
    optimizer: str = "sgd"
    momentum: float = 0.0
    nesterov: bool = False  # Nesterov momentum (SGD with momentum only)
    weight_decay: float = 0.0
    bias_decay: bool = True  # weight decay on biases too (torch's default); False: weights only
    schedule: str = "constant"
    label_smoothing: float = 0.0
    flip: bool = False  # augmentation, drawn on the device per image: random left-right flips
    shift: int = 0  # ... and random shifts of up to this many pixels each way (zero fill)
    compile: bool = False  # torch.compile the training and evaluation steps
    device: str = "auto"
    seed: int = 0
    amp: bool = True  # bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16/AMX); else float32
    channels_last: bool = True  # on CUDA and CPU (oneDNN prefers it)
    cudnn_benchmark: bool = True  # on CUDA
    points_per_epoch: int = 5  # BatchProgress events per epoch
    # Image folders ("folder:PATH" datasets) only:
    test_fraction: float = 0.1  # held out per class for testing when the folder has no test/ part
    cache_size: int = 0  # side of the cached images in pixels; 0: the architecture's input size
    data_mode: str = "auto"  # on the device (resident), streamed from host memory (stream), or whichever fits
    # Warm start: a finished run's folder; its weights fill every layer that still fits (see warm_start.py).
    init_from: str | None = None

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"Unknown training setting {sorted(unknown)[0]!r}.")
        return cls(**data)

    @classmethod
    def from_json_file(cls, path: str) -> TrainConfig:
        """Settings saved as JSON (a run's config.json); ConfigError says what is wrong with the file."""
        import json

        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ConfigError(f"Cannot read the training settings in {path}: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path} does not hold training settings (a JSON object such as a run's config.json).")
        try:
            return cls.from_dict(data)
        except TypeError as exc:
            raise ConfigError(f"{path}: {exc}") from None


def optimizer_state_key(config: TrainConfig) -> str:
    """The key of OPTIMIZER_STATE_COPIES for how `config` trains (SGD keeps a buffer only with momentum)."""
    if config.optimizer == "sgd":
        return "sgd-momentum" if config.momentum else "sgd"
    return config.optimizer


def validate_config(config: TrainConfig) -> list[str]:
    """Every problem, as sentences naming the setting; empty when the config is usable."""
    problems = []

    def whole(value: Any, name: str, lo: int, hi: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            problems.append(f"{name} must be a whole number between {lo:,} and {hi:,} (got {value!r}).")

    def number(value: Any, name: str, lo: float, hi: float, lo_open: bool = False) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not (lo < value if lo_open else lo <= value) or not value <= hi:
            bound = f"{'above' if lo_open else 'at least'} {lo:g} and at most {hi:g}"
            problems.append(f"{name} must be a number {bound} (got {value!r}).")

    def choice(value: Any, name: str, options: tuple[str, ...]) -> None:
        if value not in options:
            problems.append(f"{name} must be one of {', '.join(options)} (got {value!r}).")

    if dataset_folder(config.dataset) is None:
        choice(config.dataset, "Dataset", (*DATASET_CHOICES, "folder:PATH"))
    elif not config.dataset[len(FOLDER_PREFIX):].strip():
        problems.append("Dataset folder: needs a path, e.g. folder:~/pictures/leaves (a folder with one subfolder "
                        "of images per class).")
    choice(config.data_mode, "Data mode", DATA_MODES)
    choice(config.optimizer, "Optimizer", OPTIMIZERS)
    choice(config.schedule, "Learning-rate schedule", SCHEDULES)
    choice(config.device, "Device", DEVICES)
    whole(config.epochs, "Epochs", 1, 10_000)
    whole(config.batch_size, "Batch size", 1, 65_536)
    whole(config.seed, "Seed", 0, 2**63 - 1)
    whole(config.points_per_epoch, "Points per epoch", 1, 1000)
    number(config.lr, "Learning rate", 0, 1e4, lo_open=True)
    number(config.momentum, "Momentum", 0, 0.999999)
    number(config.weight_decay, "Weight decay", 0, 1)
    number(config.label_smoothing, "Label smoothing", 0, 0.999)
    whole(config.shift, "Shift", 0, 64)
    for value, name in ((config.nesterov, "Nesterov"), (config.bias_decay, "Bias decay"), (config.flip, "Flip"),
                        (config.compile, "Compile")):
        if not isinstance(value, bool):
            problems.append(f"{name} must be true or false (got {value!r}).")
    if config.nesterov is True and (config.optimizer != "sgd" or not config.momentum):
        problems.append("Nesterov momentum needs the sgd optimizer with a momentum above 0 "
                        f"(got {config.optimizer}, momentum {config.momentum!r}).")
    number(config.test_fraction, "Test fraction", 0.01, 0.9)
    if config.cache_size != 0:
        whole(config.cache_size, "Cache size", 8, 4096)
    return problems


def resume_changes(saved: TrainConfig, wanted: TrainConfig) -> list[str]:
    """The settings `wanted` changes that a resume may not, as 'lr 0.05 → 0.001'; empty when it may go on."""
    return [f"{f.name} {getattr(saved, f.name)} → {getattr(wanted, f.name)}" for f in dataclasses.fields(TrainConfig)
            if f.name not in RESUME_MAY_CHANGE and getattr(saved, f.name) != getattr(wanted, f.name)]
