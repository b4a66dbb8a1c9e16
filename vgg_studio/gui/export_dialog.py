"""File ▸ Export…: the current architecture or a trained run as Python code, ONNX, a pt2 program or weights.

A thin form over `vgg_studio.export` (the same core as `vgg-studio export`): pick what, in which format and
where; the export runs in a background thread with a busy bar, and the outcome — the files written or why
not — is shown in the dialog. A format whose optional packages are missing says so before anything runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QRadioButton,
                               QVBoxLayout, QWidget)

from ..export import DEFAULT_SUFFIX, FORMATS, ExportError, Exported, export, missing_message, missing_packages
from ..runs import RunError, RunInfo, list_runs
from ..spec import ArchSpec, SpecError
from . import style
from .background import BackgroundTask, start_task

FORMAT_LABELS = {
    "python": "PyTorch code, chapter style (.py)",
    "onnx": "ONNX (.onnx)",
    "pt2": "torch.export program (.pt2)",
    "weights": "Weights (.safetensors, or .pt) + architecture JSON",
}
FORMAT_NOTES = {
    "python": "A readable file with vgg_block, conv_arch and vgg(conv_arch) that needs only torch. For a run, "
              "its weights go to a .pt file beside it, and the file holds the class names and normalisation.",
    "onnx": "For Netron and ONNX Runtime: input 'images' (N, C, S, S) already normalised, output 'logits'; "
            "class names, mean and std in the model's metadata. Can take a minute for a large network.",
    "pt2": "A torch.export program (torch.export.load(path).module()), dynamic batch; metadata inside.",
    "weights": "The state_dict (safetensors, or torch.save for a .pt name) and NAME.arch.json beside it.",
}
FILE_FILTERS = {"python": "Python (*.py)", "onnx": "ONNX (*.onnx)", "pt2": "torch.export program (*.pt2)",
                "weights": "Weights (*.safetensors *.pt *.pth)"}
LAST_DIR_KEY = "export/last_dir"


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-.").lower() or "network"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def run_label(info: RunInfo) -> str:
    acc = "" if info.best_test_acc is None else f", test acc {info.best_test_acc:.3f}"
    return (f"{info.arch_name} · {info.dataset} · {info.epochs_done} epoch{'s' if info.epochs_done != 1 else ''}"
            f"{acc} · {info.created:%Y-%m-%d %H:%M}")


class ExportDialog(QDialog):
    """Choose the source (the editor's architecture or a run), the format and the file; Export writes it."""

    def __init__(self, spec: ArchSpec, spec_valid: bool, runs: list[RunInfo], selected_run: Path | None = None,
                 settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export")
        self.spec, self.spec_valid = spec, spec_valid
        self.settings = settings
        self.task: BackgroundTask | None = None
        self.result: Exported | None = None

        self.arch_choice = QRadioButton(f"Current architecture: {spec.name} (untrained, Xavier init)",
                                        objectName="exportSourceArch")
        self.run_choice = QRadioButton("Trained run:", objectName="exportSourceRun")
        if not spec_valid:
            self.arch_choice.setText(f"Current architecture: {spec.name} (not valid: fix it first)")
        self.sources = QButtonGroup(self)
        self.sources.addButton(self.arch_choice)
        self.sources.addButton(self.run_choice)
        self.run_combo = QComboBox(objectName="exportRunCombo")
        self.run_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for info in runs:
            if info.epochs_done >= 1:
                self.run_combo.addItem(run_label(info), str(info.path))
                self.run_combo.setItemData(self.run_combo.count() - 1, str(info.path), Qt.ItemDataRole.ToolTipRole)
        self.has_runs = self.run_combo.count() > 0
        if not self.has_runs:
            self.run_combo.addItem("(no run has finished an epoch yet)")
        chosen = self.run_combo.findData(str(selected_run)) if selected_run is not None else -1
        if chosen >= 0:
            self.run_combo.setCurrentIndex(chosen)
        use_run = self.has_runs and (chosen >= 0 or not spec_valid)
        (self.run_choice if use_run else self.arch_choice).setChecked(True)

        self.format_combo = QComboBox(objectName="exportFormat")
        for fmt in FORMATS:
            self.format_combo.addItem(FORMAT_LABELS[fmt], fmt)
        self.path_edit = QLineEdit(objectName="exportPath")
        self.path_edit.setPlaceholderText("the file to write")
        self.browse_button = QPushButton("Browse…", objectName="exportBrowse")
        self.note = QLabel(objectName="exportNote", wordWrap=True)
        self.note.setStyleSheet(style.MUTED_STYLE)
        self.progress = QProgressBar(objectName="exportProgress")
        self.progress.setRange(0, 0)  # busy: the exporters report no progress of their own
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel(objectName="exportStatus", wordWrap=True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.setObjectName("exportButton")
        self.export_button.setDefault(True)
        self.close_button = self.buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setObjectName("exportCloseButton")

        source = QVBoxLayout()
        source.addWidget(self.arch_choice)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_choice)
        run_row.addWidget(self.run_combo, 1)
        source.addLayout(run_row)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        form = QFormLayout()
        form.addRow("Export:", source)
        form.addRow("Format:", self.format_combo)
        form.addRow("File:", path_row)
        form.addRow("", self.note)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(620)

        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self.sources.buttonToggled.connect(lambda *_: (self._suggest_path(), self._update_state()))
        self.run_combo.currentIndexChanged.connect(lambda *_: self._suggest_path())
        self.path_edit.textChanged.connect(lambda *_: self._update_state())
        self.browse_button.clicked.connect(self.browse)
        self.export_button.clicked.connect(self.start_export)
        self.buttons.rejected.connect(self.reject)
        self._suggest_path()
        self._format_changed()

    # --- choices -----------------------------------------------------------------------------------
    @property
    def fmt(self) -> str:
        return self.format_combo.currentData()

    def run_path(self) -> Path | None:
        """The chosen run folder, or None when exporting the editor's architecture."""
        return Path(self.run_combo.currentData()) if self.run_choice.isChecked() else None

    def _stem(self) -> str:
        run = self.run_path()
        return _slug(run.name if run is not None else self.spec.name)

    def _folder(self) -> Path:
        current = self.path_edit.text().strip()
        if current:
            return Path(current).expanduser().parent
        last = self.settings.value(LAST_DIR_KEY, "", str) if self.settings is not None else ""
        return Path(last) if last else Path.home()

    def _suggest_path(self) -> None:
        self.path_edit.setText(str(self._folder() / (self._stem() + DEFAULT_SUFFIX[self.fmt])))

    def _format_changed(self, *_args) -> None:
        text = self.path_edit.text().strip()
        if text:  # keep the folder and name, switch the suffix to the format's
            path = Path(text)
            keep = self.fmt == "weights" and path.suffix.lower() in (".pt", ".pth", ".safetensors")
            if not keep:
                self.path_edit.setText(str(path.with_suffix(DEFAULT_SUFFIX[self.fmt])))
        self._update_state()

    def _update_state(self) -> None:
        """Enable what can be used now and say what the format does, or which packages it lacks."""
        missing = missing_packages(self.fmt, self.path_edit.text().strip() or None)
        idle = self.task is None
        self.note.setText(_sentence(missing_message(missing)) if missing else FORMAT_NOTES[self.fmt])
        self.note.setStyleSheet(style.ERROR_TEXT_STYLE if missing else style.MUTED_STYLE)
        source_ok = ((self.run_choice.isChecked() and self.has_runs)
                     or (self.arch_choice.isChecked() and self.spec_valid))
        self.export_button.setEnabled(idle and source_ok and not missing and bool(self.path_edit.text().strip()))
        self.arch_choice.setEnabled(idle and self.spec_valid)
        self.run_choice.setEnabled(idle and self.has_runs)
        self.run_combo.setEnabled(idle and self.has_runs)
        for widget in (self.format_combo, self.path_edit, self.browse_button, self.close_button):
            widget.setEnabled(idle)

    def browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text(), FILE_FILTERS[self.fmt])
        if path:
            self.path_edit.setText(path)

    # --- exporting ---------------------------------------------------------------------------------
    def start_export(self) -> bool:
        """Export in the background; False when there is nothing to start (the reason is shown)."""
        if self.task is not None or not self.export_button.isEnabled():
            return False
        out, fmt, run, spec = Path(self.path_edit.text().strip()).expanduser(), self.fmt, self.run_path(), self.spec

        def work() -> Exported:
            from ..trained import from_run, from_spec

            net = from_run(run) if run is not None else from_spec(spec, f"the vgg-studio editor ({spec.name})")
            return export(net, fmt, out)

        self.result = None
        self.progress.show()
        self.status.setStyleSheet("")
        self.status.setText(f"Exporting to {out.name}…")
        self.task = start_task(work, (ExportError, RunError, SpecError, OSError), self, self._done, self._failed)
        self._update_state()
        if self.settings is not None:
            self.settings.setValue(LAST_DIR_KEY, str(out.parent))
        return True

    def _finish(self) -> None:
        if self.task is not None:
            self.task.deleteLater()
        self.task = None
        self.progress.hide()
        self._update_state()

    def _done(self, result: Exported) -> None:
        self._finish()
        self.result = result
        files = "\n".join(f"  {p}" for p in result.files)
        self.status.setStyleSheet(f"color: {style.OK};")
        self.status.setText(f"Wrote:\n{files}\n{result.description}.")

    def _failed(self, message: str) -> None:
        self._finish()
        self.status.setStyleSheet(style.ERROR_TEXT_STYLE)
        self.status.setText(f"Not exported: {_sentence(message)}")

    def wait(self) -> None:
        """Block until a running export has finished (closing the window mid-export must not cut a file)."""
        if self.task is not None:
            self.task.wait()

    def reject(self) -> None:
        if self.task is None:  # an export cannot be stopped half-way: the dialog stays until it is done
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.task is not None:
            event.ignore()
            return
        super().closeEvent(event)


def install_export(window) -> QAction:
    """Add File ▸ Export… to `window` (the main window): the editor's spec, or the run selected in Runs."""

    def open_dialog() -> ExportDialog:
        training = getattr(window, "training", None)
        runs_root = training.runs_root if training is not None else None
        selected = training.history.selected_paths() if training is not None else []
        try:
            infos = list_runs(runs_root)
        except OSError:
            infos = []
        dialog = ExportDialog(window.document.spec, window.document.is_valid(), infos,
                              selected[0] if len(selected) == 1 else None,
                              window.settings if window.persist else None, window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        window.export_dialog = dialog
        dialog.destroyed.connect(lambda *_: setattr(window, "export_dialog", None))
        dialog.open()
        return dialog

    def wait_for_export() -> None:
        dialog = getattr(window, "export_dialog", None)
        if dialog is not None:
            dialog.wait()

    action = QAction("&Export…", window, objectName="action_export")
    action.setShortcut(QKeySequence("Ctrl+E"))
    action.setStatusTip("Export the architecture or a trained run as PyTorch code, ONNX, a pt2 program or weights")
    action.triggered.connect(lambda _checked=False: open_dialog())
    window.file_menu.insertAction(window.action_quit, action)
    window.file_menu.insertSeparator(window.action_quit)
    window.export_dialog = None
    window.open_export_dialog = open_dialog
    window.close_hooks.append(wait_for_export)
    return action
