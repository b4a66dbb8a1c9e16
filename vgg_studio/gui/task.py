"""One piece of work off the GUI thread (an export, loading a run to classify an image), its result as a signal.

Training has its own worker (it streams events and can be stopped every batch); this is for single calls that
take from a fraction of a second to a minute and cannot be interrupted half-way, so the window stays
responsive while they run. Exceptions of the `expected` types are messages for the user; anything else is
printed on the console and reported as an unexpected error, never lost.

The work runs in a plain `threading.Thread`, not in a Python override of `QThread.run`: with PySide6 6.11 a
garbage collection on the GUI thread while such an override imported modules (the first torch.export does)
deadlocked the two threads. The signals belong to a QObject of the GUI thread, so emitting them from the
worker queues the slots onto the GUI thread.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


class Task(QObject):
    """Runs `fn()` once in its own thread; `succeeded(result)` or `failed(message)` arrive on the GUI thread."""

    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], Any], expected: tuple[type[BaseException], ...],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._expected = expected
        self._thread = threading.Thread(target=self._run, name="vgg-studio-task", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work is done (the window is closing); True when it is."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
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
    """Start `fn` in a Task owned by `parent`; the callbacks run on the GUI thread."""
    task = Task(fn, expected, parent)
    task.succeeded.connect(on_success)
    task.failed.connect(on_failure)
    task.start()
    return task
