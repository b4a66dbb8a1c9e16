"""Locating and loading datasets as whole uint8 tensors on the training device (no Qt).

Why this shape: per-image PIL transforms in DataLoader workers are what make the d2l reference pipeline
slow. Fashion-MNIST is 47 MB as uint8, so it lives as one tensor on the device; `batching` draws batches
by index and resizes/normalises them as one op there.

Full sets are downloaded through torchvision where the network allows, into torchvision's folder layout,
and read from there (the IDX files here, so that data on disk loads without importing torchvision); the
bundled real Fashion-MNIST sample in `resources/` works offline. Every failure a user can cause or fix
(no network, missing or damaged files, unknown name) is a `DataError` whose message says what to do.

No tensor cache: the 70,000 uncompressed Fashion-MNIST images read in about 0.1 s and the
exact mean/std take 0.04 s (measured on 2 shared CPU cores), so a cache would only add files to manage.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import http.client
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_write, atomic_write_text
from .paths import user_dir
from .resources import ResourceError, resource_path
from .train_config import DATASET_LABELS, DATASETS

SAMPLE_PARTS = ("fashion-mnist-sample", "fashion-mnist-sample.npz")

# The same names as torchvision's FashionMNIST.classes and MNIST.classes (a test checks them); kept here so
# that loading data that is on disk does not import torchvision.
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_CLASSES = ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
                 "8 - eight", "9 - nine")

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
               "batches.meta")

_IDX_FOLDERS = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST"}  # torchvision's <root>/<ClassName>/raw
_IDX_CLASSES = {"fashion-mnist": FASHION_MNIST_CLASSES, "mnist": MNIST_CLASSES}
_ALIASES = {"fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist", "cifar-10": "cifar10"}

# What torchvision and the standard library raise when a download or an archive goes wrong. URLError,
# timeouts, SSL and permission errors are OSErrors; torchvision raises RuntimeError after all mirrors
# fail or on an md5 mismatch.
_DOWNLOAD_ERRORS = (OSError, RuntimeError, http.client.HTTPException, tarfile.TarError, EOFError, zlib.error)
# What reading a damaged file raises (a bad IDX header is a ValueError; CIFAR's pickles raise the others).
_READ_ERRORS = (OSError, RuntimeError, ValueError, TypeError, AssertionError, EOFError, KeyError, zlib.error,
                zipfile.BadZipFile)


class DataError(Exception):
    """Data that cannot be loaded; the message names the folder and files expected and says what to do."""


@dataclass(frozen=True, eq=False)
class Split:
    """One split as whole tensors: uint8 images (N, C, H, W) and int64 labels (N,), on one device."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str) -> Split:
        return Split(self.images.to(device), self.labels.to(device))


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset ready for device-side batching; mean/std are per channel, of the train split /255."""

    name: str
    classes: tuple[str, ...]
    channels: int
    native_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train: Split
    test: Split

    def to(self, device: torch.device | str) -> Dataset:
        return dataclasses.replace(self, train=self.train.to(device), test=self.test.to(device))


@dataclass(frozen=True)
class Availability:
    """Whether a dataset can be loaded without a network: the path found, or the hint for the user."""

    available: bool
    detail: str


# ---- where the data lives ---------------------------------------------------------------------------


def default_data_dir() -> Path:
    """The per-user data folder (env VGG_STUDIO_DATA overrides); not created here."""
    return user_dir("data", "VGG_STUDIO_DATA")


def _data_root(data_dir: str | os.PathLike[str] | None) -> Path:
    return Path(data_dir).expanduser() if data_dir else default_data_dir()


def _idx_missing(raw: Path) -> list[str]:
    """The IDX files found neither plain nor gzipped in `raw`."""
    return [f for f in IDX_FILES if not (raw / f).is_file() and not (raw / f"{f}.gz").is_file()]


def _cifar_present(root: Path) -> bool:
    return all((root / CIFAR_FOLDER / f).is_file() for f in CIFAR_FILES)


def _hint(name: str, root: Path) -> str:
    """Where the files go, which files, and the two ways to get them."""
    title = DATASET_LABELS[name]
    if name in _IDX_FOLDERS:
        folder = root / _IDX_FOLDERS[name] / "raw"
        files = ", ".join(f"{f}.gz" for f in IDX_FILES)
        return (f"{title} is not in {folder}. Expected the four files {files} there (gzipped or not). "
                f"Connect to the internet and load it again to download them, or copy the four files into "
                f"that folder; until then the bundled Fashion-MNIST sample works offline.")
    files = ", ".join(CIFAR_FILES)
    return (f"{title} is not in {root / CIFAR_FOLDER}. Expected {CIFAR_ARCHIVE} in {root}, or its extracted "
            f"files ({files}) in {root / CIFAR_FOLDER}. Connect to the internet and load it again to download "
            f"it, or copy the archive into {root}.")


def availability(data_dir: str | os.PathLike[str] | None = None) -> dict[str, Availability]:
    """For every name in DATASETS, whether it loads without a network; checks file presence only."""
    root = _data_root(data_dir)
    result: dict[str, Availability] = {}
    try:
        result["sample"] = Availability(True, str(resource_path(*SAMPLE_PARTS)))
    except ResourceError as error:
        result["sample"] = Availability(False, str(error))
    for name, folder in _IDX_FOLDERS.items():
        raw = root / folder / "raw"
        found = not _idx_missing(raw)
        result[name] = Availability(found, str(raw) if found else _hint(name, root))
    if _cifar_present(root):
        result["cifar10"] = Availability(True, str(root / CIFAR_FOLDER))
    elif (root / CIFAR_ARCHIVE).is_file():
        result["cifar10"] = Availability(True, str(root / CIFAR_ARCHIVE))
    else:
        result["cifar10"] = Availability(False, _hint("cifar10", root))
    return {name: result[name] for name in DATASETS}


def resolve_dataset_name(name: str, data_dir: str | os.PathLike[str] | None = None) -> str:
    """A name from DATASETS; "auto" is the full Fashion-MNIST when its files are on disk, else the sample."""
    key = str(name).strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key == "auto":
        raw = _data_root(data_dir) / _IDX_FOLDERS["fashion-mnist"] / "raw"
        return "fashion-mnist" if not _idx_missing(raw) else "sample"
    if key not in DATASETS:
        raise DataError(f"Unknown dataset {name!r}: choose one of auto, {', '.join(DATASETS)}.")
    return key


# ---- loading ------------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    device: torch.device | str = "cpu",
    download: bool = True,
) -> Dataset:
    """Load a dataset as whole tensors on `device`; raises DataError with what to do when it cannot."""
    key = resolve_dataset_name(name, data_dir)
    root = _data_root(data_dir)
    if key == "sample":
        classes, train, test = _load_sample()
    elif key in _IDX_FOLDERS:
        classes, train, test = _load_idx(key, root, download)
    else:
        classes, train, test = _load_cifar10(root, download)
    for split_name, split in (("training", train), ("test", test)):
        _check_split(key, root, split_name, split, len(classes))
    mean, std = _channel_stats(train.images)
    dataset = Dataset(
        name=key,
        classes=classes,
        channels=int(train.images.shape[1]),
        native_size=int(train.images.shape[-1]),
        mean=mean,
        std=std,
        train=train,
        test=test,
    )
    return dataset.to(device)


def _load_sample() -> tuple[tuple[str, ...], Split, Split]:
    try:
        path = resource_path(*SAMPLE_PARTS)
    except ResourceError as error:
        raise DataError(str(error)) from None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            splits = [
                Split(torch.from_numpy(arrays[f"{s}_images"]).unsqueeze(1),
                      torch.from_numpy(arrays[f"{s}_labels"].astype(np.int64)))
                for s in ("train", "test")
            ]
    except _READ_ERRORS as error:
        raise DataError(f"The bundled sample {path} cannot be read ({error}); reinstall vgg-studio.") from None
    return FASHION_MNIST_CLASSES, splits[0], splits[1]


def _load_idx(key: str, root: Path, download: bool) -> tuple[tuple[str, ...], Split, Split]:
    """Fashion-MNIST or MNIST from torchvision's folder layout, downloading through it only when files are missing."""
    folder, classes = _IDX_FOLDERS[key], _IDX_CLASSES[key]
    raw = root / folder / "raw"
    if _idx_missing(raw):
        if not download:
            raise DataError(_hint(key, root))
        from torchvision import datasets

        try:
            getattr(datasets, folder)(str(root), train=True, download=True)  # the folder is the class's name
        except _DOWNLOAD_ERRORS as error:
            raise DataError(f"Downloading {DATASET_LABELS[key]} failed ({_reason(error)}). "
                            f"{_hint(key, root)}") from None
    try:
        if _gunzip_in_place(raw):
            return (classes, *_read_idx_files(raw))
        # A read-only folder (a shared copy with only .gz files): decompress into a temporary folder.
        with tempfile.TemporaryDirectory(prefix="vgg-studio-") as tmp:
            copy = Path(tmp) / folder / "raw"
            _decompress_into(raw, copy)
            return (classes, *_read_idx_files(copy))
    except _READ_ERRORS as error:
        raise DataError(
            f"The {DATASET_LABELS[key]} files in {raw} cannot be read ({_reason(error)}). They may be damaged or "
            f"incomplete: delete them and load again to download fresh copies, or copy the four files again."
        ) from None


def _read_idx_files(raw: Path) -> tuple[Split, Split]:
    """The four IDX files in `raw` as training and test splits, as torchvision's MNIST reads them."""
    return tuple(Split(_read_idx(raw / f"{prefix}-images-idx3-ubyte", 3).unsqueeze(1),
                       _read_idx(raw / f"{prefix}-labels-idx1-ubyte", 1).to(torch.int64))
                 for prefix in ("train", "t10k"))


def _read_idx(path: Path, dims: int) -> torch.Tensor:
    """An IDX file of unsigned bytes (a big-endian header: 0, 0, 8, dims, each dimension; then the values).

    Read here rather than through torchvision's dataset class: importing torchvision (its models and ops
    come with it) takes 1.5 s of a 2-core CPU, about as long as a whole epoch of the tiny net on the sample.
    """
    data = path.read_bytes()
    header = 4 + 4 * dims
    if len(data) < header or data[:4] != bytes((0, 0, 8, dims)):
        raise ValueError(f"{path.name} does not start as an IDX file of {dims}-D unsigned bytes")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    values = np.frombuffer(data, dtype=np.uint8, offset=header)
    if values.size != int(np.prod(shape)):
        raise ValueError(f"{path.name} holds {values.size} values where its header promises {shape}")
    return torch.from_numpy(values.reshape(shape).copy())


def _stamp(raw: Path, name: str) -> Path:
    """Beside a decompressed file: the size and mtime of the .gz it was made from."""
    return raw / f".{name}.from-gz"


def _gz_signature(gz: Path) -> str:
    """Size, modification and change time: any copy or rewrite of the .gz changes at least the last."""
    info = gz.stat()
    return f"{info.st_size} {info.st_mtime_ns} {info.st_ctime_ns}\n"


def _needs_gunzip(raw: Path, name: str) -> bool:
    """The decompressed file is missing, or was not made from the .gz beside it as that is now (a good .gz
    copied over a damaged one, or files downloaded afresh); a plain file without a .gz is used as it is."""
    plain, gz = raw / name, raw / f"{name}.gz"
    if not plain.is_file():
        return True
    if not gz.is_file():
        return False
    try:
        return _stamp(raw, name).read_text(encoding="ascii") != _gz_signature(gz)
    except (OSError, UnicodeDecodeError):
        return True


def _gunzip_in_place(raw: Path) -> bool:
    """Write the uncompressed IDX files torchvision looks for beside their .gz; False if the folder is read-only.

    A folder whose mode says read-only is left alone even where we could write (as root), so a shared
    copy of the data is never modified.
    """
    stale = [name for name in IDX_FILES if _needs_gunzip(raw, name)]
    if not stale:
        return True
    if not (os.access(raw, os.W_OK) and raw.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)):
        return False
    for name in stale:
        try:
            _gunzip(raw / f"{name}.gz", raw / name)
            atomic_write_text(_stamp(raw, name), _gz_signature(raw / f"{name}.gz"))
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                return False
            raise
    return True


def _decompress_into(raw: Path, target_dir: Path) -> None:
    """Fresh decompressed copies in `target_dir`, from the .gz files where there are any."""
    target_dir.mkdir(parents=True)
    for name in IDX_FILES:
        if (raw / f"{name}.gz").is_file():
            _gunzip(raw / f"{name}.gz", target_dir / name)
        else:
            shutil.copyfile(raw / name, target_dir / name)


def _gunzip(source: Path, target: Path) -> None:
    """Decompress atomically, so a crash never leaves half a file that looks complete."""
    def write(out) -> None:
        with gzip.open(source, "rb") as src:
            shutil.copyfileobj(src, out, length=1 << 20)

    atomic_write(target, write)


def _load_cifar10(root: Path, download: bool) -> tuple[tuple[str, ...], Split, Split]:
    from torchvision import datasets
    from torchvision.datasets.utils import extract_archive

    archive = root / CIFAR_ARCHIVE
    if not _cifar_present(root) and archive.is_file():
        try:
            extract_archive(str(archive), str(root))
        except _DOWNLOAD_ERRORS as error:
            raise DataError(
                f"Extracting {archive} failed ({_reason(error)}). The archive may be incomplete: delete it and "
                f"load again to download it afresh, or copy a complete {CIFAR_ARCHIVE} into {root}."
            ) from None
    if not _cifar_present(root):
        if not download:
            raise DataError(_hint("cifar10", root))
        try:
            datasets.CIFAR10(str(root), train=True, download=True)
        except _DOWNLOAD_ERRORS as error:
            raise DataError(f"Downloading CIFAR-10 failed ({_reason(error)}). {_hint('cifar10', root)}") from None
    try:
        splits, classes = [], ()
        for train in (True, False):
            ds = datasets.CIFAR10(str(root), train=train, download=False)
            images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # HWC -> CHW
            splits.append(Split(images, torch.tensor(ds.targets, dtype=torch.int64)))
            classes = tuple(ds.classes)
    except _READ_ERRORS as error:
        raise DataError(
            f"The CIFAR-10 files in {root / CIFAR_FOLDER} cannot be read ({_reason(error)}). They may be "
            f"damaged: delete that folder and {CIFAR_ARCHIVE}, then load again to download fresh copies."
        ) from None
    return classes, splits[0], splits[1]


def _check_split(key: str, root: Path, split_name: str, split: Split, num_classes: int) -> None:
    """Images and labels that belong together: as many of each, every label a class (else training is wrong)."""
    images, labels = int(split.images.shape[0]), int(split.labels.shape[0])
    if images and labels and images == labels and 0 <= int(split.labels.min()) <= int(split.labels.max()) < num_classes:
        return
    if images != labels:
        problem = f"its {split_name} split has {images:,} images but {labels:,} labels"
    elif not images:
        problem = f"its {split_name} split is empty"
    else:
        problem = f"its {split_name} labels are not all between 0 and {num_classes - 1}"
    if key == "sample":
        fix = "reinstall vgg-studio"
    elif key == "cifar10":
        fix = f"delete {root / CIFAR_FOLDER} and {CIFAR_ARCHIVE}, then load again to get fresh copies"
    else:
        fix = (f"copy all four files into {root / _IDX_FOLDERS[key] / 'raw'} again, or delete them and load "
               f"again to download fresh copies")
    raise DataError(f"{DATASET_LABELS[key]} cannot be used: {problem}, so the files do not belong together or "
                    f"one is damaged; {fix}.")


def _reason(error: BaseException, limit: int = 300) -> str:
    """The error's own words on one line (torchvision's download errors span several), shortened."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean/std (/255, population) from a 256-bin histogram: no float copy of the data."""
    levels = torch.arange(256, dtype=torch.float64)
    means, stds = [], []
    for c in range(images.shape[1]):
        counts = torch.bincount(images[:, c].reshape(-1), minlength=256).to(torch.float64)
        n = counts.sum()
        mean = (counts * levels).sum() / n
        var = (counts * (levels - mean) ** 2).sum() / n
        means.append(float(mean) / 255.0)
        stds.append(float(var.sqrt()) / 255.0)
    return tuple(means), tuple(stds)
