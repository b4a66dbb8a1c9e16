"""Where training batches come from: a split resident on the device, or streamed from host memory (no Qt).

The engine sees one small interface, `BatchSource`: `batches(batch_size, generator)` yields uint8 image
batches and int64 labels on the training device, `labels` holds all labels there (for the confusion
matrix), and `images_at(rows)` gives a few images back to the host (for the results view).

- `ResidentSource`: the whole uint8 split lives on the device and batches are taken by index
  (DESIGN.md section 5; Fashion-MNIST is 47 MB).
- `StreamingSource`: the split stays in host memory, typically memory-mapped from an image-folder cache
  larger than the device. A background thread gathers the next batch's rows into a pinned buffer and
  starts a non-blocking copy to the GPU on its own CUDA stream while the current batch trains; the
  training stream waits for that copy only. On a CPU device the thread gathers into fresh tensors.

Both draw the same permutation from the same generator (`batch_indices`), so a seeded run sees the same
batches in either mode. `choose_mode` says which mode fits and why.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch

from .batching import batch_indices
from .data import Dataset, Split

RESIDENT_SHARE = 0.25  # "fits comfortably": the data takes at most this share of the memory free for it
PREFETCH = 2  # batches gathered ahead of the one training


class BatchSource(Protocol):
    mode: str  # "resident" or "streaming"
    labels: torch.Tensor  # int64 (N,) on the training device

    def __len__(self) -> int: ...

    def batches(self, batch_size: int, generator: torch.Generator | None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...

    def images_at(self, rows: np.ndarray) -> np.ndarray: ...


class ResidentSource:
    """A split held whole on the training device; batches are index lookups there."""

    mode = "resident"

    def __init__(self, split: Split, device: torch.device, copy: bool = False) -> None:
        images = split.images.to(device)
        # A memory-mapped split on a CPU device: read it into memory, or "resident" would still page from disk.
        self.images = images.clone() if copy and images.data_ptr() == split.images.data_ptr() else images
        self.labels = split.labels.to(device)
        self.device = device

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batches(self, batch_size: int, generator: torch.Generator | None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = batch_indices(len(self), batch_size, generator, self.device)
        return ((self.images[idx], self.labels[idx]) for idx in order)

    def images_at(self, rows: np.ndarray) -> np.ndarray:
        return self.images[torch.as_tensor(rows, device=self.device, dtype=torch.int64)].cpu().numpy()


class StreamingSource:
    """A split in host memory, streamed to the device batch by batch with the next batch prefetched."""

    mode = "streaming"

    def __init__(self, split: Split, device: torch.device, prefetch: int = PREFETCH) -> None:
        if split.images.device.type != "cpu":
            raise ValueError("StreamingSource streams from host memory; give it a CPU split")
        self.images, self.host_labels = split.images, split.labels
        self.labels = split.labels.to(device)
        self.device = device
        self.prefetch = max(1, prefetch)

    def __len__(self) -> int:
        return int(self.host_labels.shape[0])

    def batches(self, batch_size: int, generator: torch.Generator | None
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # The permutation is drawn now, as ResidentSource draws it, not when iteration starts.
        order = batch_indices(len(self), batch_size, generator, "cpu")
        return self._stream(order, batch_size)

    def images_at(self, rows: np.ndarray) -> np.ndarray:
        return self.images[torch.as_tensor(rows, dtype=torch.int64)].numpy()

    def _stream(self, order: list[torch.Tensor], batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        handoff: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        worker = threading.Thread(target=self._produce, args=(order, batch_size, handoff, stop),
                                  name="vgg-studio-prefetch", daemon=True)
        worker.start()
        try:
            for _ in order:
                item = handoff.get()
                if isinstance(item, BaseException):
                    raise item
                x, y, ready = item
                if ready is not None:  # CUDA: train only after this batch's copy, without blocking the host
                    stream = torch.cuda.current_stream(self.device)
                    stream.wait_event(ready)
                    x.record_stream(stream)  # memory made on the copy stream, used on this one
                    y.record_stream(stream)
                elif x.device != self.device:  # MPS: copied here, in the thread that trains
                    x, y = x.to(self.device), y.to(self.device)
                yield x, y
        finally:  # also when the consumer stops early (a cancelled epoch)
            stop.set()
            while worker.is_alive():
                try:
                    handoff.get_nowait()
                except queue.Empty:
                    worker.join(timeout=0.05)

    def _produce(self, order: list[torch.Tensor], batch_size: int, handoff: queue.Queue,
                 stop: threading.Event) -> None:
        """The prefetch thread: gather each batch's rows (and on CUDA start its copy), hand it over in order."""
        def put(item) -> bool:
            while not stop.is_set():
                try:
                    handoff.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            gather = self._cuda_gatherer(batch_size) if self.device.type == "cuda" else self._host_gather
            for k, idx in enumerate(order):
                if stop.is_set() or not put(gather(k, idx)):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the training thread, which raises it
            put(error)

    def _host_gather(self, k: int, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        return self.images.index_select(0, idx), self.host_labels.index_select(0, idx), None

    def _cuda_gatherer(self, batch_size: int):
        """Gather into a ring of pinned buffers and copy each to the GPU asynchronously on a side stream.

        A buffer is refilled only after the copy that last read it has finished (its event); the ring holds
        more buffers than can be in flight (prefetch queue + the batch training + the one being gathered).
        """
        torch.cuda.set_device(self.device)
        stream = torch.cuda.Stream(self.device)
        slots = self.prefetch + 3
        shape = (batch_size, *self.images.shape[1:])
        images = [torch.empty(shape, dtype=torch.uint8, pin_memory=True) for _ in range(slots)]
        labels = [torch.empty(batch_size, dtype=torch.int64, pin_memory=True) for _ in range(slots)]
        copied: list[torch.cuda.Event | None] = [None] * slots

        def gather(k: int, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.cuda.Event]:
            slot, n = k % slots, len(idx)
            if copied[slot] is not None:
                copied[slot].synchronize()
            host_x = torch.index_select(self.images, 0, idx, out=images[slot][:n])
            host_y = torch.index_select(self.host_labels, 0, idx, out=labels[slot][:n])
            with torch.cuda.stream(stream):
                x = host_x.to(self.device, non_blocking=True)
                y = host_y.to(self.device, non_blocking=True)
                done = torch.cuda.Event()
                done.record(stream)
            copied[slot] = done
            return x, y, done

        return gather


# ---- which mode -----------------------------------------------------------------------------------------


def free_memory(device: torch.device) -> int | None:
    """Bytes free for data on `device` (GPU: free device memory; else available RAM), None if unknown."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    raise AssertionError


def choose_mode(nbytes: int, device: torch.device, requested: str = "auto",
                free: int | None = None) -> tuple[str, str]:
    """("resident" | "streaming", why): resident when the data fits comfortably, unless a mode is requested."""
    where = "device memory" if device.type == "cuda" else "memory"
    if requested == "resident":
        return "resident", f"resident on {device}: {_size(nbytes)} of images (--data-mode resident)"
    if requested == "stream":
        return "streaming", (f"streaming to {device} from host memory: {_size(nbytes)} of images, the next batch "
                             f"prefetched while one trains (--data-mode stream)")
    free = free_memory(device) if free is None else free
    if free is None or nbytes <= RESIDENT_SHARE * free:
        room = f", within a quarter of the {_size(free)} of free {where}" if free is not None else ""
        return "resident", f"resident on {device}: {_size(nbytes)} of images{room}"
    return "streaming", (f"streaming to {device}: {_size(nbytes)} of images is more than a quarter of the "
                         f"{_size(free)} of free {where}, so batches are read from the memory-mapped cache with "
                         f"the next one prefetched while one trains (--data-mode resident forces it on)")


def make_sources(data: Dataset, device: torch.device, requested: str = "auto", memory_mapped: bool = False,
                 free: int | None = None) -> tuple[BatchSource, BatchSource, str]:
    """Train and test sources on `device` in the mode that fits (or was requested), and the reason."""
    nbytes = data.train.images.nbytes + data.test.images.nbytes
    mode, why = choose_mode(nbytes, device, requested, free)
    if mode == "resident":
        copy = memory_mapped and device.type == "cpu"
        return ResidentSource(data.train, device, copy), ResidentSource(data.test, device, copy), why
    host = data.to("cpu")
    return StreamingSource(host.train, device), StreamingSource(host.test, device), why
