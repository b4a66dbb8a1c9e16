"""Table model over the document's blocks: one row per VGG block, edits become undo commands.

The model shows the document's spec and nothing else; `setData` asks the document for an edit and the
document's `edited` signal tells the model which rows to insert, remove, move or repaint. Problems from
validation are exposed through data roles (background, tooltip, `CellProblemRole`) so the view highlights
the offending row and cell.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from ...spec import MAX_CHANNELS, Problem
from .. import style
from .document import ArchDocument
from .undo_commands import Change

COL_INDEX, COL_CONVS, COL_CHANNELS, COL_KERNEL, COL_EFFECTIVE, COL_SIZE = range(6)
HEADERS = ("#", "Convs", "Channels", "Kernel", "After ratio", "Output")
HEADER_TIPS = (
    "Block number, in forward order",
    "Convolutions (each followed by ReLU) before the block's 2×2 max-pool",
    "Channels of every convolution in the block, before the ratio",
    "Kernel size of the block's convolutions (odd; padding k // 2 keeps the size). Two 3×3 see as far as one "
    "5×5 with fewer weights and one more ReLU: the chapter's reason for 3×3",
    "Effective channels, what the network really has: channels ÷ ratio (d2l's small_conv_arch uses ratio 4)",
    "Height × width of the feature map after the block's pool",
)
# Which cell a problem's `field` points at; "blocks" problems (spatial) point at the output size.
FIELD_COLUMN = {"num_convs": COL_CONVS, "out_channels": COL_CHANNELS, "kernel_size": COL_KERNEL, "blocks": COL_SIZE}
EDITABLE = {COL_CONVS: "num_convs", COL_CHANNELS: "out_channels", COL_KERNEL: "kernel_size"}

ERROR_ROW = QColor(style.ERROR_BG)
ERROR_CELL = QColor(style.ERROR_CELL_BG)
WARNING_CELL = QColor(style.WARNING_BG)
DARK_TEXT = QColor(style.DARK_TEXT)
DERIVED_TEXT = QColor(style.DERIVED_TEXT)

Index = QModelIndex | QPersistentModelIndex


class ArchTableModel(QAbstractTableModel):
    """Rows are `document.spec.blocks`; columns block #, convs, out channels, effective channels, size."""

    CellProblemRole = Qt.ItemDataRole.UserRole + 1  # "error", "warning" or None: the cell's worst problem

    def __init__(self, document: ArchDocument, parent=None) -> None:
        super().__init__(parent)
        self._document = document
        self._spec = document.spec  # the snapshot the views were last told about
        self._cell_problems: dict[tuple[int, int], list[Problem]] = {}
        self._row_errors: dict[int, list[Problem]] = {}
        self._index_problems(document.problems)
        document.edited.connect(self._on_edited)

    # --- reading -------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._spec.blocks)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() in EDITABLE:
            base |= Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._spec.blocks):
            return None
        row, col = index.row(), index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._value(row, col, role == Qt.ItemDataRole.EditRole)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if col == COL_SIZE:
                return int(Qt.AlignmentFlag.AlignCenter)
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        cell = self._cell_problems.get((row, col), [])
        row_errors = self._row_errors.get(row, [])
        if role == self.CellProblemRole:
            if any(p.is_error for p in cell):
                return "error"
            return "warning" if cell else None
        if role == Qt.ItemDataRole.BackgroundRole:
            if any(p.is_error for p in cell):
                return QBrush(ERROR_CELL)
            if row_errors:
                return QBrush(ERROR_ROW)
            if cell:
                return QBrush(WARNING_CELL)
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if cell or row_errors:
                return QBrush(DARK_TEXT)
            return QBrush(DERIVED_TEXT) if col in (COL_INDEX, COL_EFFECTIVE, COL_SIZE) else None
        if role == Qt.ItemDataRole.FontRole and any(p.is_error for p in cell):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            messages = [p.message for p in cell] or [p.message for p in row_errors]
            return "\n".join(messages) if messages else HEADER_TIPS[col]
        return None

    def _value(self, row: int, col: int, edit: bool):
        spec = self._spec
        block = spec.blocks[row]
        if col == COL_INDEX:
            return row + 1
        if col == COL_CONVS:
            return block.num_convs
        if col == COL_CHANNELS:
            return block.out_channels if edit else f"{block.out_channels:,}"
        if col == COL_KERNEL:
            k = block.kernel_size
            return k if edit or not isinstance(k, int) else f"{k}×{k}"
        if col == COL_EFFECTIVE:
            if not isinstance(spec.ratio, int) or spec.ratio < 1:
                return "?"
            return f"{spec.effective_channels(row):,}"
        if col == COL_SIZE:
            if not isinstance(spec.input_size, int) or spec.input_size < 1:
                return "?"
            side = spec.feature_sizes()[row]
            return f"{side} × {side}"
        return None

    # --- editing -------------------------------------------------------------------------------
    def setData(self, index: Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Ask the document for the edit (one undo step); reject values that are not whole numbers."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or index.column() not in EDITABLE:
            return False
        number = _as_int(value)
        if number is None:
            return False
        old = self._spec.blocks[index.row()]
        new = dataclasses.replace(old, **{EDITABLE[index.column()]: number})  # the block's other cells stay
        self._document.set_block(index.row(), new)
        return True

    # --- following the document --------------------------------------------------------------
    def _on_edited(self, change: Change) -> None:
        new = self._document.spec
        old_rows, new_rows = len(self._spec.blocks), len(new.blocks)
        kind = change.kind
        if kind == "insert" and new_rows == old_rows + 1:
            self.beginInsertRows(QModelIndex(), change.row, change.row)
            self._spec = new
            self.endInsertRows()
        elif kind == "remove" and new_rows == old_rows - 1:
            self.beginRemoveRows(QModelIndex(), change.row, change.row)
            self._spec = new
            self.endRemoveRows()
        elif kind == "move" and new_rows == old_rows:
            # Qt wants the destination as "insert before this row" in the old numbering.
            dest = change.dest + 1 if change.dest > change.row else change.dest
            self.beginMoveRows(QModelIndex(), change.row, change.row, QModelIndex(), dest)
            self._spec = new
            self.endMoveRows()
        elif new_rows == old_rows:
            self._spec = new
        else:
            self.beginResetModel()
            self._spec = new
            self.endResetModel()
        self._index_problems(self._document.problems)
        # Derived columns (channels used, output size) and highlights can change on every row.
        if new_rows:
            self.dataChanged.emit(self.index(0, 0), self.index(new_rows - 1, len(HEADERS) - 1))

    def _index_problems(self, problems: list[Problem]) -> None:
        self._cell_problems = {}
        self._row_errors = {}
        for p in problems:
            if p.block is None or not 0 <= p.block < len(self._spec.blocks):
                continue
            col = FIELD_COLUMN.get(p.field, COL_SIZE)
            self._cell_problems.setdefault((p.block, col), []).append(p)
            if p.field == "out_channels" and _in_range(self._spec.blocks[p.block].out_channels):
                # An in-range channel count can only fail through the ratio: mark the derived column too.
                self._cell_problems.setdefault((p.block, COL_EFFECTIVE), []).append(p)
            if p.is_error:
                self._row_errors.setdefault(p.block, []).append(p)


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "")
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def _in_range(channels: object) -> bool:
    return isinstance(channels, int) and 1 <= channels <= MAX_CHANNELS
