"""Past runs as a sortable table: pick some to overlay their curves, open one's architecture, delete.

The table shows `runs.list_runs()` and nothing else; what selecting or opening a run does is up to the
controller, which listens to the signals. Each run is named by what changed from its parent run
(`lineage.run_label`: "ratio 1 → 2"), or by its architecture when it has none.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel,
                            Qt, Signal)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QMessageBox, QPushButton,
                               QTableView, QVBoxLayout, QWidget)

from ... import runs
from ...lineage import RunLabel, Setups, run_label
from ...runs import RunError, RunInfo
from ...units import si
from .. import style
from ..text import elide

COLUMNS = ("Run", "Params", "Dataset", "Best test acc", "Epochs", "Status", "Date")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_COLORS = {"failed": style.ERROR, "cancelled": style.WARNING, "running": style.RUNNING}


class RunTableModel(QAbstractTableModel):
    """Read-only rows of RunInfo."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[RunInfo] = []
        self._labels: list[RunLabel] = []

    def set_runs(self, infos: list[RunInfo], labels: list[RunLabel] | None = None) -> None:
        self.beginResetModel()
        self._rows = list(infos)
        self._labels = list(labels) if labels is not None else [RunLabel(i.arch_name or "?", "") for i in infos]
        self.endResetModel()

    def label(self, row: int) -> RunLabel:
        return self._labels[row]

    def info(self, row: int) -> RunInfo:
        return self._rows[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        info, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (elide(self._labels[index.row()].text) or "?",
                    si(info.params) if info.params else "",
                    info.dataset,
                    "" if info.best_test_acc is None else f"{info.best_test_acc:.3f}",
                    f"{info.epochs_done}/{info.epochs}",
                    info.status,
                    f"{info.created:%Y-%m-%d %H:%M}")[col]
        if role == SORT_ROLE:
            return (self._labels[index.row()].text.lower(), info.params, info.dataset,
                    -1.0 if info.best_test_acc is None else info.best_test_acc,
                    info.epochs_done, info.status, info.created.timestamp())[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{info.path}\n{info.device}" if info.device else str(info.path)
            if col == 0:
                tip = f"{self._labels[index.row()].tooltip} ({info.arch_name})\n{tip}"
            return f"{tip}\n{info.message}" if info.message else tip
        if role == Qt.ItemDataRole.ForegroundRole and col == 5 and info.status in STATUS_COLORS:
            return QColor(STATUS_COLORS[info.status])
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (1, 3, 4):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class RunHistory(QWidget):
    """The run list with Open/Delete/Refresh; multi-selection means 'compare these'."""

    selectionChanged = Signal(list)  # list[Path] of the selected runs
    openRequested = Signal(object)  # Path of the run whose architecture to open

    def __init__(self, root: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runHistory")
        self.root = root
        self.setups = Setups()  # each run's architecture and settings, read once (labels, parents)
        self.active_run: Path | None = None  # the run being trained: not deletable
        # Asked before deleting; tests replace it. Returns True to go ahead.
        self.confirm: Callable[[str], bool] = self._ask

        self.model = RunTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.view = QTableView(objectName="runList")
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(COLUMNS.index("Date"), Qt.SortOrder.DescendingOrder)
        self.view.verticalHeader().hide()
        self.view.setAlternatingRowColors(True)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._emit_selection())
        self.view.doubleClicked.connect(lambda index: self.openRequested.emit(self._info(index).path))

        self.open_button = QPushButton("Open architecture", objectName="openRunArchButton", enabled=False)
        self.open_button.setToolTip("Open the selected run's architecture in the editor")
        self.delete_button = QPushButton("Delete…", objectName="deleteRunButton", enabled=False)
        self.refresh_button = QPushButton("Refresh", objectName="refreshRunsButton")
        self.open_button.clicked.connect(self._open_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.refresh_button.clicked.connect(self.refresh)
        self.hint = QLabel("Select runs to overlay their curves; two also show their settings side by side.",
                           objectName="runHint", wordWrap=True)  # wraps: never sets the window's width
        self.hint.setStyleSheet(style.MUTED_STYLE)

        buttons = QHBoxLayout()
        buttons.addWidget(self.hint, 1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)

    def refresh(self) -> None:
        """Re-read the runs folder, keeping the selection where those runs still exist."""
        selected = set(self.selected_paths())
        infos = runs.list_runs(self.root)
        self.model.set_runs(infos, [run_label(info, self.setups) for info in infos])
        self.select(selected, emit=False)
        self._emit_selection()

    def infos(self) -> list[RunInfo]:
        return [self.model.info(r) for r in range(self.model.rowCount())]

    def selected_paths(self) -> list[Path]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [self._info(self.proxy.index(r, 0)).path for r in rows]

    def select(self, paths: set[Path] | list[Path], emit: bool = True) -> None:
        wanted = set(paths)
        sel = self.view.selectionModel()
        blocker = sel.blockSignals(True)
        sel.clearSelection()
        for r in range(self.proxy.rowCount()):
            if self._info(self.proxy.index(r, 0)).path in wanted:
                sel.select(self.proxy.index(r, 0), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)
        sel.blockSignals(blocker)
        self.view.viewport().update()
        if emit:
            self._emit_selection()

    def delete_selected(self) -> None:
        paths = [p for p in self.selected_paths() if p != self.active_run]
        if not paths:
            return
        names = "\n".join(p.name for p in paths[:10]) + ("\n…" if len(paths) > 10 else "")
        if not self.confirm(f"Delete {len(paths)} run folder{'s' if len(paths) > 1 else ''} from disk?\n\n{names}"):
            return
        problems = []
        for path in paths:
            try:
                runs.delete_run(path)
            except (RunError, OSError) as exc:
                problems.append(f"{path.name}: {exc}")
        self.refresh()
        if problems:
            QMessageBox.warning(self, "Some runs were not deleted", "\n".join(problems))

    # --- internals ---------------------------------------------------------------------------------
    def _info(self, proxy_index: QModelIndex) -> RunInfo:
        return self.model.info(self.proxy.mapToSource(proxy_index).row())

    def _emit_selection(self) -> None:
        paths = self.selected_paths()
        self.open_button.setEnabled(len(paths) == 1)
        self.delete_button.setEnabled(any(p != self.active_run for p in paths))
        self.selectionChanged.emit(paths)

    def _open_selected(self) -> None:
        paths = self.selected_paths()
        if len(paths) == 1:
            self.openRequested.emit(paths[0])

    def _ask(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Delete runs", text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes
