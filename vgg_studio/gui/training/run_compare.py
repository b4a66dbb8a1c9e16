"""Two runs' settings side by side, the rows that differ highlighted (`changes.settings_rows` does the work)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QShowEvent
from PySide6.QtWidgets import QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from ...changes import SettingRow, settings_rows
from ...runs import RunRecord

DIFF_BACKGROUND = QColor("#fff1b8")  # a highlighter's yellow: readable in light and dark text
DIFF_ROLE = Qt.ItemDataRole.UserRole + 1  # True on rows whose two values differ


class SettingsModel(QAbstractTableModel):
    """Rows of `SettingRow`: setting, run A's value, run B's value."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[SettingRow] = []
        self.titles = ("Setting", "A", "B")

    def set_rows(self, rows: list[SettingRow], a_title: str, b_title: str) -> None:
        self.beginResetModel()
        self.rows, self.titles = list(rows), ("Setting", a_title, b_title)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else 3

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.titles[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.setting, row.a, row.b)[index.column()]
        if role == DIFF_ROLE:
            return row.differs
        if role == Qt.ItemDataRole.BackgroundRole and row.differs:
            return QBrush(DIFF_BACKGROUND)
        if role == Qt.ItemDataRole.ForegroundRole and row.differs:
            return QBrush(QColor("#1a1a1a"))
        if role == Qt.ItemDataRole.FontRole and row.differs:
            font = QFont()
            font.setBold(True)
            return font
        return None

    def differing(self) -> list[str]:
        return [r.setting for r in self.rows if r.differs]


class RunSettingsCompare(QWidget):
    """Shown when exactly two runs are selected: every setting of both, differences highlighted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="runSettingsCompare")
        self.setMinimumWidth(300)  # setting, A and B readable side by side
        self.title = QLabel(objectName="runSettingsTitle")
        self.title.setWordWrap(True)
        self.model = SettingsModel(self)
        self.view = QTableView(objectName="runSettingsTable")
        self.view.setModel(self.model)
        self.view.verticalHeader().hide()
        self.view.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.view.setSelectionMode(QTableView.SelectionMode.NoSelection)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setDefaultSectionSize(self.view.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)

    def show_runs(self, a: RunRecord, b: RunRecord) -> None:
        """`a` is the older run: A and B in the header, their folders in the title, the first difference in view."""
        rows = settings_rows(a.spec, a.config, b.spec, b.config)
        self.model.set_rows(rows, "A", "B")
        n = sum(r.differs for r in rows)
        self.title.setText(f"<b>{n} setting{'s' if n != 1 else ''} differ{'s' if n == 1 else ''}</b> "
                           f"(highlighted) · A: {a.info.name} · B: {b.info.name}")
        self.title.setToolTip(f"A: {a.info.path}\nB: {b.info.path}")
        self.reveal_first_difference()

    def reveal_first_difference(self) -> None:
        first = next((i for i, r in enumerate(self.model.rows) if r.differs), None)
        if first is not None:
            self.view.scrollTo(self.model.index(first, 0), QTableView.ScrollHint.PositionAtCenter)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self.reveal_first_difference)  # once the table has its height
