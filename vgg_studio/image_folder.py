"""Your own images as a dataset: a folder of class subfolders, decoded once into a uint8 cache file (no Qt).

Layouts (torchvision's `ImageFolder` convention): `PATH/<class>/...` with a fixed stratified hold-out for
testing, or `PATH/train/<class>/...` plus `PATH/test/<class>/...`. Class names are the folder names.

Why a cache: decoding JPEG/PNG is the slow part of the classic pipeline (per-image PIL work in loader
processes, every epoch). Here each image is decoded with Pillow once, converted to the architecture's
channels (grey or RGB), fitted to `size` x `size` (shorter side resized, centre cropped) and written as
raw uint8 rows to one file in the data folder. Training then reads that file: wholly (resident) or by
memory mapping (streaming, `streaming.py`). The cache is keyed by the folder's content (relative names,
sizes, modification times), the channels, the size and the hold-out; a changed folder re-reads only the
files that changed (the rest are copied row by row from the old cache), an unchanged one loads at once.

Files that Pillow cannot read (not an image, truncated, too large) are skipped, counted and listed in
`skipped.log` in the cache folder, never a crash. Decoding reports progress and stops on request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import threading
import time
import struct
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_write
from .data import DataError, Dataset, Split
from .events import DataProgress
from .train_config import TrainConfig, folder_dataset

CACHE_VERSION = 1
HOLDOUT_SALT = "vgg-studio-holdout-0"  # the fixed seed of the hold-out: same split for every training seed
# torchvision's `IMG_EXTENSIONS` (a test checks they agree), kept here so scanning does not import torchvision.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
PROGRESS_INTERVAL_S = 0.25
# What Pillow raises on files it cannot decode: not an image (UnidentifiedImageError is an OSError),
# truncated or damaged data (OSError, SyntaxError for broken PNG chunks, EOFError, zlib/struct errors),
# absurd headers (ValueError), and out of memory on a huge one. Decompression bombs are added where used.
_BAD_IMAGE_ERRORS: tuple[type[BaseException], ...] = (OSError, SyntaxError, EOFError, ValueError, zlib.error,
                                                      MemoryError)  # fmt: skip


class DecodeCancelled(Exception):
    """A stop was requested while the folder was being decoded; no cache was written."""


# ---- scanning -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderScan:
    """What is in an image folder: every image file, its class, and whether it is a test image."""

    root: Path
    layout: str  # "classes" (PATH/<class>/...) or "train/test" (PATH/train/<class>/..., PATH/test/<class>/...)
    classes: tuple[str, ...]
    files: tuple[str, ...]  # POSIX paths relative to root, sorted by class then path
    labels: np.ndarray  # int64 (N,), index into classes
    sizes: np.ndarray  # int64 (N,) bytes
    mtimes: np.ndarray  # int64 (N,) st_mtime_ns
    test: np.ndarray  # bool (N,): in test/ (train/test layout); all False for the classes layout
    not_images: int  # files skipped by name (no image suffix)
    empty_classes: tuple[str, ...]  # class folders without a single image (left out)

    def __len__(self) -> int:
        return len(self.files)


def _walk_images(folder: Path, root: Path) -> tuple[list[tuple[str, int, int]], int]:
    """(relative path, size, mtime_ns) of every image below `folder`, hidden entries skipped; and the non-images."""
    found: list[tuple[str, int, int]] = []
    others = 0
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as error:
            raise DataError(f"Cannot list {current} ({error.strerror or error}); check its permissions.") from None
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                stack.append(Path(entry.path))
            elif entry.is_file():
                if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
                    st = entry.stat()
                    found.append((Path(entry.path).relative_to(root).as_posix(), st.st_size, st.st_mtime_ns))
                else:
                    others += 1
    return found, others


def _class_dirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def _suffix_list() -> str:
    return ", ".join(IMAGE_SUFFIXES)


def scan_folder(path: str | os.PathLike[str]) -> FolderScan:
    """List the images of a class-folder dataset; raises DataError with what to do for an unusable folder."""
    root = Path(path).expanduser()
    example = f"{root}{os.sep}<class>{os.sep}image.png"
    if not root.exists():
        raise DataError(f"The image folder {root} does not exist. Give a folder with one subfolder per class "
                        f"({example}).")
    if not root.is_dir():
        raise DataError(f"{root} is a file, not a folder. Give the folder that holds one subfolder per class "
                        f"({example}), e.g. {root.parent}.")
    try:
        top = _class_dirs(root)
    except OSError as error:
        raise DataError(f"Cannot list {root} ({error.strerror or error}); check its permissions.") from None
    names = {p.name for p in top}
    layout = "train/test" if {"train", "test"} <= names else "classes"
    parts = [("train", root / "train"), ("test", root / "test")] if layout == "train/test" else [("", root)]

    per_class: dict[str, list[tuple[str, int, int, bool]]] = {}
    not_images, empty = 0, set()
    for part, base in parts:
        for class_dir in _class_dirs(base):
            images, others = _walk_images(class_dir, root)
            not_images += others
            if images:
                per_class.setdefault(class_dir.name, []).extend((*f, part == "test") for f in images)
            else:
                empty.add(class_dir.name)
    if layout == "train/test":
        train_classes = {c for c, items in per_class.items() if any(not t for *_, t in items)}
        test_only = sorted(set(per_class) - train_classes)
        if test_only:
            raise DataError(f"{root / 'test'} has classes that {root / 'train'} lacks ({', '.join(test_only)}): "
                            f"every test class needs training images under the same folder name.")
        if not any(t for items in per_class.values() for *_, t in items):
            raise DataError(f"{root / 'test'} has no images in class subfolders; put test images in "
                            f"{root / 'test'}{os.sep}<class>{os.sep}, or remove test/ and train/ to use a hold-out.")
    classes = tuple(sorted(per_class))
    if not classes:
        loose = _walk_images(root, root)[0] if not top else []
        if loose:
            raise DataError(f"{root} holds images but no class subfolders. Put each class's images in a "
                            f"subfolder named after the class ({example}).")
        where = "its class subfolders" if top else "it"
        raise DataError(f"The image folder {root} is empty: no images in {where} (looked for {_suffix_list()}). "
                        f"Give a folder with one subfolder of images per class ({example}).")
    if len(classes) == 1:
        only = classes[0]
        nested = (root / only).is_dir() and any(p.is_dir() for p in (root / only).iterdir())
        hint = (f" Its images sit in subfolders of {only}{os.sep}: if those are the classes, give "
                f"{root / only} instead.") if nested else ""
        raise DataError(f"{root} has only one class ({only}); a classifier needs at least two class subfolders "
                        f"with images.{hint}")

    rows = [(label, *item) for label, name in enumerate(classes) for item in sorted(per_class[name])]
    return FolderScan(
        root=root,
        layout=layout,
        classes=classes,
        files=tuple(r[1] for r in rows),
        labels=np.array([r[0] for r in rows], dtype=np.int64),
        sizes=np.array([r[2] for r in rows], dtype=np.int64),
        mtimes=np.array([r[3] for r in rows], dtype=np.int64),
        test=np.array([r[4] for r in rows], dtype=bool),
        not_images=not_images,
        empty_classes=tuple(sorted(empty - set(classes))),
    )


def holdout(scan: FolderScan, fraction: float) -> np.ndarray:
    """Which images are for testing: test/ in the train/test layout, else a fixed stratified hold-out.

    Each class gives round(fraction * n) images (at least 1 when it has 2 or more, never all), chosen by a
    salted hash of the file name: the same files for every training seed and on every machine, and adding
    a file to a class moves at most one other between train and test.
    """
    if scan.layout == "train/test":
        return scan.test.copy()
    test = np.zeros(len(scan), dtype=bool)
    ranks = np.array([hashlib.blake2b(f"{HOLDOUT_SALT}/{f}".encode(), digest_size=8).hexdigest()
                      for f in scan.files])  # fmt: skip
    for label in range(len(scan.classes)):
        members = np.flatnonzero(scan.labels == label)
        n = len(members)
        k = min(max(round(fraction * n), 1 if n >= 2 and fraction > 0 else 0), n - 1)
        test[members[np.argsort(ranks[members], kind="stable")[:k]]] = True
    return test


def content_key(scan: FolderScan, channels: int, size: int, test: np.ndarray) -> str:
    """What the cache depends on: every file's name, size and mtime, its split, the channels and the size."""
    h = hashlib.sha256(f"v{CACHE_VERSION} c{channels} s{size} {scan.layout} {scan.classes!r}\n".encode())
    for name, label, nbytes, mtime, is_test in zip(scan.files, scan.labels, scan.sizes, scan.mtimes, test):
        h.update(f"{name}\0{label}\0{nbytes}\0{mtime}\0{int(is_test)}\n".encode())
    return h.hexdigest()


# ---- decoding -----------------------------------------------------------------------------------------


def decode_image(path: str | os.PathLike[str], channels: int, size: int) -> np.ndarray:
    """One image file as uint8 (channels, size, size): grey or RGB, shorter side resized, centre cropped.

    Transparent pixels are put on white (a sketch on a transparent background stays dark on light), EXIF
    rotation is applied, 16-bit and float grey are scaled to 8 bits, and JPEGs are decoded at a reduced
    scale when that still covers `size`. Raises what Pillow raises for a file it cannot read.
    """
    from PIL import Image, ImageOps

    mode = "L" if channels == 1 else "RGB"
    with Image.open(path) as opened:
        opened.draft(mode, (size, size))  # JPEG only: decode at 1/2, 1/4 or 1/8 scale if still >= size
        im = ImageOps.exif_transpose(opened)
    if im.mode in ("P", "PA") or "A" in im.getbands() or "transparency" in im.info:
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    elif im.mode.startswith("I") or im.mode == "F":
        values = np.asarray(im, dtype=np.float64)
        top = 65535.0 if values.max() > 255 else 1.0 if im.mode == "F" and values.max() <= 1 else 255.0
        im = Image.fromarray(np.clip(values * (255.0 / top) + 0.5, 0, 255).astype(np.uint8), "L")
    im = im.convert(mode)
    w, h = im.size
    side = min(w, h)
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)  # the centred square
    im = im.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=3.0)  # antialiased
    arr = np.asarray(im, dtype=np.uint8)
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _read_one(path: Path, channels: int, size: int) -> np.ndarray | str:
    """The decoded image, or why it cannot be used."""
    from PIL import Image

    try:
        return decode_image(path, channels, size)
    except (*_BAD_IMAGE_ERRORS, Image.DecompressionBombError, struct.error) as error:
        return _reason(error)


def _decode_workers() -> int:
    # Pillow releases the GIL while decoding and resizing, so threads decode in parallel.
    return max(1, min(8, os.cpu_count() or 1))


# ---- the cache ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderData:
    """An image folder as cached uint8 rows: the train rows first, then the test rows."""

    root: Path
    cache_dir: Path
    classes: tuple[str, ...]
    images: torch.Tensor  # uint8 (N, C, S, S), memory-mapped from the cache file (copy-on-write, CPU)
    labels: torch.Tensor  # int64 (N,)
    files: tuple[str, ...]  # relative path of each row
    num_train: int
    mean: tuple[float, ...]  # per channel, of the train rows, /255
    std: tuple[float, ...]
    skipped: tuple[tuple[str, str], ...]  # (relative path, reason) of the files that could not be read
    decoded: int  # files decoded this time (0: everything came from the cache)
    decode_s: float
    notes: tuple[str, ...]  # sentences for the user about what was read and skipped

    @property
    def log_path(self) -> Path:
        return self.cache_dir / "skipped.log"

    def as_dataset(self) -> Dataset:
        """The rows as a Dataset on the CPU, each split a slice of the memory-mapped file (no copy)."""
        n = self.num_train
        return Dataset(name=folder_dataset(self.root), classes=self.classes, channels=int(self.images.shape[1]),
                       native_size=int(self.images.shape[-1]), mean=self.mean, std=self.std,
                       train=Split(self.images[:n], self.labels[:n]), test=Split(self.images[n:], self.labels[n:]))


def cache_dir_for(root: Path, data_dir: Path, channels: int, size: int) -> Path:
    """One cache per folder, channels and size: `<data>/image-folders/<name>-<hash of path>/<C>ch-<S>px`."""
    absolute = str(root.expanduser().resolve())
    tag = hashlib.sha256(absolute.encode()).hexdigest()[:12]
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in root.resolve().name)[:40] or "folder"
    return data_dir / "image-folders" / f"{safe}-{tag}" / f"{channels}ch-{size}px"


def _read_meta(cache: Path) -> dict | None:
    try:
        meta = json.loads((cache / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("version") == CACHE_VERSION else None


def _open_rows(cache: Path, meta: dict) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    """The cached images (memory-mapped) and index arrays, or None if the files are missing or damaged."""
    try:
        n, c, s = int(meta["rows"]), int(meta["channels"]), int(meta["size"])
        path = cache / meta["images"]
        if path.stat().st_size != n * c * s * s:
            return None
        with np.load(cache / meta["index"], allow_pickle=False) as z:
            index = {k: z[k] for k in z.files}
        if len(index["labels"]) != n:
            return None
        images = np.memmap(path, dtype=np.uint8, mode="c", shape=(n, c, s, s)) if n else np.zeros((0, c, s, s),
                                                                                                   np.uint8)
        return images, index
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _stats(sums: np.ndarray, pixels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean/std (/255, population) from per-image sums and sums of squares."""
    total = sums.sum(axis=0, dtype=np.float64)  # (C, 2); exact: each per-image sum is a small integer
    count = max(pixels * len(sums), 1)
    mean = total[:, 0] / count
    var = np.maximum(total[:, 1] / count - mean**2, 0.0)
    return tuple(float(m) / 255 for m in mean), tuple(float(v) for v in np.sqrt(var) / 255)


def load_image_folder(
    path: str | os.PathLike[str],
    data_dir: str | os.PathLike[str],
    channels: int,
    size: int,
    test_fraction: float = TrainConfig.test_fraction,
    on_progress: Callable[[DataProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> FolderData:
    """The folder's images from its cache, decoding (with progress) what is new or changed first.

    Raises DataError for an unusable folder or an unwritable data folder, DecodeCancelled on request.
    """
    if channels not in (1, 3):
        raise DataError(f"Image folders are read as grey (1 channel) or RGB (3 channels), not {channels}; set "
                        f"the architecture's input channels to 1 or 3.")
    if not 0 < test_fraction < 1:
        raise DataError(f"The test fraction must be between 0 and 1 (got {test_fraction!r}).")
    scan = scan_folder(path)
    test = holdout(scan, test_fraction)
    if scan.layout == "classes" and not test.any():
        raise DataError(f"{scan.root} has too few images for a test split at {test_fraction:g} (each class needs "
                        f"2 or more images); add images or raise --test-fraction.")
    # Train rows first, then test rows: each split is then one slice of the memory-mapped file.
    order = np.concatenate([np.flatnonzero(~test), np.flatnonzero(test)])
    key = content_key(scan, channels, size, test)
    cache = cache_dir_for(scan.root, Path(data_dir).expanduser(), channels, size)
    meta = _read_meta(cache)
    opened = _open_rows(cache, meta) if meta is not None else None
    decoded, seconds = 0, 0.0
    if meta is None or opened is None or meta.get("key") != key:
        t0 = time.perf_counter()
        decoded = _build_cache(scan, order, test, channels, size, key, cache, meta if opened else None, opened,
                               on_progress, cancel)
        seconds = time.perf_counter() - t0
        meta = _read_meta(cache)
        opened = _open_rows(cache, meta) if meta is not None else None
        if meta is None or opened is None:
            raise DataError(f"The image cache in {cache} could not be read back after writing it; check the "
                            f"free space and permissions of the data folder.")
    images, index = opened
    n_train = int(meta["train_rows"])
    pixels = size * size
    mean, std = _stats(index["sums"][:n_train], pixels)
    skipped = tuple((str(f), str(r)) for f, r in meta.get("skipped", []))
    folder = FolderData(
        root=scan.root, cache_dir=cache, classes=scan.classes, images=torch.from_numpy(images),
        labels=torch.from_numpy(index["labels"].astype(np.int64)), files=tuple(str(f) for f in index["files"]),
        num_train=n_train, mean=mean, std=std, skipped=skipped, decoded=decoded, decode_s=seconds, notes=(),
    )  # fmt: skip
    return _with_notes(folder, scan, len(index["labels"]), test_fraction)


def _with_notes(folder: FolderData, scan: FolderScan, rows: int, fraction: float) -> FolderData:
    n_test = rows - folder.num_train
    split = ("train/ and test/" if scan.layout == "train/test"
             else f"a fixed {fraction:.0%} hold-out per class")  # fmt: skip
    channels, size = folder.images.shape[1], folder.images.shape[-1]
    source = (f"decoded {folder.decoded:,} files in {folder.decode_s:.1f} s" if folder.decoded
              else "read from the cache")  # fmt: skip
    notes = [f"image folder {folder.root}: {rows:,} images used in {len(folder.classes)} classes "
             f"({folder.num_train:,} train / {n_test:,} test, {split}), {'grey' if channels == 1 else 'RGB'} "
             f"{size}x{size}, {source} ({folder.cache_dir})"]  # fmt: skip
    if folder.skipped:
        shown = ", ".join(f for f, _ in folder.skipped[:3]) + (", ..." if len(folder.skipped) > 3 else "")
        notes.append(f"{len(folder.skipped):,} file{'s' if len(folder.skipped) != 1 else ''} skipped as unreadable "
                     f"({shown}): listed in {folder.log_path}")
    if scan.not_images:
        notes.append(f"{scan.not_images:,} file{'s' if scan.not_images != 1 else ''} without an image suffix "
                     f"ignored (images end in {_suffix_list()})")
    if scan.empty_classes:
        notes.append(f"folders without images left out: {', '.join(scan.empty_classes)}")
    return dataclasses.replace(folder, notes=tuple(notes))


def _build_cache(scan: FolderScan, order: np.ndarray, test: np.ndarray, channels: int, size: int, key: str,
                 cache: Path, old_meta: dict | None, old: tuple[np.ndarray, dict] | None,
                 on_progress: Callable[[DataProgress], None] | None, cancel: threading.Event | None) -> int:
    """Write a new cache generation (images, index, skipped.log, then meta.json last); returns files decoded."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"Cannot create the image cache folder {cache} ({error.strerror or error}); choose a "
                        f"writable data folder (--data-dir).") from None
    reuse: dict[tuple[str, int, int], int] = {}
    if old is not None:
        _, index = old
        reuse = {(str(f), int(b), int(m)): row
                 for row, (f, b, m) in enumerate(zip(index["files"], index["bytes"], index["mtimes"]))}
    old_skipped = {}
    if old_meta is not None:
        old_skipped = {(str(f), int(b), int(m)): str(r) for f, r, b, m in old_meta.get("skipped_ids", [])}

    generation = uuid.uuid4().hex[:12]
    images_name, index_name = f"images-{generation}.u8", f"index-{generation}.npz"
    tmp = cache / f".{images_name}.tmp"
    kept: list[int] = []  # scan positions written, in file order
    sums: list[np.ndarray] = []
    skipped: list[tuple[str, str, int, int]] = []
    decoded = 0
    work = [int(i) for i in order]
    identity = [(scan.files[i], int(scan.sizes[i]), int(scan.mtimes[i])) for i in work]
    to_decode = sum(1 for ident in identity if ident not in reuse and ident not in old_skipped)
    progress = _Progress(to_decode, str(scan.root), on_progress)

    def task(pos: int) -> np.ndarray | str:
        ident = identity[pos]
        if ident in reuse:
            return np.array(old[0][reuse[ident]])  # type: ignore[index]
        if ident in old_skipped:
            return old_skipped[ident]
        return _read_one(scan.root / scan.files[work[pos]], channels, size)

    try:
        with open(tmp, "wb") as out, ThreadPoolExecutor(_decode_workers(), thread_name_prefix="decode") as pool:
            for pos, result in _ordered(pool, task, len(work), 4 * _decode_workers(), cancel):
                ident = identity[pos]
                fresh = ident not in reuse and ident not in old_skipped
                if isinstance(result, str):
                    skipped.append((ident[0], result, ident[1], ident[2]))
                else:
                    out.write(result.tobytes())
                    flat = result.reshape(channels, -1).astype(np.int64)
                    sums.append(np.stack([flat.sum(1), (flat * flat).sum(1)], axis=1))
                    kept.append(work[pos])
                if fresh:
                    decoded += 1
                    progress.step(len(skipped))
            progress.finish(len(skipped))
        kept_arr = np.array(kept, dtype=np.int64)
        n_train = int((~test[kept_arr]).sum()) if len(kept) else 0
        index = {"files": np.array([scan.files[i] for i in kept], dtype=np.str_),
                 "labels": scan.labels[kept_arr] if len(kept) else np.zeros(0, np.int64),
                 "bytes": scan.sizes[kept_arr] if len(kept) else np.zeros(0, np.int64),
                 "mtimes": scan.mtimes[kept_arr] if len(kept) else np.zeros(0, np.int64),
                 "sums": np.stack(sums) if sums else np.zeros((0, channels, 2), np.int64)}  # fmt: skip
        _check_usable(scan, index["labels"], n_train, len(kept), skipped)
        os.replace(tmp, cache / images_name)
        atomic_write(cache / index_name, lambda fh: np.savez(fh, **index))
        log = cache / "skipped.log"
        if skipped:
            lines = [f"# {len(skipped)} files in {scan.root} could not be read and were skipped (path, reason):"]
            lines += [f"{name}\t{reason}" for name, reason, _, _ in skipped]
            atomic_write(log, lambda fh: fh.write(("\n".join(lines) + "\n").encode()))
        else:
            log.unlink(missing_ok=True)
        meta = {"version": CACHE_VERSION, "key": key, "folder": str(scan.root), "layout": scan.layout,
                "channels": channels, "size": size, "rows": len(kept), "train_rows": n_train,
                "images": images_name, "index": index_name, "classes": list(scan.classes),
                "skipped": [[f, r] for f, r, _, _ in skipped],
                "skipped_ids": [[f, r, b, m] for f, r, b, m in skipped]}  # fmt: skip
        atomic_write(cache / "meta.json", lambda fh: fh.write(json.dumps(meta, indent=1).encode()))
    except OSError as error:
        raise DataError(f"Cannot write the image cache in {cache} ({error.strerror or error}); check the free "
                        f"space and permissions of the data folder (--data-dir).") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    _remove_old_generations(cache, keep=(images_name, index_name))
    return decoded


def _check_usable(scan: FolderScan, labels: np.ndarray, n_train: int, rows: int,
                  skipped: list[tuple[str, str, int, int]]) -> None:
    """After skipping unreadable files: still two classes to train on and something to test on."""
    where = f" ({len(skipped):,} unreadable files skipped)" if skipped else ""
    classes = np.unique(labels[:n_train])
    if rows == 0:
        raise DataError(f"None of the {len(scan):,} image files in {scan.root} could be read{where}; the first "
                        f"reason: {skipped[0][1] if skipped else 'none'}.")
    if len(classes) < 2:
        raise DataError(f"Only one class of {scan.root} has readable training images{where}; a classifier needs "
                        f"at least two.")
    if n_train == rows:
        raise DataError(f"No readable test images are left in {scan.root}{where}.")


def _remove_old_generations(cache: Path, keep: tuple[str, ...]) -> None:
    for old in list(cache.glob("images-*.u8")) + list(cache.glob("index-*.npz")):
        if old.name not in keep:
            with contextlib.suppress(OSError):  # still mapped by another process on Windows: removed next time
                old.unlink()


def _ordered(pool: ThreadPoolExecutor, task: Callable[[int], np.ndarray | str], n: int, ahead: int,
             cancel: threading.Event | None) -> Iterator[tuple[int, np.ndarray | str]]:
    """Results of task(0..n-1) in order, `ahead` of them in flight; DecodeCancelled on request."""
    window: deque[tuple[int, Future]] = deque()
    nxt = 0
    try:
        while nxt < n or window:
            while nxt < n and len(window) < ahead:
                window.append((nxt, pool.submit(task, nxt)))
                nxt += 1
            if cancel is not None and cancel.is_set():
                raise DecodeCancelled
            pos, future = window.popleft()
            yield pos, future.result()
    finally:
        for _, future in window:
            future.cancel()


class _Progress:
    """Progress events at most every PROGRESS_INTERVAL_S: files done, rate, ETA."""

    def __init__(self, total: int, folder: str, sink: Callable[[DataProgress], None] | None) -> None:
        self.total, self.folder, self.sink = total, folder, sink
        self.done, self.t0 = 0, time.perf_counter()
        self.last = -1.0

    def _emit(self, skipped: int) -> None:
        now = time.perf_counter()
        elapsed = now - self.t0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        self.last = now
        if self.sink is not None:
            self.sink(DataProgress(folder=self.folder, done=self.done, total=self.total, skipped=skipped,
                                   files_per_sec=rate, eta_s=eta))

    def step(self, skipped: int) -> None:
        self.done += 1
        if self.last < 0 or time.perf_counter() - self.last >= PROGRESS_INTERVAL_S:
            self._emit(skipped)

    def finish(self, skipped: int) -> None:
        if self.total:
            self._emit(skipped)
