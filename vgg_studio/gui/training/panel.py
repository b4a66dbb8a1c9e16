"""The training settings form, Start/Stop, progress and the run's closing summary.

The panel only edits a `TrainConfig` and shows what it is told; starting, stopping and the engine's
events are the controller's business (`controller.py`). Input size ("resize") belongs to the
architecture, so by default the panel shows the spec's size; an explicit override is applied to the
snapshot that is trained (as the CLI's `--resize` does), and the run's saved `arch.json` records it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from ...events import (BatchProgress, Compiling, DataProgress, EpochEnd, Failed, Finished, Notice, RunStarted,
                        StepProgress)
from ...recipes import apply_recipe, recipe, recipe_of
from ...spec import MAX_INPUT_SIZE, ArchSpec
from ...train_config import (DATASET_CHOICES, DATASET_LABELS, DEFAULT_LR, FOLDER_PREFIX, OPTIMIZER_LABELS,
                             OPTIMIZERS, RECIPE_LABELS, RECIPES, SCHEDULE_LABELS, SCHEDULES, TrainConfig,
                             dataset_folder, folder_dataset)
from ...units import format_duration, share_percent
from ..style import ERROR_TEXT_STYLE, MUTED_STYLE, WARNING_TEXT_STYLE
from ..text import OptionalLabel, count
from ..widgets import VerticalScrollArea


def _short_label(dataset: str) -> str:
    """The box's text: "Auto" alone (what it resolves to is named under the box), else the dataset's label."""
    return "Auto" if dataset == "auto" else DATASET_LABELS.get(dataset, dataset)


CURVE_POINTS_PER_EPOCH = 20  # points of the live curves per epoch (fewer when an epoch has fewer batches)

CHOOSE_FOLDER = FOLDER_PREFIX  # the data of the "Image folder…" entry: choosing it opens a folder dialog


def max_processes(devices: list[tuple[str, str]]) -> int:
    """The Processes setting's maximum: the CPU count (Gloo on CPU processes) or, with GPUs, at least their count."""
    gpus = 0
    if any(value == "cuda" for value, _ in devices):
        import torch  # loaded by now: the device list came from it

        gpus = torch.cuda.device_count()
    return max(1, os.cpu_count() or 1, gpus)


class TrainingPanel(QWidget):
    """Settings in, Start/Stop requests out; progress and results shown as words."""

    startRequested = Signal()
    stopRequested = Signal()
    configChanged = Signal(object)  # TrainConfig, after any setting changed (the summary's memory line follows)
    wayOutChosen = Signal(str, object)  # a cheaper choice offered under a long estimate: ("resize", 64), ...
    discardRequested = Signal(str)  # the folder of a run stopped before its first epoch, to delete

    def __init__(self, devices: list[tuple[str, str]] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self._spec: ArchSpec | None = None
        self._arch_valid = False
        self._running = False
        self._availability: Mapping[str, Any] = {}
        self._auto: str | None = None  # what "auto" resolves to, when known
        self._epochs = 0  # of the active run, from RunStarted
        self._data_notes = ""  # of the active run, from RunStarted: images read or skipped, resident or streaming
        self._warm_lines: tuple[str, ...] = ()  # of the active run: what its warm start reused, kept in view
        defaults = TrainConfig()

        self.recipe = QComboBox(objectName="recipeCombo")
        for name in RECIPES:
            self.recipe.addItem(RECIPE_LABELS.get(name, name), name)
            self.recipe.setItemData(self.recipe.count() - 1, recipe(name).about, Qt.ItemDataRole.ToolTipRole)
        self.recipe.addItem("custom (edited)", "custom")
        self.recipe.setToolTip("A recipe fills in the settings below; every one stays yours to change.")

        self.dataset = QComboBox(objectName="datasetCombo")
        for name in DATASET_CHOICES:
            self.dataset.addItem(_short_label(name), name)
        self.dataset.addItem("Image folder…", CHOOSE_FOLDER)
        self.dataset.setItemData(self.dataset.count() - 1, "Your own images: a folder with one subfolder of "
                                 "images per class", Qt.ItemDataRole.ToolTipRole)
        self._dataset_before = 0  # selected again when the folder dialog is cancelled
        self.dataset_hint = QLabel(objectName="datasetHint", wordWrap=True)
        self.dataset_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dataset_hint.setStyleSheet(MUTED_STYLE)

        self.resize_box = QSpinBox(objectName="resizeSpin", minimum=0, maximum=MAX_INPUT_SIZE)
        self.resize_box.setSuffix(" px")
        self.resize_box.setToolTip("Images are resized to the architecture's input size. Set a size here to "
                                   "train this run at another size (the run saves the resized architecture).")

        self.epochs = QSpinBox(objectName="epochsSpin", minimum=1, maximum=10_000, value=defaults.epochs)
        self.batch_size = QSpinBox(objectName="batchSizeSpin", minimum=1, maximum=65_536,
                                   value=defaults.batch_size)
        self.lr = QDoubleSpinBox(objectName="lrSpin", decimals=5, minimum=1e-5, maximum=1e4, value=defaults.lr)
        self.lr.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.optimizer = QComboBox(objectName="optimizerCombo")
        for name in OPTIMIZERS:
            self.optimizer.addItem(OPTIMIZER_LABELS.get(name, name), name)
        self.momentum = QDoubleSpinBox(objectName="momentumSpin", decimals=3, minimum=0.0, maximum=0.999,
                                       singleStep=0.05, value=defaults.momentum)
        self.nesterov = QCheckBox("Nesterov", objectName="nesterovCheck", checked=defaults.nesterov)
        self.weight_decay = QDoubleSpinBox(objectName="weightDecaySpin", decimals=6, minimum=0.0, maximum=1.0,
                                           value=defaults.weight_decay)
        self.weight_decay.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.bias_decay = QCheckBox("on biases too", objectName="biasDecayCheck", checked=defaults.bias_decay)
        self.label_smoothing = QDoubleSpinBox(objectName="labelSmoothingSpin", decimals=3, minimum=0.0,
                                              maximum=0.999, singleStep=0.05, value=defaults.label_smoothing)
        self.flip = QCheckBox("random flips", objectName="flipCheck", checked=defaults.flip)
        self.flip.setToolTip("Random left-right flips of training images, drawn on the device.")
        self.shift = QSpinBox(objectName="shiftSpin", minimum=0, maximum=64, value=defaults.shift)
        self.shift.setPrefix("shift ± ")
        self.shift.setSuffix(" px")
        self.shift.setToolTip("Random shifts of training images by up to this many pixels each way.")
        self.schedule = QComboBox(objectName="scheduleCombo")
        for name in SCHEDULES:
            self.schedule.addItem(SCHEDULE_LABELS.get(name, name), name)
        self.device = QComboBox(objectName="deviceCombo")
        if devices is None:
            from ...engine import available_devices  # torch is loaded by now (the summary uses it)

            devices = available_devices()
        for value, label in devices:
            self.device.addItem(label, value)
        self.seed = QSpinBox(objectName="seedSpin", minimum=0, maximum=2**31 - 1, value=defaults.seed)
        self.compile = QCheckBox("compile (torch.compile)", objectName="compileCheck", checked=defaults.compile)
        self.compile.setToolTip("Run the training and evaluation steps through torch.compile. Compiling takes "
                                "a while once per run; on a CPU it rarely pays back (see benchmarks/RESULTS.md).")
        # Several processes train one run through torchrun (DistributedDataParallel): one per GPU with NCCL, or
        # CPU processes with Gloo. The batch size stays the global batch, split between the processes.
        self.processes = QSpinBox(objectName="processesSpin", minimum=1, maximum=max_processes(devices), value=1)
        self.processes.setToolTip("Processes training this run together (torchrun, DistributedDataParallel): up "
                                  "to one per GPU, or up to the CPU count on the CPU (Gloo). Each takes its share "
                                  "of every batch, so the batch size must be a multiple of it.")

        for combo in (self.recipe, self.dataset, self.optimizer, self.schedule, self.device):
            # As narrow as ~12 characters (the full text in the popup), so the panel fits beside the summary.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(4)
        form.addRow("Recipe", self.recipe)
        form.addRow("Dataset", self.dataset)
        form.addRow(self.dataset_hint)
        form.addRow("Resize to", self.resize_box)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch_size)
        form.addRow("Learning rate", self.lr)
        form.addRow("Optimizer", self.optimizer)
        # Check boxes on rows of their own, so the panel stays as narrow as its combo boxes.
        form.addRow("Momentum", self.momentum)
        form.addRow("", self.nesterov)
        form.addRow("Weight decay", self.weight_decay)
        form.addRow("", self.bias_decay)
        form.addRow("LR schedule", self.schedule)
        form.addRow("Label smoothing", self.label_smoothing)
        form.addRow("Augment", self.shift)
        form.addRow("", self.flip)
        form.addRow("Device", self.device)
        form.addRow("", self.compile)
        form.addRow("Seed", self.seed)
        form.addRow("Processes", self.processes)

        # Warm start after an edit: the chosen run's weights fill every layer that still fits.
        self.runs_dir: Path | None = None  # where "Start from run…" opens; the controller sets it
        self._init_from: str | None = None
        self.start_from_button = QPushButton("Start from run…", objectName="startFromButton")
        self.start_from_button.setToolTip("Begin from a finished run's weights: every layer whose place and shape "
                                          "still fit is copied (BatchNorm statistics too), the rest start fresh")
        self.fresh_button = QPushButton("Fresh", objectName="freshStartButton")
        self.fresh_button.setToolTip("Start from Xavier-initialised weights, as d2l does")
        self.init_from_label = QLabel(objectName="initFromLabel", wordWrap=True)
        self.init_from_label.setStyleSheet(MUTED_STYLE)
        self.start_from_button.clicked.connect(self.choose_init_from)
        self.fresh_button.clicked.connect(lambda: self.set_init_from(None))
        start_row = QHBoxLayout()
        start_row.addWidget(self.start_from_button, 1)
        start_row.addWidget(self.fresh_button)
        form.addRow("Weights", start_row)
        form.addRow("", self.init_from_label)
        self._show_init_from()

        self.train_button = QPushButton("Start training", objectName="trainButton")
        self.stop_button = QPushButton("Stop", objectName="stopButton", enabled=False)
        self.train_button.clicked.connect(self.startRequested)
        self.stop_button.clicked.connect(self._on_stop_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button, 1)
        buttons.addWidget(self.stop_button)

        self.progress = QProgressBar(objectName="progressBar", minimum=0, maximum=1, value=0)
        self.progress.setFormat("Idle")
        self.progress.setTextVisible(True)
        self.status = OptionalLabel(objectName="trainingStatus")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hardware_share = OptionalLabel(objectName="hardwareShare")
        self.hardware_share.setToolTip("Achieved FLOP/s (3 × the forward FLOPs per example × training "
                                       "examples/sec) over a measured matmul peak of this device.")
        self.summary = OptionalLabel(objectName="trainingSummary")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setStyleSheet("font-family: monospace;")

        # What it will cost, before Start: filled by the controller from a quick measured speed.
        self.cost_estimate = OptionalLabel(objectName="costEstimate")
        self.cost_estimate.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ways_out = QWidget(objectName="waysOut", visible=False)  # one-click cheaper choices when slow
        self.ways_out_layout = QHBoxLayout(self.ways_out)
        self.ways_out_layout.setContentsMargins(0, 0, 0, 0)
        self.ways_out_layout.setSpacing(4)
        self.discard_button = QPushButton("Discard this run", objectName="discardRunButton", visible=False)
        self.discard_button.setToolTip("The run stopped before its first epoch ended: it holds a few points of "
                                       "the loss curve and nothing to resume or inspect.")
        self.discard_button.clicked.connect(self._on_discard_clicked)
        self._discardable: str | None = None

        # The settings scroll; what starts, stops and reports a run stays in view below them.
        settings = QWidget(objectName="trainingSettings")
        settings_layout = QVBoxLayout(settings)
        settings_layout.setContentsMargins(6, 6, 6, 0)
        settings_layout.addLayout(form)
        settings_layout.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 6)
        layout.addWidget(VerticalScrollArea(settings, objectName="trainingSettingsScroll"), 1)
        footer = QVBoxLayout()
        footer.setContentsMargins(6, 0, 6, 0)
        footer.addWidget(self.cost_estimate)
        footer.addWidget(self.ways_out)
        footer.addLayout(buttons)
        footer.addWidget(self.progress)
        footer.addWidget(self.hardware_share)
        footer.addWidget(self.summary)
        footer.addWidget(self.status)
        footer.addWidget(self.discard_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(footer)

        self.dataset.currentIndexChanged.connect(self._update_dataset_hint)
        self.dataset.activated.connect(self._on_dataset_activated)
        self.optimizer.currentIndexChanged.connect(self._update_momentum)
        self._optimizer_shown = self.optimizer.currentData()
        self.optimizer.currentIndexChanged.connect(self._suggest_lr)
        for combo in (self.dataset, self.optimizer, self.schedule, self.device):
            combo.currentIndexChanged.connect(self._emit_config)
        for spin in (self.resize_box, self.epochs, self.batch_size, self.lr, self.momentum, self.seed,
                     self.weight_decay, self.label_smoothing, self.shift):
            spin.valueChanged.connect(self._emit_config)
        for check in (self.nesterov, self.bias_decay, self.flip, self.compile):
            check.toggled.connect(self._emit_config)
        self.recipe.activated.connect(self._on_recipe_chosen)
        for edited in (self.batch_size.valueChanged, self.lr.valueChanged, self.optimizer.currentIndexChanged,
                       self.momentum.valueChanged, self.nesterov.toggled, self.weight_decay.valueChanged,
                       self.bias_decay.toggled, self.schedule.currentIndexChanged,
                       self.label_smoothing.valueChanged, self.flip.toggled, self.shift.valueChanged):
            edited.connect(self._update_recipe)
        self._peak_label = ""  # of the active run, from RunStarted: "this CPU's bf16 peak"
        self._update_momentum()
        self._update_recipe()
        self._update_buttons()

    # --- inputs ------------------------------------------------------------------------------------
    def set_spec(self, spec: ArchSpec) -> None:
        """Show the architecture's input size as the default resize."""
        self._spec = spec
        size = spec.input_size if isinstance(spec.input_size, int) else "?"
        self.resize_box.setSpecialValueText(f"{size} px (as built)")

    def set_architecture_valid(self, valid: bool) -> None:
        self._arch_valid = valid
        self._update_buttons()

    def set_availability(self, availability: Mapping[str, Any], auto: str | None = None) -> None:
        """`data.availability()`: mark missing datasets and keep the hint for the selected one; `auto` is what
        "auto" resolves to now (`data.resolve_dataset_name`), named under the box before anything runs."""
        self._availability = availability
        self._auto = auto
        for i in range(self.dataset.count()):
            name = self.dataset.itemData(i)
            if name not in DATASET_CHOICES:  # an image folder, or the entry that chooses one
                continue
            info = availability.get(name)
            label = _short_label(name)
            if info is not None and not info.available:
                label += " (not on disk)"
            self.dataset.setItemText(i, label)
            tip = DATASET_LABELS.get(name, name) if name == "auto" else info.detail if info is not None else ""
            self.dataset.setItemData(i, tip, Qt.ItemDataRole.ToolTipRole)
        self._update_dataset_hint()

    def config(self) -> TrainConfig:
        """The settings as shown, as the engine's immutable config."""
        optimizer = self.optimizer.currentData()
        return TrainConfig(dataset=self.dataset.currentData(), epochs=self.epochs.value(),
                           batch_size=self.batch_size.value(), lr=self.lr.value(), optimizer=optimizer,
                           momentum=self.momentum.value(),
                           nesterov=self.nesterov.isChecked() and optimizer == "sgd" and self.momentum.value() > 0,
                           weight_decay=self.weight_decay.value(), bias_decay=self.bias_decay.isChecked(),
                           schedule=self.schedule.currentData(), label_smoothing=self.label_smoothing.value(),
                           flip=self.flip.isChecked(), shift=self.shift.value(), compile=self.compile.isChecked(),
                           device=self.device.currentData(), seed=self.seed.value(),
                           points_per_epoch=CURVE_POINTS_PER_EPOCH, init_from=self._init_from)

    def init_from(self) -> str | None:
        return self._init_from

    def set_init_from(self, run_dir: str | None) -> bool:
        """Warm-start the next run from `run_dir` (None: fresh); a folder without weights is refused with a message."""
        if run_dir is not None:
            from ...runs import RunError
            from ...warm_start import weights_file

            try:
                weights_file(run_dir)
            except RunError as exc:
                self.show_error(str(exc))
                return False
        self._init_from = run_dir
        self._show_init_from()
        self._update_buttons()
        return True

    def _show_init_from(self) -> None:
        run_dir = self._init_from
        self.init_from_label.setText("Fresh start (Xavier init)" if run_dir is None else
                                     f"From {Path(run_dir).name}: layers that still fit are copied")
        self.init_from_label.setToolTip(run_dir or "")

    def choose_init_from(self) -> bool:
        start = self._init_from or (str(self.runs_dir) if self.runs_dir is not None else "")
        folder = QFileDialog.getExistingDirectory(self, "Start from run", start)
        return bool(folder) and self.set_init_from(folder)

    def set_folder(self, path: str | Path) -> None:
        """Select an image folder: one "Folder: name" entry above "Image folder…", replacing an earlier one."""
        name = folder_dataset(path)
        index = next((i for i in range(self.dataset.count()) if dataset_folder(self.dataset.itemData(i))
                      and self.dataset.itemData(i) != CHOOSE_FOLDER), -1)
        if index < 0:
            index = self.dataset.count() - 1
            self.dataset.insertItem(index, "", name)
        self.dataset.setItemText(index, f"Folder: {Path(name[len(FOLDER_PREFIX):]).name}")
        self.dataset.setItemData(index, name, Qt.ItemDataRole.UserRole)
        self.dataset.setItemData(index, name[len(FOLDER_PREFIX):], Qt.ItemDataRole.ToolTipRole)
        self.dataset.setCurrentIndex(index)

    def set_config(self, config: TrainConfig) -> None:
        if dataset_folder(config.dataset) and config.dataset != CHOOSE_FOLDER:
            self.set_folder(dataset_folder(config.dataset))
        for combo, value in ((self.dataset, config.dataset), (self.optimizer, config.optimizer),
                             (self.schedule, config.schedule), (self.device, config.device)):
            index = combo.findData(value)
            if index >= 0:
                combo.setCurrentIndex(index)
        self.epochs.setValue(config.epochs)
        self.batch_size.setValue(config.batch_size)
        self.lr.setValue(config.lr)
        self.momentum.setValue(config.momentum)
        self.nesterov.setChecked(config.nesterov)
        self.weight_decay.setValue(config.weight_decay)
        self.bias_decay.setChecked(config.bias_decay)
        self.label_smoothing.setValue(config.label_smoothing)
        self.flip.setChecked(config.flip)
        self.shift.setValue(config.shift)
        self.compile.setChecked(config.compile)
        self.seed.setValue(min(config.seed, self.seed.maximum()))
        self._update_recipe()

    def resize_override(self) -> int | None:
        """The input size to train at instead of the architecture's, or None to keep it."""
        return self.resize_box.value() or None

    def apply_resize(self, spec: ArchSpec) -> ArchSpec:
        size = self.resize_override()
        return spec if size is None or size == spec.input_size else spec.replace(input_size=size)

    # --- settings ----------------------------------------------------------------------------------
    def save_settings(self, settings: QSettings) -> None:
        # A warm start is chosen per run, never carried into the next session.
        settings.setValue("training/config", self.config().replace(init_from=None).to_dict())
        settings.setValue("training/resize", self.resize_box.value())
        settings.setValue("training/processes", self.processes.value())

    def restore_settings(self, settings: QSettings) -> None:
        raw = settings.value("training/config")
        if isinstance(raw, dict):
            try:
                self.set_config(TrainConfig().replace(**{k: v for k, v in raw.items()
                                                         if k in TrainConfig.__dataclass_fields__}))
            except (TypeError, ValueError):  # settings from another version: defaults, not half of them
                self.set_config(TrainConfig())
        try:
            self.resize_box.setValue(int(settings.value("training/resize", 0)))
        except (TypeError, ValueError):
            self.resize_box.setValue(0)
        try:
            self.processes.setValue(int(settings.value("training/processes", 1)))
        except (TypeError, ValueError):
            self.processes.setValue(1)

    # --- run state ---------------------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        self._running = running
        for w in (self.recipe, self.dataset, self.resize_box, self.epochs, self.batch_size, self.lr, self.optimizer,
                  self.momentum, self.weight_decay, self.bias_decay, self.schedule, self.label_smoothing, self.flip,
                  self.shift, self.device, self.compile, self.seed, self.processes, self.start_from_button):
            w.setEnabled(not running)
        self.ways_out.setVisible(not running and self.ways_out_layout.count() > 1)
        if running:
            self.offer_discard(None)
            self.hardware_share.clear()
            self.progress.setRange(0, 0)  # busy until the engine says how many batches there are
            self._warm_lines = ()
            self._data_notes = ""
            self.progress.setFormat("Preparing data…")
            self.status.setStyleSheet("")
            self.status.clear()
            self.summary.clear()
        self._update_momentum()
        self._update_buttons()

    def show_data_progress(self, event: DataProgress) -> None:
        """Reading an image folder into its cache (first run only): files done, rate, ETA; Stop cancels it."""
        self.progress.setRange(0, max(1, event.total))
        self.progress.setValue(event.done)
        self.progress.setFormat(f"Reading images {event.done:,}/{event.total:,} · {event.files_per_sec:,.0f} "
                                f"files/s · ETA {format_duration(event.eta_s)}")
        skipped = f" {event.skipped:,} unreadable so far (skipped)." if event.skipped else ""
        self.status.setText(f"Reading {event.folder} once into the image cache; later runs start at once."
                            f"{skipped}")

    def show_started(self, event: RunStarted) -> None:
        total = max(1, event.epochs * event.batches_per_epoch)
        self.progress.setRange(0, total)
        self.progress.setValue(event.start_epoch * event.batches_per_epoch)
        self.progress.setFormat(f"Epoch {event.start_epoch + 1}/{event.epochs} · batch 0/{event.batches_per_epoch}"
                                " · first batch…")
        self._epochs = event.epochs
        self._peak_label = event.peak_label
        self._data_notes = "".join(f"\n{note[0].upper()}{note[1:]}." for note in event.data_notes)
        self._warm_lines = event.warm_start_lines()
        self.status.setText("\n".join([f"Training on {event.device}: {event.dataset}, {event.num_train:,} train / "
                                       f"{event.num_test:,} test images, {event.params:,} parameters."
                                       f"{self._data_notes}", *self._warm_lines]))

    def show_progress(self, event: BatchProgress | StepProgress) -> None:
        epochs = self._epochs or event.epoch
        if self.progress.maximum() == 0:
            self.progress.setRange(0, max(1, epochs * event.num_batches))
        self.progress.setValue((event.epoch - 1) * event.num_batches + event.batch)
        self.progress.setFormat(f"Epoch {event.epoch}/{epochs} · batch {event.batch}/{event.num_batches} · "
                                f"{event.examples_per_sec:,.0f} ex/s · ETA {format_duration(event.eta_s)}")
        if isinstance(event, BatchProgress):  # StepProgress has no share: it is read back with the points
            self._show_share(event.examples_per_sec, event.hardware_share)

    def show_compiling(self, event: Compiling) -> None:
        self.progress.setFormat(f"Compiling the {event.step} step (torch.compile, once per run)…")

    def show_notice(self, event: Notice) -> None:
        self.status.setStyleSheet(WARNING_TEXT_STYLE)
        self.status.setText(event.message)

    def _show_share(self, examples_per_sec: float, fraction: float) -> None:
        """"N ex/s ≈ 12% of this CPU's bf16 peak" (nothing until the engine has measured the peak)."""
        if not self._peak_label or not math.isfinite(fraction):
            self.hardware_share.clear()
            return
        self.hardware_share.setText(f"{examples_per_sec:,.0f} ex/s ≈ {share_percent(fraction)} of "
                                    f"{self._peak_label}")

    def show_epoch(self, event: EpochEnd) -> None:
        self.summary.setText(f"epoch {event.epoch}: loss {event.train_loss:.3f}, train acc "
                             f"{event.train_acc:.3f}, test acc {event.test_acc:.3f}\n"
                             f"{event.examples_per_sec:.1f} examples/sec, ETA {format_duration(event.eta_s)}")
        self._show_share(event.examples_per_sec, event.hardware_share)

    def show_stopping(self) -> None:
        self.stop_button.setEnabled(False)
        self.status.setText("Stopping after the current batch…")

    def show_result(self, result: Finished | Failed) -> None:
        """d2l's closing lines, or the failure in words; the panel is ready for the next run."""
        self.set_running(False)
        self.progress.setRange(0, 1)
        if isinstance(result, Finished):
            self.progress.setValue(1 if not result.cancelled else 0)
            self.progress.setFormat(f"Stopped after {count(result.epochs_done, 'epoch')}" if result.cancelled
                                    else f"Done: {count(result.epochs_done, 'epoch')}")
            if result.epochs_done:
                self.summary.setText("\n".join(result.summary_lines()))
            else:
                self.summary.clear()
            self.status.setStyleSheet("")
            self.status.setText("\n".join([f"Stopped; what was measured is saved in {result.run_dir}."
                                            if result.cancelled else f"Saved in {result.run_dir}.{self._data_notes}",
                                            *self._warm_lines]))
            if result.cancelled and not result.epochs_done and result.run_dir:
                self.offer_discard(result.run_dir)
        else:
            self.progress.setValue(0)
            self.progress.setFormat("Failed")
            self.status.setStyleSheet(ERROR_TEXT_STYLE)
            self.status.setText(result.message)

    def show_error(self, message: str) -> None:
        """A problem found before starting (bad settings or architecture)."""
        self.status.setStyleSheet(ERROR_TEXT_STYLE)
        self.status.setText(message)

    def offer_discard(self, run_dir: str | None) -> None:
        """Show (or, with None, hide) the button that deletes a run stopped before its first epoch."""
        self._discardable = run_dir
        self.discard_button.setVisible(run_dir is not None)
        if run_dir is not None:
            self.status.setText("Stopped before the first epoch ended: nothing to resume or inspect.")

    def show_estimate(self, text: str, *, slow: bool = False,
                      ways_out: tuple[tuple[str, object, str], ...] = ()) -> None:
        """The cost line next to Start; when `slow`, said plainly, with one button per (kind, value, label)."""
        self.cost_estimate.setText(text)
        self.cost_estimate.setStyleSheet(WARNING_TEXT_STYLE if slow else "")
        while self.ways_out_layout.count():
            item = self.ways_out_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for kind, value, label in ways_out:
            button = QPushButton(label, objectName=f"wayOut_{kind}")
            button.clicked.connect(lambda _checked=False, k=kind, v=value: self.wayOutChosen.emit(k, v))
            self.ways_out_layout.addWidget(button)
        self.ways_out_layout.addStretch(1)
        self.ways_out.setVisible(bool(ways_out) and not self._running)

    def reveal(self, field: QWidget) -> None:
        """Scroll `field` into view and give it the focus (e.g. the batch size, from the summary's link)."""
        self.findChild(VerticalScrollArea, "trainingSettingsScroll").ensureWidgetVisible(field)
        field.setFocus(Qt.FocusReason.OtherFocusReason)

    # --- internals ---------------------------------------------------------------------------------
    def _emit_config(self, *_args) -> None:
        self.configChanged.emit(self.config())

    def _suggest_lr(self) -> None:
        """Switching the optimizer suggests its usual learning rate, unless the user typed another one."""
        old, new = self._optimizer_shown, self.optimizer.currentData()
        self._optimizer_shown = new
        if old in DEFAULT_LR and new in DEFAULT_LR and abs(self.lr.value() - DEFAULT_LR[old]) < 1e-9:
            self.lr.setValue(DEFAULT_LR[new])

    def _on_discard_clicked(self) -> None:
        if self._discardable is not None:
            self.discardRequested.emit(self._discardable)
        self.offer_discard(None)

    def _on_stop_clicked(self) -> None:
        self.show_stopping()
        self.stopRequested.emit()

    def _update_buttons(self) -> None:
        self.train_button.setEnabled(self._arch_valid and not self._running)
        self.train_button.setToolTip("" if self._arch_valid or self._running
                                     else "Fix the architecture's errors first.")
        self.stop_button.setEnabled(self._running)
        self.fresh_button.setEnabled(self._init_from is not None and not self._running)

    def _update_momentum(self) -> None:
        # Momentum is SGD's; Adam has its own betas.
        sgd = self.optimizer.currentData() == "sgd"
        self.momentum.setEnabled(not self._running and sgd)
        self.nesterov.setEnabled(not self._running and sgd)

    def _on_recipe_chosen(self, index: int) -> None:
        name = self.recipe.itemData(index)
        if name in RECIPES:
            self.set_config(apply_recipe(self.config(), name))

    def _update_recipe(self) -> None:
        """Show which recipe the settings are (or "custom" once one of them was edited)."""
        index = self.recipe.findData(recipe_of(self.config()))
        self.recipe.blockSignals(True)
        self.recipe.setCurrentIndex(index)
        self.recipe.blockSignals(False)

    def _on_dataset_activated(self, index: int) -> None:
        """The user picked an entry; "Image folder…" asks for the folder (cancelled: the previous choice stays)."""
        if self.dataset.itemData(index) != CHOOSE_FOLDER:
            return
        previous = dataset_folder(self.dataset.itemData(self._dataset_before))
        path = QFileDialog.getExistingDirectory(self, "Image folder: one subfolder of images per class",
                                                str(previous or Path.home()))
        if path:
            self.set_folder(path)
        else:
            self.dataset.setCurrentIndex(self._dataset_before)

    def _update_dataset_hint(self) -> None:
        if self.dataset.currentData() != CHOOSE_FOLDER:
            self._dataset_before = self.dataset.currentIndex()
        folder = dataset_folder(self.dataset.currentData())
        if folder is not None and self.dataset.currentData() != CHOOSE_FOLDER:
            self.dataset_hint.setText(f"{folder}: a subfolder per class, read once into a cache in the data folder.")
            self.dataset_hint.setToolTip(str(folder))
            self.dataset_hint.setStyleSheet(MUTED_STYLE)
            self.dataset_hint.show()
            return
        name = self.dataset.currentData()
        auto = name == "auto" and self._auto is not None
        info = self._availability.get(self._auto if auto else name)
        if info is None:
            self.dataset_hint.clear()
            self.dataset_hint.hide()
            return
        # Available: a short line (the full path in the tooltip); missing: the whole hint, it says what to do.
        if auto:
            why = "" if self._auto != "sample" else " (the full Fashion-MNIST is not on disk)"
            text = f"Will use: {DATASET_LABELS.get(self._auto, self._auto)}{why}"
        else:
            text = f"On disk: {Path(info.detail).name}" if info.available else f"Not on disk. {info.detail}"
        self.dataset_hint.setText(text)
        self.dataset_hint.setToolTip(info.detail)
        self.dataset_hint.setStyleSheet(MUTED_STYLE if info.available else WARNING_TEXT_STYLE)
        self.dataset_hint.show()

