"""Atomic writes keep what the user set up around a file: links, modes, devices, folders (issue 11, item 3)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vgg_studio.atomic import NotARegularFile, atomic_write_text
from vgg_studio.spec import load, preset, save

posix_only = pytest.mark.skipif(os.name != "posix", reason="symlinks, FIFOs and umask are POSIX here")


@posix_only
def test_saving_through_a_symlink_writes_the_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "real.json"
    save(preset("vgg11"), target)
    link = tmp_path / "link.json"
    link.symlink_to(target.name)
    save(preset("tiny"), link)
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert load(target) == preset("tiny")


@posix_only
def test_saving_over_a_fifo_or_a_folder_is_refused_and_leaves_it(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(NotARegularFile, match="not a regular file"):
        save(preset("tiny"), fifo)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    folder = tmp_path / "folder.json"
    folder.mkdir()
    with pytest.raises(NotARegularFile, match="a folder"):
        atomic_write_text(folder, "x")
    assert folder.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["folder.json", "pipe"]


@posix_only
def test_saving_over_a_device_is_refused():
    with pytest.raises(NotARegularFile):
        atomic_write_text("/dev/null", "x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@posix_only
def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "net.json"
    save(preset("vgg11"), path)
    path.chmod(0o640)
    save(preset("tiny"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@posix_only
def test_a_new_file_follows_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write_text(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640


def test_a_missing_folder_is_an_error_not_created(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        save(preset("tiny"), tmp_path / "missing" / "net.json")
    assert caught.value.filename == str(tmp_path / "missing" / "net.json")  # the target, not a temporary file
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "net.json"
    save(preset("vgg11"), path)

    def broken(fh):
        fh.write(b"{")
        raise OSError(28, "No space left on device")

    from vgg_studio.atomic import atomic_write

    with pytest.raises(OSError, match="No space left") as caught:
        atomic_write(path, broken)
    assert caught.value.filename == str(path)
    assert load(path) == preset("vgg11") and [p.name for p in tmp_path.iterdir()] == ["net.json"]


def test_resolving_a_dangling_symlink_creates_its_target(tmp_path):
    if os.name != "posix":
        pytest.skip("symlinks")
    link = tmp_path / "link.json"
    link.symlink_to("made.json")
    atomic_write_text(link, "{}")
    assert link.is_symlink() and Path(tmp_path / "made.json").read_text() == "{}"
