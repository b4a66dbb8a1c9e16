"""Resident and streaming batch sources: the same batches for the same seed, prompt stops, errors, the mode rule.

The CUDA path (pinned buffers, side-stream copies) runs only where a GPU is present; the logic around it
(ordering, prefetch thread, early stop, errors) is the same code and is tested here on the CPU.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from image_folder_maker import make_image_folder
from sample_subset import sample_subset
from vgg_studio.batch_sources import ResidentSource, StreamingSource, choose_mode, make_sources
from vgg_studio.data import Split
from vgg_studio.image_folder import load_image_folder

CPU = torch.device("cpu")


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vgg-studio-prefetch"]


def _batches(source, seed, batch_size=64):
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return list(source.batches(batch_size, generator))


@pytest.mark.parametrize("seed", [5, None])
def test_streaming_gives_the_resident_batches(seed):
    split = sample_subset(300, 50).train  # 300 = 4 full batches of 64 and one of 44
    resident, streaming = _batches(ResidentSource(split, CPU), seed), _batches(StreamingSource(split, CPU), seed)
    assert [len(y) for _, y in streaming] == [64, 64, 64, 64, 44]
    for (xr, yr), (xs, ys) in zip(resident, streaming, strict=True):
        assert torch.equal(xr, xs) and torch.equal(yr, ys) and xs.dtype == torch.uint8
    assert torch.equal(torch.cat([y for _, y in streaming]).sort().values, split.labels.sort().values)
    assert not _prefetch_threads()


def test_stopping_early_ends_the_prefetch_thread():
    split = sample_subset(600, 50).train
    batches = StreamingSource(split, CPU, prefetch=2).batches(10, torch.Generator().manual_seed(0))
    first = next(batches)
    assert len(first[1]) == 10 and _prefetch_threads()
    batches.close()  # what a `break` out of the training loop does
    assert not _prefetch_threads()


def test_an_error_while_gathering_reaches_the_training_thread():
    split = Split(torch.zeros(10, 1, 4, 4, dtype=torch.uint8), torch.arange(20))  # labels beyond the images
    with pytest.raises(IndexError):
        _batches(StreamingSource(split, CPU), seed=None, batch_size=8)
    assert not _prefetch_threads()


def test_the_mode_fits_the_free_memory_unless_asked():
    gb = 10**9
    mode, why = choose_mode(2 * gb, CPU, free=10 * gb)
    assert mode == "resident" and "within a quarter of the 10.0 GB of free memory" in why
    mode, why = choose_mode(3 * gb, CPU, free=10 * gb)
    assert mode == "streaming" and "3.0 GB of images is more than a quarter of the 10.0 GB" in why
    assert choose_mode(1, CPU, "stream", free=10 * gb)[0] == "streaming"
    assert choose_mode(3 * gb, CPU, "resident", free=gb)[0] == "resident"


def test_a_memory_mapped_folder_is_read_into_memory_when_resident(tmp_path):
    made = make_image_folder(tmp_path / "pics", per_class=10, classes=2, corrupt=0, exact=True)
    folder = load_image_folder(made.root, tmp_path / "data", channels=1, size=28)
    data = folder.as_dataset()
    train, test, why = make_sources(data, CPU, "auto", memory_mapped=True, free=10**12)
    assert train.mode == test.mode == "resident" and why.startswith("resident on cpu")
    assert train.images.data_ptr() != data.train.images.data_ptr() and torch.equal(train.images, data.train.images)
    train, test, why = make_sources(data, CPU, "auto", memory_mapped=True, free=1000)
    assert train.mode == "streaming" and train.images.data_ptr() == data.train.images.data_ptr()
    rows = np.array([1, 0])
    assert np.array_equal(test.images_at(rows), data.test.images[rows].numpy())
    assert torch.equal(test.labels, data.test.labels)
