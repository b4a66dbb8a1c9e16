"""The data layer on real data: the bundled sample, the full Fashion-MNIST offline, clear errors, batching.

Tests that need the complete Fashion-MNIST files use ../shared/data/FashionMNIST/raw (the repository's
parent holds `shared/` on the development machines and in CI) and skip with the reason when it is absent.
Nothing here touches the network: downloads are replaced by a function that fails like an offline one.
"""

import gzip
import shutil
import stat
import struct
import subprocess
import sys
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision
import torchvision.transforms.functional as TF

from vgg_studio import data
from vgg_studio.batching import batch_indices, prepare_batch
from vgg_studio.data import DataError, load_dataset

REPO = Path(__file__).resolve().parents[1]
SHARED_RAW = REPO.parent / "shared" / "data" / "FashionMNIST" / "raw"
SAMPLE_DIR = REPO / "resources" / "fashion-mnist-sample"
GZ_FILES = [f"{name}.gz" for name in data.IDX_FILES]

needs_shared = pytest.mark.skipif(
    not all((SHARED_RAW / f).is_file() for f in GZ_FILES),
    reason=f"the complete Fashion-MNIST files are not in {SHARED_RAW} (they sit beside the repository in CI)",
)


@pytest.fixture
def offline(monkeypatch):
    """Make every torchvision download fail the way it does without a network; count the attempts."""
    attempts = []

    def fail(url, *args, **kwargs):
        attempts.append(url)
        raise URLError("[Errno -3] Temporary failure in name resolution (test: no network)")

    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", fail)
    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", fail)
    return attempts


@pytest.fixture(scope="module")
def sample():
    return load_dataset("sample")


# ---- the bundled sample --------------------------------------------------------------------------


def test_sample_is_balanced_real_fashion_mnist(sample):
    assert (len(sample.train), len(sample.test)) == (10_000, 2_000)
    assert sample.train.images.shape == (10_000, 1, 28, 28) and sample.test.images.shape == (2_000, 1, 28, 28)
    assert sample.train.images.dtype == torch.uint8 and sample.train.labels.dtype == torch.int64
    assert torch.bincount(sample.train.labels).tolist() == [1000] * 10
    assert torch.bincount(sample.test.labels).tolist() == [200] * 10
    assert sample.classes == tuple(torchvision.datasets.FashionMNIST.classes)
    assert (sample.name, sample.channels, sample.native_size) == ("sample", 1, 28)
    pixels = sample.train.images.double() / 255
    assert sample.mean[0] == pytest.approx(pixels.mean().item(), abs=1e-9)
    assert sample.std[0] == pytest.approx(pixels.std(unbiased=False).item(), abs=1e-9)
    assert sample.mean[0] == pytest.approx(0.286, abs=0.01)  # a faithful draw has the full set's statistics


def test_sample_file_is_small_and_records_its_sources():
    path = SAMPLE_DIR / "fashion-mnist-sample.npz"
    assert path.stat().st_size < 5.5e6
    with np.load(path) as arrays:
        for split, n in (("train", 60_000), ("test", 10_000)):
            index = arrays[f"{split}_indices"]
            assert np.all(np.diff(index) > 0) and index[0] >= 0 and index[-1] < n
    assert (SAMPLE_DIR / "LICENSE").read_text().startswith("The MIT License")


@needs_shared
def test_sample_is_reproducible_from_the_script(tmp_path):
    out = tmp_path / "sample.npz"
    script = SAMPLE_DIR / "make_sample.py"
    subprocess.run([sys.executable, str(script), "--source", str(SHARED_RAW), "--out", str(out)], check=True,
                   capture_output=True, timeout=120)
    with np.load(out) as made, np.load(SAMPLE_DIR / "fashion-mnist-sample.npz") as bundled:
        assert sorted(made.files) == sorted(bundled.files)
        for key in made.files:
            assert made[key].dtype == bundled[key].dtype and np.array_equal(made[key], bundled[key]), key


# ---- the full set, offline ------------------------------------------------------------------------


def copy_gz(root: Path) -> Path:
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in GZ_FILES:
        shutil.copyfile(SHARED_RAW / name, raw / name)
    return raw


@needs_shared
def test_full_fashion_mnist_from_dropped_in_gz_files(tmp_path, offline, sample):
    raw = copy_gz(tmp_path)
    assert data.availability(tmp_path)["fashion-mnist"].available
    assert data.resolve_dataset_name("auto", tmp_path) == "fashion-mnist"
    ds = load_dataset("fashion-mnist", data_dir=tmp_path)  # download=True, yet it must not try
    assert offline == []
    assert (len(ds.train), len(ds.test)) == (60_000, 10_000)
    assert ds.train.images.shape == (60_000, 1, 28, 28) and ds.train.images.dtype == torch.uint8
    assert ds.test.labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert torch.bincount(ds.train.labels).tolist() == [6000] * 10
    assert ds.mean[0] == pytest.approx(0.2860, abs=5e-5) and ds.std[0] == pytest.approx(0.3530, abs=5e-5)
    assert ds.classes == sample.classes
    assert all((raw / name).is_file() for name in data.IDX_FILES)  # gunzipped for torchvision, kept
    with np.load(SAMPLE_DIR / "fashion-mnist-sample.npz") as arrays:  # the sample is a slice of it
        index = torch.from_numpy(arrays["test_indices"].astype(np.int64))
    assert torch.equal(ds.test.images[index], sample.test.images)


@needs_shared
def test_read_only_folder_is_read_but_never_written(tmp_path, offline):
    raw = copy_gz(tmp_path)
    raw.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        ds = load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
        assert sorted(p.name for p in raw.iterdir()) == sorted(GZ_FILES)
    finally:
        raw.chmod(stat.S_IRWXU)
    assert (len(ds.train), len(ds.test)) == (60_000, 10_000)


# ---- missing data: words, not tracebacks ----------------------------------------------------------


def test_no_files_and_no_network_names_folder_and_files(tmp_path, offline):
    with pytest.raises(DataError) as caught:
        load_dataset("fashion-mnist", data_dir=tmp_path)
    message = str(caught.value)
    assert offline, "the download should have been attempted"
    assert "Downloading Fashion-MNIST failed" in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert all(name in message for name in GZ_FILES)
    assert "copy" in message and "internet" in message
    assert caught.value.__suppress_context__  # no chained traceback for the user


def test_download_false_never_tries_the_network(tmp_path, offline):
    with pytest.raises(DataError, match="MNIST is not in"):
        load_dataset("mnist", data_dir=tmp_path, download=False)
    assert offline == []


def test_cifar10_missing_names_archive_and_folder(tmp_path, offline):
    with pytest.raises(DataError) as caught:
        load_dataset("cifar10", data_dir=tmp_path)
    assert "cifar-10-python.tar.gz" in str(caught.value) and str(tmp_path) in str(caught.value)
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"half a download")
    assert data.availability(tmp_path)["cifar10"].available  # presence only; reading tells the truth
    with pytest.raises(DataError, match="archive may be incomplete: delete it"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_damaged_files_are_reported_not_raised(tmp_path, offline):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.IDX_FILES:
        (raw / name).write_bytes(b"\x00\x00\x08\x03 not an idx file")
    with pytest.raises(DataError, match="cannot be read"):
        load_dataset("fashion-mnist", data_dir=tmp_path)
    assert offline == []


def test_unknown_name_lists_the_choices():
    with pytest.raises(DataError, match="choose one of auto, sample, fashion-mnist"):
        load_dataset("imagenet")
    assert data.resolve_dataset_name("Fashion_MNIST") == "fashion-mnist"


def test_availability_never_downloads(tmp_path, offline):
    found = data.availability(tmp_path)
    assert list(found) == list(data.DATASETS)
    assert found["sample"].available and found["sample"].detail.endswith("fashion-mnist-sample.npz")
    assert not found["fashion-mnist"].available
    assert str(tmp_path / "FashionMNIST" / "raw") in found["fashion-mnist"].detail
    assert not found["cifar10"].available
    assert data.resolve_dataset_name("auto", tmp_path) == "sample"
    assert offline == []


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("VGG_STUDIO_DATA", str(tmp_path / "mine"))
    assert data.default_data_dir() == tmp_path / "mine"
    monkeypatch.delenv("VGG_STUDIO_DATA")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data.default_data_dir() == tmp_path / "xdg" / "vgg-studio" / "data"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert data.default_data_dir() == Path.home() / ".local" / "share" / "vgg-studio" / "data"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert data.default_data_dir() == Path.home() / "Library" / "Application Support" / "vgg-studio" / "data"
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert data.default_data_dir() == tmp_path / "local" / "vgg-studio" / "data"


# ---- batching ---------------------------------------------------------------------------------------


def reference(images_u8, size, mean, std, antialias):
    """Image by image with torchvision's resize, then /255 and normalise: an independent computation."""
    out = []
    for image in images_u8:
        x = TF.resize(image.double(), [size, size], interpolation=TF.InterpolationMode.BILINEAR, antialias=antialias)
        out.append(TF.normalize(x / 255, mean, std))
    return torch.stack(out)


@pytest.mark.parametrize("size", [28, 64, 224, 14])
def test_prepare_batch_matches_per_image_reference(sample, size):
    images = sample.train.images[:8]
    got = prepare_batch(images, size, sample.mean, sample.std)
    assert got.shape == (8, 1, size, size) and got.dtype == torch.float32
    expected = reference(images, size, sample.mean, sample.std, antialias=size < 28)
    torch.testing.assert_close(got.double(), expected, atol=2e-5, rtol=0)


def test_prepare_batch_colour_channels_last_bf16():
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    got = prepare_batch(images, 48, mean, std, channels_last=True, dtype=torch.bfloat16)
    assert got.dtype == torch.bfloat16 and got.shape == (4, 3, 48, 48)
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got.double(), reference(images, 48, mean, std, False), atol=0.03, rtol=0.01)
    with pytest.raises(ValueError, match="2/2 values for 3 channel"):
        prepare_batch(images, 32, (0.5, 0.5), (0.2, 0.2))


def test_batch_indices_cover_everything_once_and_reproducibly():
    batches = batch_indices(1000, 128, torch.Generator().manual_seed(7), "cpu")
    assert [len(b) for b in batches] == [128] * 7 + [104]
    assert torch.equal(torch.cat(batches).sort().values, torch.arange(1000))
    again = batch_indices(1000, 128, torch.Generator().manual_seed(7), "cpu")
    assert all(torch.equal(a, b) for a, b in zip(batches, again))
    other = batch_indices(1000, 128, torch.Generator().manual_seed(8), "cpu")
    assert not torch.equal(torch.cat(batches), torch.cat(other))
    assert torch.equal(torch.cat(batch_indices(10, 3, None, "cpu")), torch.arange(10))
    assert batch_indices(0, 4, None, "cpu") == []


# ---- issue 11: damaged files, and the advised fix working -------------------------------------------------------


def write_idx(raw: Path, n_train: int = 30, n_test: int = 10, train_labels: int | None = None) -> None:
    """A tiny but well-formed Fashion-MNIST folder of gzipped IDX files (big-endian headers, as the format says)."""
    raw.mkdir(parents=True, exist_ok=True)
    g = np.random.default_rng(0)
    parts = {"train": (n_train, n_train if train_labels is None else train_labels), "t10k": (n_test, n_test)}
    for prefix, (n_images, n_labels) in parts.items():
        images = g.integers(0, 256, size=(n_images, 28, 28), dtype=np.uint8)
        labels = (np.arange(n_labels) % 10).astype(np.uint8)
        header = struct.pack(">iiii", 2051, n_images, 28, 28)
        write_gz(raw / f"{prefix}-images-idx3-ubyte.gz", header + images.tobytes())
        write_gz(raw / f"{prefix}-labels-idx1-ubyte.gz", struct.pack(">ii", 2049, n_labels) + labels.tobytes())


def write_gz(path: Path, payload: bytes) -> None:
    path.write_bytes(gzip.compress(payload))


def test_good_gz_files_copied_back_replace_stale_decompressed_ones(tmp_path, offline):
    raw = tmp_path / "FashionMNIST" / "raw"
    write_idx(raw)
    assert len(load_dataset("fashion-mnist", data_dir=tmp_path).train) == 30
    good = (raw / "train-images-idx3-ubyte.gz").read_bytes()
    write_gz(raw / "train-images-idx3-ubyte.gz", b"\x00\x00\x08\x99" + b"\x00" * 40)  # wrong IDX magic
    with pytest.raises(DataError, match="cannot be read"):
        load_dataset("fashion-mnist", data_dir=tmp_path)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"")  # an empty download
    with pytest.raises(DataError, match="cannot be read"):
        load_dataset("fashion-mnist", data_dir=tmp_path)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(good)  # what the message advises: copy the files again
    ds = load_dataset("fashion-mnist", data_dir=tmp_path)
    assert len(ds.train) == 30 and offline == []


def test_a_plain_file_without_its_gz_is_used_as_it_is(tmp_path, offline):
    raw = tmp_path / "FashionMNIST" / "raw"
    write_idx(raw)
    load_dataset("fashion-mnist", data_dir=tmp_path)
    for name in GZ_FILES:
        (raw / name).unlink()
    assert len(load_dataset("fashion-mnist", data_dir=tmp_path).test) == 10


def test_image_and_label_counts_must_match(tmp_path, offline):
    write_idx(tmp_path / "FashionMNIST" / "raw", train_labels=29)
    with pytest.raises(DataError, match="training split has 30 images but 29 labels") as caught:
        load_dataset("fashion-mnist", data_dir=tmp_path)
    assert "copy all four files" in str(caught.value)


def test_idx_files_read_as_torchvision_reads_them_without_importing_it(tmp_path, offline):
    """The IDX reader against torchvision's own FashionMNIST class, and no torchvision import for data on disk."""
    write_idx(tmp_path / "FashionMNIST" / "raw", n_train=300, n_test=70)
    ds = load_dataset("fashion-mnist", data_dir=tmp_path)
    for train, split in ((True, ds.train), (False, ds.test)):
        want = torchvision.datasets.FashionMNIST(str(tmp_path), train=train, download=False)
        assert torch.equal(split.images, want.data.unsqueeze(1)) and torch.equal(split.labels, want.targets)
        assert split.images.dtype == torch.uint8 and split.labels.dtype == torch.int64
    assert tuple(torchvision.datasets.MNIST.classes) == data.MNIST_CLASSES
    check = ("import sys; from vgg_studio.data import load_dataset; "
             f"load_dataset('fashion-mnist', data_dir={str(tmp_path)!r}); print('torchvision' in sys.modules)")
    imported = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "False"


def test_a_truncated_idx_file_is_a_damaged_file(tmp_path, offline):
    raw = tmp_path / "FashionMNIST" / "raw"
    write_idx(raw)
    payload = gzip.decompress((raw / "t10k-images-idx3-ubyte.gz").read_bytes())
    write_gz(raw / "t10k-images-idx3-ubyte.gz", payload[:-100])  # a download cut short
    with pytest.raises(DataError, match="cannot be read") as caught:
        load_dataset("fashion-mnist", data_dir=tmp_path)
    assert "t10k-images-idx3-ubyte" in str(caught.value) or "damaged" in str(caught.value)
