"""The cost estimate next to Start: a quick measured speed (`cost.probe_speed`, in a worker thread) turned
into minutes per epoch and per run, refreshed when the architecture or the settings change.

Requests are debounced (an edit burst costs one probe); a newer request cancels the probe in flight, and a
result that arrives for an older request is dropped. Probes never run while training runs: the run's own
measured speed says more, and the two would compete for the same cores.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QTimer, Signal

from ... import cost
from ...spec import ArchSpec
from ...train_config import TrainConfig

DEBOUNCE_MS = 600


class CostEstimator(QObject):
    """`request(spec, config)`; then `estimated(CostEstimate)` or `failed(str)`, on the GUI thread."""

    estimated = Signal(object)  # cost.CostEstimate
    failed = Signal(str)
    _delivered = Signal(int, object)  # (request number, CostEstimate or an error message), from the worker

    def __init__(self, device_words: Callable[[TrainConfig], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._device_words = device_words
        self._pending: tuple[ArchSpec, TrainConfig] | None = None
        self._number = 0
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self._start)
        self._delivered.connect(self._on_delivered)
        self.enabled = True  # False while a run trains

    def request(self, spec: ArchSpec, config: TrainConfig) -> None:
        """Estimate `spec` trained with `config`, soon (debounced)."""
        self._pending = (spec, config)
        self._number += 1  # whatever runs now answers an old question
        self._cancel.set()
        if self.enabled:
            self._timer.start()

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        if not enabled:
            self._timer.stop()
            self._cancel.set()
        elif self._pending is not None:
            self._timer.start()

    def is_busy(self) -> bool:
        return self._timer.isActive() or (self._thread is not None and self._thread.is_alive())

    def settle(self, timeout_s: float) -> bool:
        """Probe now (no debounce) and process events until the answer is shown, or `timeout_s` passes: for
        `--screenshot`, whose picture should hold the estimate. Returns whether nothing is left pending."""
        deadline = time.monotonic() + timeout_s
        while self.is_busy() and time.monotonic() < deadline:
            if self._timer.isActive() and not (self._thread is not None and self._thread.is_alive()):
                self._timer.stop()
                self._start()
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            if self._thread is not None:
                self._thread.join(0.02)
        QCoreApplication.processEvents()  # the answer's queued signal
        return not self.is_busy()

    def shutdown(self) -> None:
        """Cancel and wait for the probe thread (closing the window)."""
        self._timer.stop()
        self._cancel.set()
        if self._thread is not None:
            self._thread.join()

    def _start(self) -> None:
        if self._pending is None or not self.enabled:
            return
        if self._thread is not None and self._thread.is_alive():
            self._timer.start()  # the cancelled probe is still winding down: try again shortly
            return
        spec, config = self._pending
        self._cancel = threading.Event()
        words = self._device_words(config)
        self._thread = threading.Thread(target=self._probe, args=(self._number, spec, config, words, self._cancel),
                                        name="costProbe", daemon=True)
        self._thread.start()

    def _probe(self, number: int, spec: ArchSpec, config: TrainConfig, words: str,
               cancel: threading.Event) -> None:
        """Worker thread: measure, then hand the answer to the GUI thread (queued signal)."""
        try:
            speed = cost.probe_speed(spec, config, cancel=cancel)
        except cost.ProbeCancelled:
            return
        except (RuntimeError, ValueError, MemoryError, OSError) as exc:  # e.g. out of memory, no such device
            self._delivered.emit(number, f"No estimate: {exc}")
            return
        self._delivered.emit(number, cost.estimate(config, speed, words))

    def _on_delivered(self, number: int, answer: object) -> None:
        if number != self._number or not self.enabled:
            return  # an answer to an older question
        self._pending = None
        if isinstance(answer, cost.CostEstimate):
            self.estimated.emit(answer)
        else:
            self.failed.emit(str(answer))
