"""What a training run reads: the dataset (built-in or an image folder) and its batch sources (no Qt).

The engine calls `open_training_data` once and then only sees a `Dataset` (classes, mean/std, sizes) and
two `BatchSource`s, resident or streaming, whichever fits the device (`batch_sources.choose_mode`).
`notes` are sentences for the user: what was read or skipped, and which mode was chosen and why.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .batch_sources import BatchSource, make_sources
from .data import Dataset, default_data_dir, load_dataset, resolve_dataset_name
from .events import DataProgress
from .image_folder import load_image_folder
from .train_config import TrainConfig, dataset_folder, folder_dataset


@dataclass(frozen=True, eq=False)
class TrainingData:
    dataset: Dataset  # splits on the CPU (memory-mapped for an image folder); the sources hold the batches
    train: BatchSource
    test: BatchSource
    notes: tuple[str, ...]


def resolve_name(config: TrainConfig) -> str:
    """The dataset name a run records: a built-in name ("auto" resolved) or folder:<absolute path>."""
    folder = dataset_folder(config.dataset)
    return folder_dataset(folder) if folder is not None else resolve_dataset_name(config.dataset, config.data_dir)


def open_training_data(config: TrainConfig, channels: int, input_size: int, device: torch.device,
                       on_progress: Callable[[DataProgress], None] | None = None,
                       cancel: threading.Event | None = None) -> TrainingData:
    """Load `config.dataset` and make its sources on `device`; raises DataError (or DecodeCancelled)."""
    folder = dataset_folder(config.dataset)
    if folder is None:
        dataset = load_dataset(resolve_name(config), config.data_dir, "cpu")
        notes: tuple[str, ...] = ()
    else:
        images = load_image_folder(folder, config.data_dir or default_data_dir(), channels,
                                   config.cache_size or input_size, config.test_fraction, on_progress, cancel)
        dataset, notes = images.as_dataset(), images.notes
    train, test, why = make_sources(dataset, device, config.data_mode, memory_mapped=folder is not None)
    return TrainingData(dataset, train, test, (*notes, why))
