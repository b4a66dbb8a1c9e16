"""Wires the baseline into a window: the Compare menu, Ctrl+B, the summary's Δ columns, the charts' ghost
bars, and the status-bar note of what the last edit did when nothing is pinned.

`install_baseline(window)` is called once by the main window, after the training panels (so a past run's
architecture can be pinned from the Runs list and new runs find their parent through the baseline).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QStatusBar, QToolBar

from ...compare import compare, load_reference
from ...spec import PRESET_NAMES, ArchSpec, SpecError, preset
from ...summary import Summary
from .baseline import Baseline
from .baseline_views import BaselineBar, SummaryDeltas
from .charts import ChartsPanel
from .document import ArchDocument
from .summary_view import SummaryView

if TYPE_CHECKING:
    from ..training.controller import TrainingController

EDIT_NOTE_MS = 5000  # how long the status bar shows what the last edit did
FILE_FILTER = "Architecture or run (*.json);;All files (*)"


class BaselineHost(Protocol):
    """What the baseline needs from its window (MainWindow)."""

    document: ArchDocument
    settings: QSettings
    persist: bool
    summary_view: SummaryView
    charts: ChartsPanel
    toolbar: QToolBar
    view_menu: QMenu
    training: TrainingController  # installed first: runs can be pinned, new runs find their parent

    def menuBar(self): ...

    def statusBar(self) -> QStatusBar: ...


def reference_label(ref: str, spec: ArchSpec) -> str:
    """How the headline names a baseline given as a preset, a file or a run folder."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return f"run {path.name}"
    if path.name == "arch.json" and (path.parent / "run.json").exists():
        return f"run {path.parent.name}"
    if path.exists():
        return path.name
    return spec.name


class BaselineController(QObject):
    def __init__(self, window: BaselineHost) -> None:
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.baseline = Baseline(self.document, window.settings, window.persist, parent=self)
        self.deltas = SummaryDeltas(window.summary_view, self.baseline)
        self.bar = BaselineBar(self.baseline, window.summary_view, self.unpin)
        self.baseline.changed.connect(self._show_on_charts)
        self.baseline.changed.connect(self._update_actions)
        self._build_actions()
        self._previous: Summary | None = self.document.summary
        self.document.undo_stack.indexChanged.connect(lambda _index: self._note_edit())
        self.document.pathChanged.connect(lambda _path: self._forget_previous())
        self.document.validityChanged.connect(lambda _valid: self._update_actions())
        window.training.baseline_spec = lambda: self.baseline.spec
        window.training.history.selectionChanged.connect(lambda _paths: self._update_actions())
        self._show_on_charts()
        self._update_actions()

    # --- actions -----------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        w = self.window
        self.action_pin = QAction("&Pin as Baseline", w, objectName="action_pin_baseline")
        self.action_pin.setShortcut(QKeySequence("Ctrl+B"))
        self.action_pin.setToolTip("Measure every edit from now on against the architecture as it is now (Ctrl+B)")
        self.action_pin.setStatusTip(self.action_pin.toolTip())
        self.action_pin.triggered.connect(lambda _checked=False: self.pin_current())
        self.action_pin_file = QAction("Pin a &File as Baseline…", w, objectName="action_pin_baseline_file")
        self.action_pin_file.setToolTip("Compare with an architecture file (or a run folder's arch.json)")
        self.action_pin_file.triggered.connect(lambda _checked=False: self.pin_file())
        self.action_pin_run = QAction("Pin the Selected &Run as Baseline", w, objectName="action_pin_run_baseline")
        self.action_pin_run.setToolTip("Compare with the architecture the run selected in Runs trained")
        self.action_pin_run.triggered.connect(lambda _checked=False: self.pin_selected_run())
        self.action_unpin = QAction("&Unpin Baseline", w, objectName="action_unpin_baseline")
        self.action_unpin.setShortcut(QKeySequence("Ctrl+Shift+B"))
        self.action_unpin.triggered.connect(lambda _checked=False: self.unpin())
        self.preset_actions: dict[str, QAction] = {}

        menu = QMenu("&Compare", w, objectName="compareMenu")
        menu.addAction(self.action_pin)
        presets = menu.addMenu("Pin a &Preset as Baseline")
        presets.setObjectName("pinPresetMenu")
        for name in PRESET_NAMES:
            action = presets.addAction(preset(name).name)
            action.setObjectName(f"pin_baseline_{name}")
            action.triggered.connect(lambda _checked=False, name=name: self.pin_reference(name))
            self.preset_actions[name] = action
        menu.addActions([self.action_pin_file, self.action_pin_run])
        menu.addSeparator()
        menu.addAction(self.action_unpin)
        w.menuBar().insertMenu(w.view_menu.menuAction(), menu)
        self.menu = menu
        w.toolbar.addSeparator()
        w.toolbar.addAction(self.action_pin)

    def _update_actions(self) -> None:
        self.action_pin.setEnabled(self.document.summary is not None)
        self.action_unpin.setEnabled(self.baseline.is_pinned())
        self.action_pin_run.setEnabled(len(self.window.training.history.selected_paths()) == 1)

    # --- pinning -----------------------------------------------------------------------------------
    def pin_current(self) -> bool:
        if not self.baseline.pin_current():
            return False
        self._status(f"Pinned {self.baseline.label} as the baseline: every edit now shows what it adds or saves.")
        return True

    def pin_reference(self, ref: str) -> bool:
        """Pin a preset name, an architecture file or a run folder; a bad one is a message, nothing changes."""
        try:
            spec = load_reference(ref)
            self.baseline.pin(spec, reference_label(ref, spec))
        except SpecError as exc:
            self._status(str(exc), 10000)
            QMessageBox.warning(self.window, "Cannot pin this baseline", str(exc))
            return False
        self._status(f"Pinned {self.baseline.label} as the baseline.")
        return True

    def pin_file(self) -> bool:
        path, _ = QFileDialog.getOpenFileName(self.window, "Pin a baseline", "", FILE_FILTER)
        return self.pin_reference(path) if path else False

    def pin_selected_run(self) -> bool:
        paths = self.window.training.history.selected_paths()
        return len(paths) == 1 and self.pin_reference(str(paths[0]))

    def unpin(self) -> None:
        if self.baseline.is_pinned():
            self.baseline.unpin()
            self._status("Baseline unpinned.")

    # --- views -------------------------------------------------------------------------------------
    def _show_on_charts(self) -> None:
        self.window.charts.set_comparison(self.baseline.comparison, self.baseline.label)

    def _forget_previous(self) -> None:
        """A new document (open, new, preset): its first summary is not an edit of the last one."""
        self._previous = self.document.summary

    def _note_edit(self) -> None:
        """Without a baseline, say briefly what the edit (or undo, or redo) did to the totals."""
        current = self.document.summary
        previous, self._previous = self._previous, current
        if self.baseline.is_pinned() or previous is None or current is None or current is previous:
            return
        if not self.document.is_valid():
            return
        self._status(compare(previous, current).numbers(percent=False), EDIT_NOTE_MS)

    def _status(self, text: str, timeout: int = 6000) -> None:
        self.window.statusBar().showMessage(text, timeout)


def install_baseline(window: BaselineHost) -> BaselineController:
    """Add baseline pinning to `window`; the window keeps the controller as `window.baseline`."""
    controller = BaselineController(window)
    window.baseline = controller
    return controller
