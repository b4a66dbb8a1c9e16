"""One piece of work off the GUI thread (an export, loading a run to classify an image), its result as a signal.

Training has its own worker (it streams events and can be stopped every batch); this is for single calls that
take from a fraction of a second to a minute and cannot be interrupted half-way, so the window stays
responsive while they run. Exceptions of the `expected` types are messages for the user; anything else is
printed on the console and reported as an unexpected error, never lost.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal


class Task(QThread):
    """Runs `fn()` once in its own thread; `succeeded(result)` or `failed(message)` arrive on the GUI thread."""

    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], Any], expected: tuple[type[BaseException], ...],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._expected = expected

    def run(self) -> None:
        try:
            result = self._fn()
        except self._expected as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - an unexpected error must reach the user, not kill the thread
            traceback.print_exc()
            self.failed.emit(f"Unexpected error: {type(exc).__name__}: {exc} (details on the console).")
        else:
            self.succeeded.emit(result)


def start_task(fn: Callable[[], Any], expected: tuple[type[BaseException], ...], parent: QObject,
               on_success: Callable[[Any], None], on_failure: Callable[[str], None]) -> Task:
    """Start `fn` in a Task owned by `parent` (deleted once it has finished and reported)."""
    task = Task(fn, expected, parent)
    task.succeeded.connect(on_success)
    task.failed.connect(on_failure)
    task.finished.connect(task.deleteLater)
    task.start()
    return task
