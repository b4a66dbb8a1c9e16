"""A plain core function in a background thread, its reports delivered on the GUI thread (Orange's pattern).

`BackgroundTask(fn)` runs `fn(report, cancel)` in a Python thread: `report(x)` may be called from that
thread with any plain object and arrives as the `reported` signal on the GUI thread (a queued
connection, since the task object lives there); the return value arrives as `finished`, an exception as
`failed` with its message. `stop()` sets the `threading.Event` the function checks; `shutdown()` also
waits for the thread (for closing a window). Measuring, sweeping, exporting and classifying an image use it
(`start_task` for a single call that cannot be stopped half-way); none touches a widget.

The work runs in a plain `threading.Thread`, not in a Python override of `QThread.run`: with PySide6 6.11 a
garbage collection on the GUI thread while such an override imported modules (the first torch.export does)
deadlocked the two threads; a plain thread still hung now and then in the export test (the worker importing
sympy for torch.export while the GUI thread waited), so single calls (`start_task`) also pause the cyclic
garbage collector while they run: nothing on the GUI thread then runs finalizers in the middle of an import.
"""

from __future__ import annotations

import gc
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

GUI_SWITCH_INTERVAL_S = 0.001  # as for training: the GUI thread gets the GIL back within a millisecond


class BackgroundTask(QObject):
    reported = Signal(object)  # whatever the function reported, in order
    finished = Signal(object)  # its return value
    failed = Signal(str)  # an exception's message (the traceback goes to the console)
    ended = Signal()  # after finished or failed, once the thread is done
    _relay = Signal(str, object)  # (kind, payload) crossing from the worker thread

    def __init__(self, fn: Callable[[Callable[[Any], None], threading.Event], Any],
                 parent: QObject | None = None, expected: tuple[type[BaseException], ...] | None = None) -> None:
        """`expected`: the exception types whose message is for the user as it is; any other is reported as an
        unexpected error (None: every exception's message is for the user)."""
        super().__init__(parent)
        self.fn = fn
        self.expected = expected
        self.pause_gc = False  # set before start(): no cyclic GC until the function has returned
        self._gc_paused = False
        self.cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._switch_interval = sys.getswitchinterval()
        self._relay.connect(self._deliver)  # emitted from the worker thread: queued to this (GUI) thread

    def start(self) -> None:
        assert self._thread is None, "a BackgroundTask runs once"
        self._gc_paused = self.pause_gc and gc.isenabled()
        if self._gc_paused:
            gc.disable()
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, GUI_SWITCH_INTERVAL_S))
        self._thread = threading.Thread(target=self._run, name="vgg-studio-task", daemon=True)
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self.cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work is done, without cancelling it (closing the window mid-export); True when it is."""
        if self._thread is not None:
            self._thread.join(timeout)
        done = not self.is_running()
        if done:
            self._restore()  # the window may close before the queued report arrives
        return done

    def shutdown(self) -> None:
        """Stop and wait for the thread (closing the window); reports still queued are dropped."""
        self.cancel.set()
        if self._thread is not None:
            self._thread.join()
        self._restore()

    def _restore(self) -> None:
        sys.setswitchinterval(self._switch_interval)
        if self._gc_paused:
            self._gc_paused = False
            gc.enable()

    def _run(self) -> None:
        try:
            result = self.fn(lambda item: self._relay.emit("report", item), self.cancel)
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user as words
            if self.expected is not None and isinstance(exc, self.expected):
                self._relay.emit("failed", str(exc) or type(exc).__name__)
                return
            traceback.print_exc()
            message = str(exc) or type(exc).__name__
            if self.expected is not None:
                message = f"Unexpected error: {type(exc).__name__}: {exc} (details on the console)."
            self._relay.emit("failed", message)
        else:
            self._relay.emit("finished", result)

    @Slot(str, object)
    def _deliver(self, kind: str, payload: object) -> None:
        if kind == "report":
            self.reported.emit(payload)
            return
        if self._thread is not None:
            self._thread.join()  # it has returned (this was its last emit): joins at once
        self._restore()
        if kind == "finished":
            self.finished.emit(payload)
        else:
            self.failed.emit(str(payload))
        self.ended.emit()


def start_task(fn: Callable[[], Any], expected: tuple[type[BaseException], ...], parent: QObject,
               on_success: Callable[[Any], None], on_failure: Callable[[str], None]) -> BackgroundTask:
    """Run the single call `fn()` in a BackgroundTask owned by `parent`; the callbacks run on the GUI thread."""
    task = BackgroundTask(lambda _report, _cancel: fn(), parent, expected=expected)
    task.pause_gc = True
    task.finished.connect(on_success)
    task.failed.connect(on_failure)
    task.start()
    return task
