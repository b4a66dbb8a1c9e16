"""The architecture editor panel: block table with its actions, the network form and the problems list."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QMenu, QSpinBox,
                               QStyledItemDelegate, QTableView, QToolButton, QWidget)

from ...spec import KERNEL_SIZES, MAX_CHANNELS, MAX_CONVS, Block, Problem
from .. import icons
from ..widgets import scrolling_layout
from .arch_table_model import COL_CHANNELS, COL_CONVS, COL_KERNEL, COL_SIZE, FIELD_COLUMN, ArchTableModel
from .document import ArchDocument
from .network_form import NetworkForm
from .problems_view import ProblemsView
from .undo_commands import Change

FIT_DELAY_MS = 120  # after an edit, the table's columns are measured when the edits pause


class SpinBoxDelegate(QStyledItemDelegate):
    """Spin-box editors with the core's sane ranges, so a cell cannot hold a non-number."""

    RANGES = {COL_CONVS: (1, MAX_CONVS), COL_CHANNELS: (1, MAX_CHANNELS), COL_KERNEL: (1, KERNEL_SIZES[-1])}

    def createEditor(self, parent: QWidget, option, index: QModelIndex) -> QWidget:
        spin = QSpinBox(parent)
        lo, hi = self.RANGES.get(index.column(), (1, MAX_CHANNELS))
        spin.setRange(lo, hi)
        if index.column() == COL_KERNEL:
            spin.setSingleStep(2)  # arrows go 3 -> 5 -> 7; a typed even size is flagged in the cell
        spin.setFrame(False)
        spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        spin.setCorrectionMode(QSpinBox.CorrectionMode.CorrectToNearestValue)
        return spin

    def setEditorData(self, editor: QWidget, index: QModelIndex) -> None:
        value = index.data(Qt.ItemDataRole.EditRole)
        if isinstance(editor, QSpinBox) and isinstance(value, int):
            editor.setValue(value)
            editor.selectAll()

    def setModelData(self, editor: QWidget, model, index: QModelIndex) -> None:
        if isinstance(editor, QSpinBox):
            editor.interpretText()
            model.setData(index, editor.value(), Qt.ItemDataRole.EditRole)


class BlockTable(QTableView):
    """The block table asks for the height of its rows (4 to 12 of them), not a fixed default, so the form and
    the problems below it stay in view on a small screen; it still grows into spare room."""

    def _rows_height(self, rows: int) -> int:
        return (self.horizontalHeader().sizeHint().height() + rows * self.verticalHeader().defaultSectionSize()
                + 2 * self.frameWidth() + 2)

    def sizeHint(self) -> QSize:
        rows = self.model().rowCount() if self.model() is not None else 0
        return QSize(super().sizeHint().width(), self._rows_height(max(4, min(rows, 12))))

    def minimumSizeHint(self) -> QSize:
        return QSize(super().minimumSizeHint().width(), self._rows_height(3))


class ArchEditor(QWidget):
    """Table of blocks + buttons + form + problems. Emits `blocksSelected(list[int])` on selection."""

    blocksSelected = Signal(list)

    def __init__(self, document: ArchDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="archEditor")
        self.document = document
        self.model = ArchTableModel(document, self)

        self.table = BlockTable(objectName="archTable")
        self.table.setModel(self.model)
        self.table.setItemDelegate(SpinBoxDelegate(self.table))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.setAccessibleName("Architecture blocks")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_SIZE, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(36)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        self._fit_table_width()

        self.block_actions = self._make_actions()
        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        for key in ("add", "insert", "duplicate", "delete", "up", "down"):
            button = QToolButton(objectName=f"{key}BlockButton")
            button.setDefaultAction(self.block_actions[key])
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly if key in ("up", "down")
                                      else Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            buttons.addWidget(button)
        buttons.addStretch(1)

        self.form = NetworkForm(document)
        self.problems = ProblemsView(document)
        self.problems.problemActivated.connect(self.locate)

        layout = scrolling_layout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(_heading("Blocks"))
        hint = QLabel("Each block: convs × (kernel × kernel convolution + ReLU), then a 2×2 max-pool that "
                      "halves the size.")
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout.addWidget(hint)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(_heading("Network"))
        layout.addWidget(self.form)
        layout.addWidget(_heading("Problems"))
        layout.addWidget(self.problems, 1)

        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.selectionModel().currentChanged.connect(lambda *_: self._update_actions())
        document.edited.connect(self._follow_change)
        # Wider numbers, wider columns: measured once the edit's own repaint is done (it reads every cell), and
        # once for a burst of edits (a held spin-box arrow).
        self._fit_later = QTimer(self, singleShot=True, interval=FIT_DELAY_MS, timeout=self._fit_table_width)
        document.edited.connect(lambda _change: self._fit_later.start())
        self._update_actions()

    def showEvent(self, event) -> None:
        self._fit_table_width()  # fonts and style are final only once shown
        super().showEvent(event)

    def _fit_table_width(self) -> None:
        """Never let the dock squeeze the table below its columns (no clipped numbers)."""
        header = self.table.horizontalHeader()
        self.table.ensurePolished()
        columns = sum(max(header.sectionSizeHint(c), self.table.sizeHintForColumn(c))
                      for c in range(self.model.columnCount()))
        scrollbar = self.table.verticalScrollBar().sizeHint().width()
        self.table.setMinimumWidth(columns + 2 * self.table.frameWidth() + scrollbar + 8)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    # --- actions -------------------------------------------------------------------------------
    def _make_actions(self) -> dict[str, QAction]:
        specs = {
            "add": ("&Add Block", "add-row", "Ctrl+Shift+A",
                    "Append a block after the last one (a copy of it)", self.add_block),
            "insert": ("&Insert Block Above", "insert-row", "Ins",
                       "Insert a copy of the current block above it", self.insert_block),
            "duplicate": ("D&uplicate Block", "duplicate-row", "Ctrl+D",
                          "Insert a copy of the current block below it", self.duplicate_block),
            "delete": ("&Delete Block", "remove-row", "Del", "Delete the selected blocks",
                       self.delete_blocks),
            "up": ("Move Block &Up", "up", "Alt+Up", "Move the current block one place up",
                   lambda: self.move_block(-1)),
            "down": ("Move Block Do&wn", "down", "Alt+Down", "Move the current block one place down",
                     lambda: self.move_block(+1)),
        }
        actions = {}
        for key, (text, icon_name, shortcut, tip, slot) in specs.items():
            action = QAction(icons.icon(icon_name), text, self, objectName=f"action_{key}_block")
            action.setIconText(text.replace("&", "").replace(" Block", "").replace(" Above", ""))
            action.setShortcut(QKeySequence(shortcut))
            # Shortcuts act when the table (or its editor) has focus, so Del in the form still deletes text.
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setToolTip(f"{tip} ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})")
            action.setStatusTip(tip)
            action.triggered.connect(slot)
            self.table.addAction(action)
            actions[key] = action
        return actions

    def current_row(self) -> int:
        index = self.table.currentIndex()
        return index.row() if index.isValid() else -1

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectionModel().selectedIndexes()})

    def add_block(self) -> None:
        blocks = self.document.spec.blocks
        template = blocks[-1] if blocks else Block(1, 64)
        self.document.insert_block(len(blocks), template)

    def insert_block(self) -> None:
        row = max(self.current_row(), 0)
        blocks = self.document.spec.blocks
        self.document.insert_block(row, blocks[row] if blocks else Block(1, 64))

    def duplicate_block(self) -> None:
        row = self.current_row()
        if row >= 0:
            self.document.insert_block(row + 1, self.document.spec.blocks[row])

    def delete_blocks(self) -> None:
        rows = self.selected_rows() or ([self.current_row()] if self.current_row() >= 0 else [])
        if len(rows) == 1:
            self.document.remove_block(rows[0])
        elif rows:
            # Several rows: one undo step that removes them all.
            spec = self.document.spec
            for row in reversed(rows):
                spec = spec.removing(row)
            self.document.replace_spec(spec, f"Delete blocks {', '.join(str(r + 1) for r in rows)}")

    def move_block(self, step: int) -> None:
        row = self.current_row()
        if row >= 0:
            self.document.move_block(row, row + step)

    def _update_actions(self) -> None:
        row, n = self.current_row(), len(self.document.spec.blocks)
        has = 0 <= row < n
        self.block_actions["duplicate"].setEnabled(has)
        self.block_actions["delete"].setEnabled(has)
        self.block_actions["up"].setEnabled(has and row > 0)
        self.block_actions["down"].setEnabled(has and row < n - 1)

    def _context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isSelected(index):
            self.table.setCurrentIndex(index)
        menu = QMenu(self)
        for key in ("add", "insert", "duplicate", "delete"):
            menu.addAction(self.block_actions[key])
        menu.addSeparator()
        menu.addAction(self.block_actions["up"])
        menu.addAction(self.block_actions["down"])
        menu.exec(self.table.viewport().mapToGlobal(pos))

    # --- selection -----------------------------------------------------------------------------
    def select_row(self, row: int, column: int = COL_CONVS, *, select: bool = True) -> None:
        """Make `row` current (and selected, which highlights its layers elsewhere, unless `select` is False)."""
        if not 0 <= row < self.model.rowCount():
            return
        index = self.model.index(row, column)
        flags = (QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
                 if select else QItemSelectionModel.SelectionFlag.NoUpdate)
        self.table.selectionModel().setCurrentIndex(index, flags)
        self.table.scrollTo(index)

    def locate(self, problem: Problem) -> None:
        """Show where a problem is: its row in the table, or its field in the form."""
        if problem.block is not None:
            column = FIELD_COLUMN.get(problem.field, COL_SIZE)
            self.select_row(problem.block, column)
            self.table.setFocus()
        elif problem.field in self.form.fields:
            self.form.fields[problem.field].setFocus()

    def _follow_change(self, change: Change) -> None:
        row = change.focus_row
        if change.kind == "remove":
            row = min(row, self.model.rowCount() - 1)
        if change.kind in ("insert", "remove", "move") and row >= 0:
            column = self.table.currentIndex().column() if self.table.currentIndex().isValid() else COL_CONVS
            self.select_row(row, column)
        elif not self.table.currentIndex().isValid():
            self.select_row(0, select=False)  # after a reset: keep a current row so the actions work
        self._update_actions()
        self._selection_changed()

    def _selection_changed(self, *_args) -> None:
        self._update_actions()
        self.blocksSelected.emit(self.selected_rows())


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label
