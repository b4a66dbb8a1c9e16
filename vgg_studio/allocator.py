"""Freed memory stays in the process for the next step (glibc), instead of going back to the kernel.

glibc serves each block above a threshold (at most 32 MB) with its own mmap, unmaps it on free, and trims
the heap's free top above another threshold. A training step frees and allocates the same large tensors
every step (activations, gradients: the 4096-wide classifier's bf16 weight gradient alone is 32 MB), so
every step then pays the kernel a page fault per 4 KB page and the zeroing of each fresh page. On a 2-core
Xeon that was a fifth of a `vgg11 --ratio 8` step at 32 px and nearly a third at 64 px (benchmarks/RESULTS.md).
With glibc's mmap and trimming off, freed blocks stay in the heap and the next step reuses them; the cost is
that the process keeps its largest heap until it exits. Other C libraries and systems are left as they are.
"""

from __future__ import annotations

import ctypes
import platform

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's <malloc.h>
_KEEP_EVERYTHING = 2**31 - 1  # mallopt takes an int: trim only a heap top above 2 GB

_kept: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc's allocator once per process; True where it took effect."""
    global _kept
    if _kept is None:
        _kept = _tune()
    return _kept


def _tune() -> bool:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, _KEEP_EVERYTHING) == 1
