"""Sweep a knob from the window: pick it, type the values, Start; the variants train one after another.

The values are checked as they are typed (`sweep.variants`, the same code as `vgg-studio sweep`): a bad
value is named and Start stays disabled. The sweep runs in a background thread; every engine event is
passed on (`engineEvent`) so the host shows the current variant's live curves, and the panel says
"variant k/n". Stop ends the variant in progress as the engine does and starts no further one.
The host gives the architecture and the training settings through callables (one source of truth).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from ...events import Failed, Finished
from ...spec import ArchSpec
from ...sweep import KNOBS, SweepDone, SweepError, SweepStarted, VariantDone, VariantStarted, variants
from ...train_config import TrainConfig
from ..background import BackgroundTask
from ..style import MUTED_STYLE

EXAMPLES = {"ratio": "1, 2, 4, 8", "input_size": "28, 56, 112", "blocks": "1, 2, 3", "convs": "1, 2, 3",
            "dropout": "0, 0.3, 0.5", "hidden": "4096:4096, 512, none", "lr": "0.01, 0.05, 0.1",
            "batch_size": "64, 128, 256", "epochs": "1, 2, 5", "optimizer": "sgd, adam, adamw",
            "momentum": "0, 0.9", "weight_decay": "0, 0.0005", "schedule": "constant, cosine, onecycle",
            "seed": "0, 1, 2", "preset": "tiny, d2l-small"}
KNOB_LABELS = {"ratio": "Channel ratio", "input_size": "Input size", "blocks": "Number of blocks",
               "convs": "Convs in every block", "dropout": "Dropout", "hidden": "Classifier widths",
               "lr": "Learning rate", "batch_size": "Batch size", "epochs": "Epochs", "optimizer": "Optimizer",
               "momentum": "Momentum", "weight_decay": "Weight decay", "schedule": "LR schedule",
               "seed": "Seed", "preset": "Preset"}


class SweepPanel(QWidget):
    engineEvent = Signal(object)  # RunStarted / BatchProgress / EpochEnd / Finished / Failed of the variant
    variantDone = Signal(object)  # sweep.VariantDone
    sweepDone = Signal(object)  # sweep.SweepDone, or None when the sweep could not start (message shown)
    runningChanged = Signal(bool)

    def __init__(self, spec: Callable[[], ArchSpec], config: Callable[[], TrainConfig],
                 runs_root: Callable[[], object] = lambda: None, parent: QWidget | None = None,
                 train_fn=None, busy: Callable[[], str] = lambda: "") -> None:
        super().__init__(parent)
        self.setObjectName("sweepPanel")
        self._spec, self._config, self._runs_root = spec, config, runs_root
        self._train_fn = train_fn  # a test double for engine.train
        self._busy = busy  # why nothing may start now (a training run is going), "" when free
        self.task: BackgroundTask | None = None
        self.done: SweepDone | None = None
        self.current: VariantStarted | None = None
        self._outcome = ""  # what the last sweep came to, shown once it has ended

        self.knob = QComboBox()
        self.knob.setObjectName("sweepKnob")
        self.knob.setToolTip("What changes from one variant to the next")
        self.values = QLineEdit()
        self.values.setObjectName("sweepValues")
        self.values.setToolTip("Comma-separated values; each one is a variant, trained as a normal run")
        self.start_button = QPushButton("Start sweep")
        self.start_button.setObjectName("startSweepButton")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopSweepButton")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel("")
        self.status.setObjectName("sweepProgress")
        self.status.setWordWrap(True)

        note = QLabel("Each value is one variant, trained one after another with the Training tab's settings "
                      "as a normal run, grouped as a sweep in the Runs list and on the Efficiency chart.")
        note.setWordWrap(True)
        note.setStyleSheet(MUTED_STYLE)
        form = QFormLayout()
        form.addRow("Vary", self.knob)
        form.addRow("Values", self.values)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 1)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(note)
        layout.addStretch(1)

        self.refresh_knobs()
        self.knob.currentIndexChanged.connect(self._knob_changed)
        self.values.textChanged.connect(self.check)
        self._knob_changed()

    # ---- choosing ---------------------------------------------------------------------------------

    def refresh_knobs(self) -> None:
        """The knobs, with one pair of per-block knobs for each block of the current architecture."""
        keep = self.knob.currentData()
        self.knob.blockSignals(True)
        self.knob.clear()
        for key in KNOBS:
            if key in KNOB_LABELS:
                self.knob.addItem(KNOB_LABELS[key], key)
        for i in range(1, len(self._spec().blocks) + 1):
            self.knob.addItem(f"Block {i} channels", f"block{i}.channels")
            self.knob.addItem(f"Block {i} convs", f"block{i}.convs")
        index = self.knob.findData(keep)
        self.knob.setCurrentIndex(max(0, index))
        self.knob.blockSignals(False)

    def _knob_changed(self) -> None:
        key = self.knob.currentData() or "ratio"
        example = EXAMPLES.get(key, "32, 64, 128")
        self.values.setPlaceholderText(f"e.g. {example}")
        self.check()

    def vary_text(self) -> str:
        return f"{self.knob.currentData()}={self.values.text()}"

    def check(self, show: bool = True) -> list | None:
        """The variants the choices make, or None with the problem shown; Start follows."""
        if self.task is not None:
            return None
        items, message = None, "Type the values to sweep, separated by commas."
        if self.values.text().strip():
            try:
                items = variants(self._spec(), self._config(), self.vary_text())
                message = f"{len(items)} variants: {', '.join(v.label for v in items)}"
            except SweepError as exc:
                message = str(exc)
        if show:
            self.status.setText(message)
        self.start_button.setEnabled(items is not None)
        return items

    # ---- running ----------------------------------------------------------------------------------

    def start(self) -> None:
        items = self.check()
        if not items:
            return
        reason = self._busy()
        if reason:
            self.status.setText(reason)
            return
        knob, root, train_fn = self.knob.currentData(), self._runs_root(), self._train_fn

        def work(report, cancel: threading.Event) -> SweepDone:
            from ...sweep import run_sweep

            return run_sweep(items, report, cancel, root=root, knob=knob, train_fn=train_fn)

        self.done, self.current, self._outcome = None, None, ""
        self.task = BackgroundTask(work, self)
        self.task.reported.connect(self._on_event)
        self.task.finished.connect(self._on_finished)
        self.task.failed.connect(self._on_failed)
        self.task.ended.connect(self._on_ended)
        self._set_running(True)
        self.status.setText(f"starting {len(items)} variants…")
        self.task.start()

    def stop(self) -> None:
        if self.task is not None:
            self.task.stop()
            where = f" (variant {self.current.index}/{self.current.count})" if self.current else ""
            self.status.setText(f"stopping{where}: the run in progress ends after its current batch…")

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.shutdown()
            self.task = None

    def is_running(self) -> bool:
        return self.task is not None

    def _set_running(self, running: bool) -> None:
        for w in (self.knob, self.values):
            w.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.runningChanged.emit(running)

    def _on_event(self, event) -> None:
        if isinstance(event, SweepStarted):
            return
        if isinstance(event, VariantStarted):
            self.current = event
            self.status.setText(f"variant {event.index}/{event.count}: {event.label}")
        elif isinstance(event, VariantDone):
            self.variantDone.emit(event)
        elif isinstance(event, SweepDone):
            return  # also the return value: handled in _on_finished
        else:
            self.engineEvent.emit(event)

    def _on_finished(self, done: SweepDone) -> None:
        self.done = done
        finished = sum(isinstance(v.result, Finished) and not v.result.cancelled for v in done.results)
        if done.stopped:
            text = f"Sweep stopped: {finished} of {done.count} finished, {done.not_started} not started"
        else:
            text = f"Sweep done: {finished} of {done.count} variants finished"
        failed = [v for v in done.results if isinstance(v.result, Failed)]
        if failed:
            text += "; " + "; ".join(f"{v.label} failed: {v.result.message}" for v in failed)
        self._outcome = text + "."
        self.sweepDone.emit(done)

    def _on_failed(self, message: str) -> None:
        self._outcome = f"The sweep could not run: {message}"
        self.sweepDone.emit(None)

    def _on_ended(self) -> None:
        if self.task is not None:
            self.task.deleteLater()
        self.task = None
        self._set_running(False)
        self.check(show=False)
        self.status.setText(self._outcome)
