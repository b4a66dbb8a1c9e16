"""Atomic file writes: a temporary file beside the target, then a rename, so a crash never leaves half a file.

Writing over a file keeps what the user set up around it: a symlink is written through to its target (the link
stays), the file keeps its permission bits (a new file gets them from the umask, as `open` would), and the
folder must already exist. Targets that are not regular files (a directory, a device such as /dev/full, a FIFO)
are refused instead of being replaced.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


class NotARegularFile(OSError):
    """The target exists but is not a regular file, so replacing it would destroy something else."""


def _umask() -> int:
    """The process's umask, read without changing it where the OS allows (changing it races other threads)."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("Umask:"):
                        return int(line.split()[1], 8)
        except (OSError, ValueError):
            pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def resolve_target(path: str | os.PathLike[str]) -> Path:
    """The file a write to `path` should replace: symlinks followed; raises NotARegularFile for other kinds."""
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        folder = stat.S_ISDIR(mode)
        kind = "a folder" if folder else "not a regular file but a device, pipe or socket"
        raise NotARegularFile(errno.EISDIR if folder else errno.EINVAL,
                              f"it is {kind}, which saving would replace; choose a file name instead", str(path))
    return target


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Call `write` on a binary temporary file beside `path`'s target, then rename it over the target.

    OSErrors name `path` (not the temporary file), so a message built from them points at the right place.
    """
    target = resolve_target(path)
    try:
        previous = target.stat()
    except FileNotFoundError:
        previous = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        _copy_mode_and_owner(tmp, previous)
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, NotARegularFile) and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def _copy_mode_and_owner(tmp: str, previous: os.stat_result | None) -> None:
    """mkstemp makes 0600 files: give the new file the old one's mode (and owner, as root), or the umask's."""
    if previous is None:
        os.chmod(tmp, 0o666 & ~_umask())
        return
    os.chmod(tmp, stat.S_IMODE(previous.st_mode))
    if hasattr(os, "geteuid") and os.geteuid() == 0 and (previous.st_uid, previous.st_gid) != (0, 0):
        os.chown(tmp, previous.st_uid, previous.st_gid)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 text atomically (see `atomic_write`)."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
