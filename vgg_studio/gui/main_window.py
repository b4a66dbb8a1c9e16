"""The main window: wires the document to its panels, menus, toolbar, status bar and settings.

Logic lives in the document (ArchDocument), the table model and the panels; this class only connects
them and handles files and questions to the user.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import PySide6
from PySide6.QtCore import QSettings, Qt, qVersion
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QIcon, QKeySequence, QShowEvent
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QLabel, QMainWindow,
                               QMessageBox, QStatusBar, QStyle, QToolBar, QWidget)

from .. import __version__
from ..spec import PRESET_NAMES, ArchSpec, SpecError, preset
from ..train_config import TrainConfig, optimizer_state_key
from ..units import si, thousands
from . import icons, style
from .editor.arch_editor import ArchEditor
from .editor.baseline_controller import install_baseline
from .editor.block_diagram import BlockDiagramPanel
from .editor.charts import ChartsPanel
from .editor.document import ArchDocument
from .editor.summary_view import SummaryView
from .export_dialog import install_export
from .settings import Session, open_settings
from .efficiency.controller import install_efficiency
from .text import ElidedLabel, elide
from .training.controller import install_training

APP_NAME = "vgg-studio"
DEFAULT_PRESET = "vgg11"
FILE_FILTER = "Architecture (*.json);;All files (*)"
PRESET_LABELS = {
    "vgg11": "VGG-11 (config A, d2l's conv_arch)",
    "vgg13": "VGG-13 (config B)",
    "vgg16": "VGG-16 (config D)",
    "vgg19": "VGG-19 (config E)",
    "d2l-small": "d2l-small (VGG-11, channels ÷ 4)",
    "tiny": "tiny (28×28, 2 blocks)",
    "vgg11-bn": "VGG-11-BN (BatchNorm, torchvision's vgg11_bn)",
    "vgg16-bn": "VGG-16-BN (BatchNorm, torchvision's vgg16_bn)",
    "vgg11-5x5": "VGG-11-5x5 (pairs of 3×3 → one 5×5: why 3×3?)",
}


class MainWindow(QMainWindow):
    """vgg-studio's main window: the architecture editor in docks around the summary; other panels (training)
    are added with `add_panel`; closing asks every question first (unsaved changes, `close_guards`) and only
    then runs `close_hooks` (stop training), so a cancelled close changes nothing. With no arguments it uses the
    user's settings (or ``$VGG_STUDIO_SETTINGS``) and restores the last file or preset; ``persist=False``
    neither reads nor writes any of them (screenshots). Panels and controls have object names for tests.
    """

    def __init__(self, settings: QSettings | None = None, *, persist: bool = True,
                 restore_session: bool | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.settings = settings if settings is not None else open_settings()
        self.persist = persist
        self.session = Session(self.settings, persist)
        self.recent = self.session.recent
        # Questions asked before closing (after the unsaved-changes one): any False keeps the window open, so
        # they must not change anything. Hooks run once the close is decided (stop a job, wait for its thread).
        self.close_guards: list[Callable[[], bool]] = []
        self.close_hooks: list[Callable[[], None]] = []
        self._docks: list[QDockWidget] = []
        self._layout_restored = False

        self.document = ArchDocument(preset(DEFAULT_PRESET), parent=self)
        self.document.confirm_discard = self.maybe_save
        self.editor = ArchEditor(self.document)
        self.summary_view = SummaryView(self.document)
        self.charts = ChartsPanel(self.document)
        self.param_chart = self.charts.param_chart
        self.flop_chart = self.charts.flop_chart

        self.setCentralWidget(self.summary_view)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.arch_dock = self.add_panel("Architecture", self.editor, Qt.DockWidgetArea.LeftDockWidgetArea,
                                        "archDock")
        self.charts_dock = self.add_panel("Charts", self.charts, Qt.DockWidgetArea.BottomDockWidgetArea,
                                          "chartsDock")
        self.diagram_panel = BlockDiagramPanel(self.document)
        self.diagram = self.diagram_panel.diagram
        self.diagram_dock = self.add_panel("Diagram", self.diagram_panel, Qt.DockWidgetArea.BottomDockWidgetArea,
                                           "diagramDock")
        self.diagram.blockClicked.connect(self.editor.select_row)
        self.editor.blocksSelected.connect(self.diagram.highlight_blocks)
        for panel in (self.charts, self.diagram_panel):
            panel.exported.connect(lambda path: self.statusBar().showMessage(f"Exported {path}", 5000))

        self.editor.blocksSelected.connect(self.summary_view.highlight_blocks)
        self.editor.blocksSelected.connect(self.charts.highlight_blocks)
        for signal in (self.document.dirtyChanged, self.document.pathChanged, self.document.specChanged):
            signal.connect(self._update_title)
        self.document.problemsChanged.connect(self._update_status)
        self.document.undo_stack.indexChanged.connect(lambda _i: self.editor.table.viewport().update())
        self.document.undo_stack.indexChanged.connect(lambda _i: self._show_preset_choice(self._matching_preset()))

        self.training = install_training(self)
        # One batch size and one optimizer: the training panel's; the summary's memory line shows them.
        panel = self.training.panel
        panel.configChanged.connect(self._show_training_setup)
        self._show_training_setup(panel.config())
        self.summary_view.trainingSettingRequested.connect(self.show_training_setting)

        self.resize(1280, 800)
        self.default_dock_sizes()
        self._show_preset_choice(DEFAULT_PRESET)
        if persist and (restore_session is None or restore_session):
            self._restore_session()
        self._update_title()
        self._update_status(self.document.problems)
        self.editor.select_row(0, select=False)
        install_efficiency(self)
        install_export(self)
        install_baseline(self)
        self._default_state = self.saveState()  # every panel in its place, the Sweep tab beside Training

    # --- building ------------------------------------------------------------------------------
    def _icon(self, theme: str, fallback: QStyle.StandardPixmap):
        return QIcon.fromTheme(theme, self.style().standardIcon(fallback))

    def _action(self, text: str, name: str, slot: Callable[[], object], shortcut=None, icon=None,
                tip: str = "") -> QAction:
        action = QAction(text, self, objectName=name)
        if shortcut is not None:
            action.setShortcut(shortcut)
        if icon is not None:
            action.setIcon(icon)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.action_new = self._action("&New", "action_new", self.new_document, QKeySequence.StandardKey.New,
                                       self._icon("document-new", sp.SP_FileIcon),
                                       "Start a new architecture from VGG-11")
        self.action_open = self._action("&Open…", "action_open", self.open_file, QKeySequence.StandardKey.Open,
                                        self._icon("document-open", sp.SP_DialogOpenButton),
                                        "Open an architecture JSON file")
        self.action_save = self._action("&Save", "action_save", self.save, QKeySequence.StandardKey.Save,
                                        self._icon("document-save", sp.SP_DialogSaveButton),
                                        "Save the architecture as JSON")
        self.action_save_as = self._action("Save &As…", "action_save_as", self.save_as,
                                           QKeySequence.StandardKey.SaveAs, tip="Save under a new file name")
        self.action_quit = self._action("&Quit", "action_quit", self.close, QKeySequence.StandardKey.Quit)
        self.action_undo = self.document.undo_stack.createUndoAction(self, "&Undo")
        self.action_undo.setObjectName("action_undo")
        self.action_undo.setShortcut(QKeySequence.StandardKey.Undo)
        self.action_undo.setIcon(icons.icon("undo"))
        self.action_redo = self.document.undo_stack.createRedoAction(self, "&Redo")
        self.action_redo.setObjectName("action_redo")
        self.action_redo.setShortcuts([QKeySequence(QKeySequence.StandardKey.Redo), QKeySequence("Ctrl+Y")])
        self.action_redo.setIcon(icons.icon("redo"))
        self.action_about = self._action("&About vgg-studio", "action_about", self.show_about)
        self.action_reset_layout = self._action("&Reset Layout", "action_reset_layout", self.reset_layout)
        self.preset_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for name in PRESET_NAMES:
            action = self._action(PRESET_LABELS.get(name, name), f"preset_{name}",
                                  lambda name=name: self.open_preset(name), tip=f"Open the {name} preset")
            action.setCheckable(True)
            group.addAction(action)
            self.preset_actions[name] = action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = self.file_menu = bar.addMenu("&File")
        file_menu.addActions([self.action_new, self.action_open])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.setObjectName("recentMenu")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.action_save, self.action_save_as])
        file_menu.addSeparator()
        file_menu.addAction(self.action_quit)

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.action_undo, self.action_redo])
        edit_menu.addSeparator()
        for key in ("add", "insert", "duplicate", "delete", "up", "down"):
            edit_menu.addAction(self.editor.block_actions[key])
        edit_menu.addSeparator()
        edit_menu.addActions([self.summary_view.copy_action, self.summary_view.save_csv_action])

        presets_menu = bar.addMenu("&Presets")
        presets_menu.setObjectName("presetsMenu")
        presets_menu.addActions(list(self.preset_actions.values()))

        self.view_menu = bar.addMenu("&View")
        self.view_menu.setObjectName("viewMenu")
        self._view_separator = self.view_menu.addSeparator()
        self.view_menu.addAction(self.action_reset_layout)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.action_about)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main toolbar", self, objectName="mainToolBar")
        toolbar.setMovable(False)
        toolbar.addActions([self.action_new, self.action_open, self.action_save])
        toolbar.addSeparator()
        toolbar.addActions([self.action_undo, self.action_redo])
        toolbar.addSeparator()
        label = QLabel(" Preset: ")
        self.preset_combo = QComboBox(objectName="presetCombo")
        self.preset_combo.setPlaceholderText("Custom")  # shown for a file, or once edits leave the preset
        self.preset_combo.setToolTip("Start from a built-in architecture")
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for name in PRESET_NAMES:
            self.preset_combo.addItem(PRESET_LABELS.get(name, name), name)
        label.setBuddy(self.preset_combo)
        self.preset_combo.activated.connect(lambda i: self._combo_chose(i))
        toolbar.addWidget(label)
        toolbar.addWidget(self.preset_combo)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar
        self.view_menu.insertAction(self._view_separator, toolbar.toggleViewAction())

    def _build_status_bar(self) -> None:
        status = QStatusBar(self)
        status.setObjectName("statusBar")
        self.setStatusBar(status)
        self.validity_label = ElidedLabel(objectName="validityLabel")
        status.addPermanentWidget(self.validity_label)

    def add_panel(self, title: str, widget: QWidget, area: Qt.DockWidgetArea = Qt.DockWidgetArea.BottomDockWidgetArea,
                  object_name: str | None = None, *, tabify: bool = True) -> QDockWidget:
        """Dock `widget` under `title`, listed in the View menu, its placement remembered. With `tabify` it
        becomes a tab beside the panels already in `area` (`dock.raise_()` shows it), else it splits the area."""
        dock = QDockWidget(title, self)
        dock.setObjectName(object_name or re.sub(r"\W+", "", title.title()).lower() + "Dock")
        dock.setWidget(widget)
        neighbours = [d for d in self._docks if self.dockWidgetArea(d) == area and not d.isFloating()]
        self.addDockWidget(area, dock)
        if tabify and neighbours:
            self.tabifyDockWidget(neighbours[0], dock)
            neighbours[0].raise_()
        self._docks.append(dock)
        self.view_menu.insertAction(self._view_separator, dock.toggleViewAction())
        return dock

    def default_dock_sizes(self) -> None:
        """Give the docks their designed sizes for the window's size: the table's width on the left, the training
        settings wider where there is room, the charts ~270 px tall (plots at least 150 px on a 700 px screen)."""
        self.resizeDocks([self.arch_dock], [self.editor.minimumSizeHint().width()], Qt.Orientation.Horizontal)
        panel_dock = self.training.panel_dock
        wide = self.width() >= 1360  # at 1280 the summary needs the room for all its columns
        width = max(panel_dock.minimumSizeHint().width(), 340 if wide else 0)
        self.resizeDocks([panel_dock], [width], Qt.Orientation.Horizontal)
        self.resizeDocks([self.charts_dock], [270 if self.height() >= 760 else 240], Qt.Orientation.Vertical)

    # --- documents -----------------------------------------------------------------------------
    def maybe_save(self) -> bool:
        """Ask about unsaved changes; True means it is fine to replace or close the document."""
        if not self.document.is_dirty():
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"“{elide(self.document.display_name)}” has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new_document(self) -> bool:
        if not self.maybe_save():
            return False
        self.document.reset(preset(DEFAULT_PRESET).replace(name="untitled"))
        self._show_preset_choice(None)
        return True

    def open_preset(self, name: str) -> bool:
        if not self.maybe_save():
            self._show_preset_choice(self._matching_preset())  # the combo may show the choice just cancelled
            return False
        try:
            spec = preset(name)
        except SpecError as exc:
            self._error("Unknown preset", str(exc))
            return False
        self.document.reset(spec)
        self._show_preset_choice(name)
        self.session.opened_preset(name)
        self.statusBar().showMessage(f"Opened the {name} preset.", 4000)
        return True

    def open_file(self, path: str | os.PathLike[str] | None = None) -> bool:
        if not self.maybe_save():
            return False
        if path is None:
            start = str(self.document.path.parent) if self.document.path else self.session.last_dir()
            path, _ = QFileDialog.getOpenFileName(self, "Open architecture", start, FILE_FILTER)
            if not path:
                return False
        try:
            self.document.open(path)
        except SpecError as exc:
            self._error("Cannot open the architecture", str(exc))
            return False
        except (OSError, ValueError, RecursionError, MemoryError) as exc:  # the loader should say SpecError
            self._error("Cannot open the architecture", f"{elide(os.fspath(path), 200)} cannot be read: "
                        f"{elide(str(exc) or type(exc).__name__, 300)}")
            return False
        self._after_file(self.document.path)
        self.statusBar().showMessage(f"Opened {self.document.path}", 4000)
        return True

    def show_opened(self, spec: ArchSpec, path: str | os.PathLike[str]) -> None:
        """Make `spec`, already read from `path` (e.g. by the command line), the open document."""
        self.document.reset(spec, path)
        self._after_file(self.document.path)

    def load_spec(self, spec: ArchSpec, name_or_path: str | os.PathLike[str]) -> bool:
        """Open `spec` as a new untitled document named after `name_or_path` (asks about unsaved changes)."""
        if not self.document.load_spec(spec, name_or_path):
            return False
        self._show_preset_choice(None)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self, path: str | os.PathLike[str] | None = None) -> bool:
        if path is None:
            start = self.document.path or Path(self.session.last_dir() or ".") / (
                re.sub(r"[^\w.-]+", "-", self.document.spec.name[:60]).strip("-").lower() or "architecture")
            path, _ = QFileDialog.getSaveFileName(self, "Save architecture as", str(start), FILE_FILTER)
            if not path:
                return False
        path = Path(path)
        if not path.suffix:
            path = path.with_suffix(".json")
        return self._write(path)

    def _write(self, path: Path) -> bool:
        try:
            saved = self.document.save(path)
        except (OSError, SpecError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            self._error("Cannot save the architecture", f"Could not write {path}: {reason}")
            return False
        self._after_file(saved)
        note = "" if self.document.is_valid() else " (it is not valid yet: see Problems)"
        self.statusBar().showMessage(f"Saved {saved}{note}", 5000)
        return True

    def _after_file(self, path: Path | None) -> None:
        if path is not None:
            self.session.opened_file(path)
            self._show_preset_choice(None)

    # --- presets combo -------------------------------------------------------------------------
    def _combo_chose(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if isinstance(name, str):
            self.open_preset(name)

    def _matching_preset(self) -> str | None:
        """The preset the architecture is exactly (after undoing back to it, say), or None: it is custom."""
        return next((name for name in PRESET_NAMES if preset(name) == self.document.spec), None)

    def _show_preset_choice(self, name: str | None) -> None:
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(name) if name else -1)
        for key, action in self.preset_actions.items():
            action.setChecked(key == name)

    # --- recent files --------------------------------------------------------------------------
    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        paths = self.recent.paths()
        for i, path in enumerate(paths, 1):
            action = menu.addAction(f"&{i} {path.name}  —  {path.parent}")
            action.setData(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self._open_recent(p))
        if not paths:
            menu.addAction("(no recent files)").setEnabled(False)
        menu.addSeparator()
        menu.addAction("&Clear List", self.recent.clear).setEnabled(bool(paths))

    def _open_recent(self, path: Path) -> None:
        if not path.exists():
            self.recent.remove(path)
            self._error("File not found", f"{path} no longer exists; it was removed from the recent files.")
            return
        self.open_file(path)

    # --- window state --------------------------------------------------------------------------
    def _restore_session(self) -> None:
        kind, value = self.session.last_opened(DEFAULT_PRESET)
        if kind == "file":
            try:
                self.document.open(value)
                self._show_preset_choice(None)
                return
            except SpecError as exc:
                self.statusBar().showMessage(f"Could not reopen the last file: {exc}", 10000)
            value = DEFAULT_PRESET
        name = value if value in PRESET_NAMES else DEFAULT_PRESET
        self.document.reset(preset(name))
        self._show_preset_choice(name)

    def showEvent(self, event: QShowEvent) -> None:
        # Restore dock layout at first show, so that panels added after construction are placed too.
        if not self._layout_restored:
            self._layout_restored = True
            self.session.restore_window(self)
        super().showEvent(event)

    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        for dock in self._docks:
            dock.show()
        self.default_dock_sizes()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save() or not all(guard() for guard in list(self.close_guards)):
            event.ignore()
            return
        for hook in list(self.close_hooks):
            hook()
        self.session.save_window(self)
        self.session.sync()
        event.accept()

    # --- training ------------------------------------------------------------------------------
    def _show_training_setup(self, config: TrainConfig) -> None:
        self.summary_view.set_training_setup(config.batch_size, optimizer_state_key(config))

    def show_training_setting(self, name: str) -> None:
        """Bring the training panel forward with the field `name` ("batch" or "optimizer") focused."""
        panel = self.training.panel
        self.training.panel_dock.show()
        self.training.panel_dock.raise_()
        field = panel.optimizer if name == "optimizer" else panel.batch_size
        panel.reveal(field)

    # --- feedback ------------------------------------------------------------------------------
    def _update_title(self, *_args) -> None:
        mark = "*" if self.document.is_dirty() else ""
        self.setWindowTitle(f"{elide(self.document.display_name)}{mark} — {APP_NAME}")

    def _update_status(self, problems: list) -> None:
        errors = [p for p in problems if p.is_error]
        warnings = len(problems) - len(errors)
        if errors:
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            self.validity_label.setText(f"✗ Not valid: {errors[0].message}{more}")
            self.validity_label.setStyleSheet(f"color: {style.ERROR_STRONG}; font-weight: bold;")
        else:
            summary = self.document.summary
            numbers = (f" — {thousands(summary.total_params)} parameters, {si(summary.total_flops, 'FLOP')}"
                       if summary is not None else "")
            note = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
            self.validity_label.setText(f"✓ Valid{numbers}{note}")
            self.validity_label.setStyleSheet("")

    def _error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        QMessageBox.warning(self, title, message)

    def show_about(self) -> None:
        QMessageBox.about(
            self, f"About {APP_NAME}",
            f"<h3>{APP_NAME} {__version__}</h3><p>Explore and train VGG-style networks, after the d2l.ai "
            "chapter <i>Networks Using Blocks (VGG)</i>: edit the blocks, see every layer's shape, "
            "parameters and FLOPs at once, and train on Fashion-MNIST.</p>"
            f"<p>PySide6 {PySide6.__version__} · Qt {qVersion()}</p>")
