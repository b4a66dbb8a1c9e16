"""Image folders: scanning, decoding, the cache and its key, progress and stopping, and the messages.

Folders are written from the real bundled sample by `image_folder_maker` (PNG and JPEG, mixed sizes and
modes, some damaged) and kept small: a few classes of a few images each.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from image_folder_maker import make_image_folder
from vgg_studio import image_folder as imf
from vgg_studio.data import DataError
from vgg_studio.image_folder import DecodeCancelled, holdout, load_image_folder, scan_folder


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """4 classes x 12 images of mixed sizes and modes, PNG and JPEG, and 4 damaged files."""
    root = tmp_path_factory.mktemp("mixed") / "pictures"
    return make_image_folder(root, per_class=12, classes=4, corrupt=4, seed=3)


def test_suffixes_match_torchvision():
    from torchvision.datasets.folder import IMG_EXTENSIONS

    assert imf.IMAGE_SUFFIXES == IMG_EXTENSIONS


def test_lossless_images_are_cached_pixel_for_pixel_with_their_class(tmp_path):
    made = make_image_folder(tmp_path / "exact", per_class=8, classes=3, corrupt=0, exact=True)
    folder = load_image_folder(made.root, tmp_path / "data", channels=1, size=28)
    assert folder.classes == made.classes and folder.images.shape == (24, 1, 28, 28)
    for row, rel in enumerate(folder.files):
        assert np.array_equal(folder.images[row, 0].numpy(), made.sources[rel])
        assert folder.classes[int(folder.labels[row])] == rel.split("/")[0]
    train = folder.images[: folder.num_train].double() / 255
    assert folder.mean[0] == pytest.approx(train.mean().item(), abs=1e-12)
    assert folder.std[0] == pytest.approx(train.std(unbiased=False).item(), abs=1e-12)
    data = folder.as_dataset()
    assert (len(data.train), len(data.test)) == (folder.num_train, 24 - folder.num_train)
    assert data.name == f"folder:{made.root}" and data.channels == 1 and data.native_size == 28


def test_damaged_files_are_skipped_counted_and_listed(mixed, tmp_path):
    folder = load_image_folder(mixed.root, tmp_path / "data", channels=3, size=32)
    assert folder.images.shape == (mixed.written, 3, 32, 32) and folder.decoded == mixed.written + 4
    assert sorted(f for f, _ in folder.skipped) == sorted(mixed.corrupt)
    log = folder.log_path.read_text().splitlines()
    assert log[0].startswith(f"# 4 files in {mixed.root}") and sorted(line.split("\t")[0] for line in log[1:]) \
        == sorted(mixed.corrupt)  # fmt: skip
    assert f"{mixed.written} images used in 4 classes" in folder.notes[0]
    assert folder.notes[1].startswith("4 files skipped as unreadable") and str(folder.log_path) in folder.notes[1]
    # Every class is in both splits, and the colour images really are colour in the RGB cache.
    train, test = folder.labels[: folder.num_train], folder.labels[folder.num_train:]
    assert set(train.tolist()) == set(test.tolist()) == {0, 1, 2, 3}
    assert (folder.images[:, 0].int() - folder.images[:, 2].int()).abs().amax() > 10


def test_an_unchanged_folder_is_not_decoded_again_and_a_change_only_where_it_changed(mixed, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    first = load_image_folder(mixed.root, data_dir, channels=1, size=28)

    def no_decoding(*args):
        raise AssertionError("decoded again")

    with monkeypatch.context() as m:
        m.setattr(imf, "decode_image", no_decoding)
        again = load_image_folder(mixed.root, data_dir, channels=1, size=28)
        assert again.decoded == 0 and "read from the cache" in again.notes[0]
        assert torch.equal(again.images, first.images) and again.skipped == first.skipped
        # Another hold-out re-orders the cached rows without decoding.
        wider = load_image_folder(mixed.root, data_dir, channels=1, size=28, test_fraction=0.3)
        assert wider.decoded == 0 and wider.num_train < first.num_train
    # A touched file and a new one: two files decoded, the rest copied.
    one = mixed.root / next(f for f in mixed.sources if f.endswith(".png"))
    os.utime(one, ns=(one.stat().st_atime_ns, one.stat().st_mtime_ns + 10**9))
    Image.new("L", (30, 30), 200).save(mixed.root / mixed.classes[0] / "added.png")
    try:
        changed = load_image_folder(mixed.root, data_dir, channels=1, size=28)
    finally:
        (mixed.root / mixed.classes[0] / "added.png").unlink()
    assert changed.decoded == 2 and len(changed.files) == len(first.files) + 1
    # Another size is another cache.
    assert load_image_folder(mixed.root, data_dir, channels=1, size=20).cache_dir != first.cache_dir


def test_holdout_is_stratified_fixed_and_uses_test_folders(mixed, tmp_path):
    scan = scan_folder(mixed.root)
    for fraction in (0.1, 0.25, 0.5):
        test = holdout(scan, fraction)
        for label in range(4):
            n = int((scan.labels == label).sum())
            assert test[scan.labels == label].sum() == min(max(round(fraction * n), 1), n - 1)
        assert np.array_equal(test, holdout(scan_folder(mixed.root), fraction))  # the same every time
    split = make_image_folder(tmp_path / "split", per_class=10, classes=3, corrupt=0, layout="train/test")
    scan = scan_folder(split.root)
    assert scan.layout == "train/test" and scan.classes == split.classes
    assert [f.startswith("test/") for f in scan.files] == holdout(scan, 0.1).tolist()
    folder = load_image_folder(split.root, tmp_path / "data", channels=1, size=28)
    assert all(f.startswith("test/") for f in folder.files[folder.num_train:])
    assert folder.num_train == 24 and len(folder.files) == 30


def test_decoding_reports_progress_and_stops_on_request(mixed, tmp_path):
    events, cancel = [], threading.Event()

    def progress(event):
        events.append(event)
        cancel.set()

    with pytest.raises(DecodeCancelled):
        load_image_folder(mixed.root, tmp_path / "data", channels=1, size=28, on_progress=progress, cancel=cancel)
    assert events and events[0].total == len(mixed.sources) + 4 and events[0].done >= 1
    cache = imf.cache_dir_for(mixed.root, tmp_path / "data", 1, 28)
    assert not (cache / "meta.json").exists() and not list(cache.glob("*.u8*"))
    events.clear()
    folder = load_image_folder(mixed.root, tmp_path / "data", channels=1, size=28, on_progress=events.append)
    last = events[-1]
    assert (last.done, last.total, last.skipped) == (len(mixed.sources) + 4, len(mixed.sources) + 4, 4)
    assert last.files_per_sec > 0 and last.eta_s == 0 and len(folder.files) == mixed.written


def _square(path, color, size=(40, 20), mode="RGB"):
    Image.new(mode, size, color).save(path)
    return path


def test_decode_modes_crop_and_transparency(tmp_path):
    # A wide image: the left and right quarters are cropped away, the centred square stays.
    wide = np.zeros((20, 40), np.uint8)
    wide[:, 6:34] = 255  # the centred square is columns 10-29; the filter reads a few beyond
    Image.fromarray(wide, "L").save(tmp_path / "wide.png")
    assert (imf.decode_image(tmp_path / "wide.png", 1, 10) == 255).all()
    # Transparent pixels become white; a palette image decodes to its colours; grey to RGB repeats it.
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert (imf.decode_image(tmp_path / "clear.png", 3, 8) == 255).all()
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([200, 10, 10])
    palette.save(tmp_path / "palette.png")
    assert imf.decode_image(tmp_path / "palette.png", 3, 8)[:, 0, 0].tolist() == [200, 10, 10]
    Image.new("L", (8, 8), 77).save(tmp_path / "grey.jpg", quality=100)
    assert abs(imf.decode_image(tmp_path / "grey.jpg", 3, 4).astype(int) - 77).max() <= 1
    # RGB to grey uses Pillow's ITU-R 601 weights; 16-bit grey is scaled to 8 bits.
    Image.new("RGB", (8, 8), (255, 0, 0)).save(tmp_path / "red.png")
    assert imf.decode_image(tmp_path / "red.png", 1, 8)[0, 0, 0] == round(255 * 0.299)
    Image.fromarray(np.full((8, 8), 65535, np.uint16)).save(tmp_path / "deep.png")
    assert (imf.decode_image(tmp_path / "deep.png", 1, 8) == 255).all()


def test_unusable_folders_get_clear_messages(tmp_path):
    def message(path):
        with pytest.raises(DataError) as info:
            load_image_folder(path, tmp_path / "data", channels=1, size=28)
        return str(info.value)

    assert message(tmp_path / "nowhere") == (f"The image folder {tmp_path / 'nowhere'} does not exist. Give a "
                                             f"folder with one subfolder per class ({tmp_path / 'nowhere'}/<class>/"
                                             f"image.png).")  # fmt: skip
    (tmp_path / "a.png").write_bytes(b"")
    assert message(tmp_path / "a.png").startswith(f"{tmp_path / 'a.png'} is a file, not a folder.")
    (tmp_path / "empty").mkdir()
    assert message(tmp_path / "empty").startswith(f"The image folder {tmp_path / 'empty'} is empty: no images in it")
    (tmp_path / "empty" / "cats").mkdir()
    assert "no images in its class subfolders" in message(tmp_path / "empty")
    _square(tmp_path / "loose.png", "red")
    (tmp_path / "loose").mkdir()
    _square(tmp_path / "loose" / "x.png", "red")
    assert "holds images but no class subfolders" in message(tmp_path / "loose")
    (tmp_path / "one" / "cats").mkdir(parents=True)
    _square(tmp_path / "one" / "cats" / "x.png", "red")
    assert message(tmp_path / "one") == (f"{tmp_path / 'one'} has only one class (cats); a classifier needs at "
                                         f"least two class subfolders with images.")  # fmt: skip
    (tmp_path / "nested" / "train" / "cats").mkdir(parents=True)
    _square(tmp_path / "nested" / "train" / "cats" / "x.png", "red")
    assert f"give {tmp_path / 'nested' / 'train'} instead" in message(tmp_path / "nested")
    for part, name in (("train", "cats"), ("train", "dogs"), ("test", "cats"), ("test", "owls")):
        (tmp_path / "split" / part / name).mkdir(parents=True)
        _square(tmp_path / "split" / part / name / "x.png", "red")
    assert "has classes that" in message(tmp_path / "split") and "owls" in message(tmp_path / "split")
    for name in ("cats", "dogs"):
        (tmp_path / "broken" / name).mkdir(parents=True)
        for k in range(3):
            (tmp_path / "broken" / name / f"{k}.png").write_bytes(b"not a png")
    assert message(tmp_path / "broken").startswith(f"None of the 6 image files in {tmp_path / 'broken'} could be read")
    with pytest.raises(DataError, match=r"grey \(1 channel\) or RGB \(3 channels\), not 2"):
        load_image_folder(tmp_path / "broken", tmp_path / "data", channels=2, size=28)
