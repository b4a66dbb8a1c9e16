"""Keep PySide6 6.12's lost references to None from aborting the app on CPython < 3.12.

PySide6 6.12.0 on CPython 3.11 drops one reference to None every time it hands a QVariant to Python
(QModelIndex.data(), QStandardItem.data(), QObject.property(), the value passed to
QGraphicsItem.itemChange, ...). A GUI does this constantly (pyqtgraph on every item move), so after some
tens of thousands of conversions None's count reaches zero and the interpreter aborts with
"Fatal Python error: none_dealloc" (seen at the end of the GUI test suite). CPython 3.12 made None
immortal; here we do the same by giving it a reference count no session can use up, and only when a
probe shows the bug. Imported first by `vgg_studio.gui`, so every GUI module is covered.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtGui import QStandardItem

PROBE_CALLS = 64
HEADROOM = min(1 << 48, sys.maxsize // 4)


def lost_per_conversion() -> float:
    """References to None that disappear per QVariant -> Python conversion (0 on a sound PySide)."""
    item = QStandardItem("probe")
    before = sys.getrefcount(None)
    for _ in range(PROBE_CALLS):
        item.data()
    return (before - sys.getrefcount(None)) / PROBE_CALLS


def protect_none() -> bool:
    """Make None effectively immortal if this PySide loses references to it; True if it was needed."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if lost_per_conversion() < 0.5:
        return False
    refcnt = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is the first field of a release build
    before = sys.getrefcount(None)
    refcnt.value += HEADROOM
    if abs(sys.getrefcount(None) - before - HEADROOM) > 1000:  # unexpected object layout: undo, change nothing
        refcnt.value -= HEADROOM
        return False
    return True


NONE_PROTECTED = protect_none()
