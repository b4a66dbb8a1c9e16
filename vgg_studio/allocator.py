"""Freed memory stays in the process for the next step (glibc), instead of going back to the kernel; large
blocks on huge pages.

glibc serves each block above a threshold (at most 32 MB) with its own mmap, unmaps it on free, and trims
the heap's free top above another threshold. A training step frees and allocates the same large tensors
every step (activations, gradients: the 4096-wide classifier's bf16 weight gradient alone is 32 MB), so
every step then pays the kernel a page fault per 4 KB page and the zeroing of each fresh page. On a 2-core
Xeon that was a fifth of a `vgg11 --ratio 8` step at 32 px and nearly a third at 64 px (benchmarks/RESULTS.md).
With glibc's mmap and trimming off, freed blocks stay in the heap and the next step reuses them; the cost is
that the process keeps its largest heap until it exits. Other C libraries and systems are left as they are.

Huge pages: torch aligns CPU blocks of 2 MB and more to 2 MB and asks the kernel for transparent huge pages
for them when THP_MEM_ALLOC_ENABLE=1 (read once, at torch's first allocation, so the command-line entry sets it
before torch is imported). A step then walks its 32 MB gradients and weights through 2 MB pages instead of
4 KB ones: another ~5% of a `vgg11 --ratio 8` step at 64 px. Where the kernel has THP off, nothing changes.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's <malloc.h>
_KEEP_EVERYTHING = 2**31 - 1  # mallopt takes an int: trim only a heap top above 2 GB


def ask_for_huge_pages() -> None:
    """Before torch is imported: large CPU tensors on transparent huge pages, unless the user said otherwise."""
    if platform.system() == "Linux":
        os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


@functools.cache
def keep_freed_memory() -> bool:
    """Tune glibc's allocator once per process; True where it took effect."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, _KEEP_EVERYTHING) == 1
