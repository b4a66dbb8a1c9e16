"""Per-layer summary: a tree grouped by block with subtotals, totals and a training-memory estimate.

It shows `document.summary` (the last valid one). While the spec is invalid a banner says so, and the
numbers below stay those of the last valid architecture.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QKeySequence, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QApplication, QFileDialog, QHeaderView, QLabel, QMessageBox,
                               QTreeView, QVBoxLayout, QWidget)

from ...atomic import atomic_write_text
from ...cli.summary import render_csv, render_table
from ...explain import flops_formula, params_formula, shape_reason
from ...summary import LayerRow, Summary
from ...train_config import OPTIMIZER_LABELS, TrainConfig, optimizer_state_key
from ...units import nbytes, shape, si, thousands
from ..style import BANNER_STYLE, ERROR_BANNER_TEXT, MUTED_STYLE
from ..text import elide, elide_html
from .document import ArchDocument

COLUMNS = ("Layer", "Output shape", "Parameters", "FLOPs", "Activations", "RF")
COL_LAYER, COL_SHAPE, COL_PARAMS, COL_FLOPS, COL_ACT, COL_RF = range(len(COLUMNS))
COLUMN_TIPS = (
    "Layer name (blockN: convK, reluK, pool; flatten, fcN) — hover for its module class",
    "Output shape for one image (batch, channels, height, width)",
    "Learnable weights and biases (hover for the share of the whole network)",
    "Floating-point operations for one image, forward, 2 per multiply-add (hover for the exact count and share)",
    "Size of this layer's output for one image, float32",
    "Receptive field: one output cell of this layer sees this many × this many input pixels "
    "(hover for the effective stride)",
)
GroupRole = Qt.ItemDataRole.UserRole + 1  # block index for block groups; -1 classifier; -2 total
KeyRole = Qt.ItemDataRole.UserRole + 2  # on column 0: the group key, or the layer's name; rows are reused by it
CLASSIFIER, TOTAL = -1, -2


@dataclass
class _Row:
    """One row of the tree before it is shown: its key, texts and tooltips per column, and its layers."""

    key: int | str
    group: int
    texts: list[str]
    tips: list[str]
    bold: bool = False
    children: list[_Row] | None = None


class QuietCells:
    """Change cells of existing rows with the model quiet, then announce them: on leaving the `with`, one
    dataChanged per parent over the rows and columns that changed (`changed(item)` records each).

    A tree view does real work for every dataChanged it hears (tens of µs), and one edit changes the shares
    in some 150 tooltips. Rows must not be inserted or removed inside (their signals would be lost).
    """

    def __init__(self, model: QStandardItemModel) -> None:
        self.model = model
        self._spans: dict[int, tuple[QStandardItem | None, int, int, int, int]] = {}

    def __enter__(self) -> QuietCells:
        self._blocked = self.model.blockSignals(True)
        return self

    def changed(self, item: QStandardItem) -> None:
        parent = item.parent()  # None for the top-level rows
        row, col = item.row(), item.column()
        _, r0, r1, c0, c1 = self._spans.get(id(parent), (parent, row, row, col, col))
        self._spans[id(parent)] = (parent, min(r0, row), max(r1, row), min(c0, col), max(c1, col))

    def set(self, item: QStandardItem, text: str, tip: str) -> None:
        if item.text() != text or item.toolTip() != tip:
            item.setText(text)
            item.setToolTip(tip)
            self.changed(item)

    def __exit__(self, *_exc) -> None:
        self.model.blockSignals(self._blocked)
        for parent, r0, r1, c0, c1 in self._spans.values():
            at = parent.index() if parent is not None else QModelIndex()
            self.model.dataChanged.emit(self.model.index(r0, c0, at), self.model.index(r1, c1, at), [])


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%" if share >= 0.001 or share == 0 else "<0.1%"


class SummaryView(QWidget):
    """Headline, invalid-architecture banner, the layer tree (`summaryView`) and the memory estimate."""

    trainingSettingRequested = Signal(str)  # "batch" or "optimizer": the user wants to change it (link click)
    trainingSetupChanged = Signal()  # set_training_setup gave a new batch size or optimizer

    def __init__(self, document: ArchDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="summaryPanel")
        self._document = document
        self._summary: Summary | None = None
        self._highlight: set[int] = set()
        self._align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        self._total_brush = QBrush(QColor(0, 0, 0, 18))

        self.headline = QLabel(objectName="summaryHeadline")
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setWordWrap(True)
        self.banner = QLabel(objectName="invalidBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.hide()

        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        for col, tip in enumerate(COLUMN_TIPS):
            self.model.horizontalHeaderItem(col).setToolTip(tip)
        self.tree = QTreeView(objectName="summaryView")
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setEditTriggers(QTreeView.EditTrigger.NoEditTriggers)
        self.tree.setSelectionBehavior(QTreeView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QTreeView.SelectionMode.ExtendedSelection)
        self.tree.setAccessibleName("Per-layer summary")
        header = self.tree.header()
        # Every column as wide as its widest number (never squeezed to nothing); room left over stays
        # on the right rather than stretching the names away from their numbers.
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
        self._expanded: set[int] = {CLASSIFIER}  # groups open by default: where fc1 dominates
        self.tree.expanded.connect(lambda index: self._expanded.add(index.data(GroupRole)))
        self.tree.collapsed.connect(lambda index: self._expanded.discard(index.data(GroupRole)))

        # Batch size and optimizer are the training panel's (one source of truth): `set_training_setup` shows
        # them here, and their links ask the window to show the panel's fields.
        self._batch_size, self._optimizer = TrainConfig.batch_size, optimizer_state_key(TrainConfig())
        self.memory_label = QLabel(objectName="memoryLabel")
        self.memory_label.setWordWrap(True)
        self.memory_label.setTextFormat(Qt.TextFormat.RichText)
        self.memory_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.memory_label.linkActivated.connect(lambda link: self.trainingSettingRequested.emit(link.lstrip("#")))

        # The command line's outputs from the window: `vgg-studio summary` (its table) and `--format csv`.
        self.copy_action = QAction("Copy Summary as Text", self, objectName="action_copy_summary")
        self.copy_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_action.setToolTip("Copy the summary as the command line prints it (vgg-studio summary)")
        self.copy_action.triggered.connect(lambda _checked=False: self.copy_as_text())
        self.save_csv_action = QAction("Save Summary as CSV…", self, objectName="action_save_summary_csv")
        self.save_csv_action.setToolTip("Every layer's shape, parameters, FLOPs and activations as CSV "
                                        "(vgg-studio summary --format csv)")
        self.save_csv_action.triggered.connect(lambda _checked=False: self.save_csv())
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.tree.addActions([self.copy_action, self.save_csv_action])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.headline)
        layout.addWidget(self.banner)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.memory_label)

        document.summaryChanged.connect(self.show_summary)
        document.dirtyChanged.connect(lambda _dirty: self._show_headline())
        document.specChanged.connect(lambda _spec: self._show_headline())
        document.problemsChanged.connect(lambda _problems: self._show_banner())
        self.show_summary(document.summary)
        self._show_banner()

    # --- public --------------------------------------------------------------------------------
    @property
    def summary(self) -> Summary | None:
        return self._summary

    def set_training_setup(self, batch_size: int, optimizer: str) -> None:
        """The batch size and optimizer (a key of OPTIMIZER_STATE_COPIES) the memory line assumes."""
        self._batch_size, self._optimizer = batch_size, optimizer
        self._show_memory()
        self.trainingSetupChanged.emit()

    def training_setup(self) -> tuple[int, str]:
        return self._batch_size, self._optimizer

    def show_summary(self, summary: Summary | None) -> None:
        self._summary = summary
        self.tree.setUpdatesEnabled(False)
        try:
            new_groups: list[QStandardItem] = []
            self._sync(self.model.invisibleRootItem(), self._rows(summary) if summary is not None else [], new_groups)
            for group in new_groups:  # rows kept in place keep their state
                self.tree.setExpanded(group.index(), group.data(GroupRole) in self._expanded)
        finally:
            self.tree.setUpdatesEnabled(True)
        self._show_headline()
        self._show_memory()
        self.highlight_blocks(self._highlight)

    def highlight_blocks(self, blocks) -> None:
        """Select and reveal the rows of these blocks (0-based), e.g. those selected in the table."""
        self._highlight = set(blocks)
        selection = QItemSelection()
        first = None
        for row in range(self.model.rowCount()):
            group = self.model.item(row, 0)
            if group.data(GroupRole) not in self._highlight:
                continue
            index = group.index()
            last_col = self.model.columnCount() - 1
            selection.select(index, self.model.index(row, last_col))
            if group.rowCount():
                selection.select(self.model.index(0, 0, index), self.model.index(group.rowCount() - 1, last_col, index))
            self.tree.setExpanded(index, True)
            if first is None:
                first = index
        self.tree.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if first is not None:
            self.tree.scrollTo(first, QTreeView.ScrollHint.PositionAtTop)

    def summary_text(self) -> str:
        """The summary as `vgg-studio summary` prints it, at the training panel's batch size ('' while invalid)."""
        if self._summary is None or not self._document.is_valid():
            return ""
        return render_table(self._summary, self._batch_size)

    def copy_as_text(self) -> None:
        text = self.summary_text()
        if text:
            QApplication.clipboard().setText(text)

    def save_csv(self, path: str | os.PathLike[str] | None = None) -> bool:
        """Write `vgg-studio summary --format csv`'s output to `path` (asked for when None); False if not saved."""
        if self._summary is None or not self._document.is_valid():
            return False
        if path is None:
            name = "".join(c if c.isalnum() or c in "-_." else "-" for c in self._summary.spec.name[:60]).lower()
            path, _ = QFileDialog.getSaveFileName(self, "Save summary as CSV", f"{name or 'summary'}-summary.csv",
                                                  "CSV file (*.csv)")
            if not path:
                return False
            if not path.lower().endswith(".csv"):
                path += ".csv"
        try:
            atomic_write_text(path, render_csv(self._summary))
        except OSError as exc:
            QMessageBox.warning(self, "Cannot save the summary", f"Could not write {path}: {exc.strerror or exc}")
            return False
        return True

    def total_params_text(self) -> str:
        """The parameter total as shown in the Total row."""
        row = self._find_group(TOTAL)
        return self.model.item(row, COL_PARAMS).text() if row >= 0 else ""

    # --- internals -----------------------------------------------------------------------------
    def _find_group(self, key: int) -> int:
        for row in range(self.model.rowCount()):
            if self.model.item(row, 0).data(GroupRole) == key:
                return row
        return -1

    def _rows(self, summary: Summary) -> list[_Row]:
        """What the tree shows for `summary`: a group per block with its layers, the classifier, the total."""
        total_params = summary.total_params or 1
        total_flops = summary.total_flops or 1
        rows = []
        for b in summary.blocks:
            kernel = f"{b.kernel_size}×{b.kernel_size} "
            rows.append(self._row(
                b.block, f"Block {b.block + 1}  ({b.num_convs} × {b.channels:,})",
                f"{b.num_convs} {kernel}convolutions with {b.channels:,} channels, then a max-pool", b.output_shape,
                b.params, b.params / total_params, b.flops, b.flops / total_flops, b.activation_bytes, group=b.block,
                bold=True, field=(b.receptive_field, b.effective_stride),
                children=[self._layer_row(summary, layer, layer.name.split(".", 1)[-1])
                          for layer in summary.rows_of_block(b.block)]))
        head = summary.head
        rows.append(self._row(
            CLASSIFIER, "Classifier", "Flatten, then the fully connected layers", head[-1].output_shape,
            sum(r.params for r in head), sum(r.param_share for r in head), sum(r.flops for r in head),
            sum(r.flop_share for r in head), sum(r.activation_bytes for r in head), group=CLASSIFIER, bold=True,
            children=[self._layer_row(summary, layer, layer.name) for layer in head]))
        rows.append(self._row(TOTAL, f"Total  ({len(summary.layers)} layers)", "The whole network, for one image", (),
                              summary.total_params, 1.0, summary.total_flops, 1.0, summary.total_activation_bytes,
                              group=TOTAL, bold=True))
        return rows

    def _layer_row(self, summary: Summary, layer: LayerRow, label: str) -> _Row:
        group = layer.block if layer.block is not None else CLASSIFIER
        row = self._row(layer.name, label, f"{layer.name}: {layer.type}", layer.output_shape, layer.params,
                        layer.param_share, layer.flops, layer.flop_share, layer.activation_bytes, group=group,
                        field=(layer.receptive_field, layer.effective_stride))
        # The chapter's arithmetic behind the numbers, where a formula matches them.
        for col, why in ((COL_SHAPE, shape_reason), (COL_PARAMS, params_formula), (COL_FLOPS, flops_formula)):
            text = why(summary, layer)
            if text:
                row.tips[col] = f"{row.tips[col]}\n{text}" if row.tips[col] else text
        return row

    @staticmethod
    def _row(key: int | str, label: str, about: str, out_shape: tuple[int, ...], params: int, pshare: float,
             flops: int, fshare: float, act: int, group: int, bold: bool = False,
             field: tuple[int | None, int | None] = (None, None), children: list[_Row] | None = None) -> _Row:
        rf, stride = field
        texts = [label, shape(out_shape) if out_shape else "", thousands(params), si(flops), nbytes(act),
                 "" if rf is None else str(rf)]
        tips = [about, "", f"{params:,} parameters ({si(params)}), {_percent(pshare)} of the network",
                f"{flops:,} FLOPs per image, {_percent(fshare)} of the network", f"{act:,} bytes per image",
                COLUMN_TIPS[COL_RF] if rf is None else
                f"One output cell sees {rf}×{rf} input pixels; neighbouring cells are {stride} "
                f"pixel{'s' if stride != 1 else ''} apart (effective stride)"]
        return _Row(key, group, texts, tips, bold, children)

    def _sync(self, parent: QStandardItem, rows: list[_Row], new_groups: list[QStandardItem]) -> None:
        """Make `parent`'s rows show `rows`, reusing every existing row of the same key in place.

        Kept rows get only the cells that changed, announced together (`QuietCells`), so an edit repaints
        its own cells and the scroll position, open groups and selection stay. Rows of other keys (a layer
        the edit removed, a baseline-only row that `SummaryDeltas` adds back after) are removed. Groups
        inserted are listed in `new_groups`.
        """
        existing = [parent.child(j, 0).data(KeyRole) for j in range(parent.rowCount())]
        kept = []
        for i, row in enumerate(rows):
            if row.key in existing[i:]:
                stale = existing.index(row.key, i) - i
                if stale:
                    parent.removeRows(i, stale)
                    del existing[i:i + stale]
                kept.append(i)
            else:
                parent.insertRow(i, self._items(row))
                existing.insert(i, row.key)
                if row.children is not None:
                    new_groups.append(parent.child(i, 0))
            if row.children is not None:
                self._sync(parent.child(i, 0), row.children, new_groups)
        if parent.rowCount() > len(rows):
            parent.removeRows(len(rows), parent.rowCount() - len(rows))
        with QuietCells(self.model) as quiet:
            for i in kept:
                for col, (text, tip) in enumerate(zip(rows[i].texts, rows[i].tips)):
                    quiet.set(parent.child(i, col), text, tip)

    def _items(self, row: _Row) -> list[QStandardItem]:
        items = [QStandardItem(t) for t in row.texts]
        font = QFont()
        font.setBold(row.bold)
        for col, (item, tip) in enumerate(zip(items, row.tips)):
            item.setEditable(False)
            item.setData(row.group, GroupRole)
            item.setToolTip(tip)
            if col >= COL_PARAMS:
                item.setTextAlignment(self._align)
            if row.bold:
                item.setFont(font)
            if row.key == TOTAL:
                item.setBackground(self._total_brush)
        items[0].setData(row.key, KeyRole)
        return items

    def _show_headline(self) -> None:
        s = self._summary
        if s is None:
            self.headline.setText("<i>No valid architecture yet.</i>")
            return
        fc = s.first_linear
        # The document's name (it follows the Name field), and whether it has changed since opened or saved.
        doc = self._document
        edited = " <i>(edited)</i>" if doc.is_dirty() else ""
        stale = (f"<span style='color:{ERROR_BANNER_TEXT}'>Last valid version</span> of "
                 if not doc.is_valid() else "")
        text = (f"{stale}<b>{elide_html(doc.spec.name)}</b>{edited}: {thousands(s.total_params)} parameters, "
                f"{si(s.total_flops, 'FLOP')} per image, depth {s.spec.depth}. ")
        if s.spec.classifier_widths:
            text += f"The first fully connected layer holds <b>{fc.param_share * 100:.1f}%</b> of the parameters"
        else:  # gap: no big first Linear; say where the parameters went instead
            top = max(s.blocks, key=lambda b: b.params)
            share = html.escape(_percent(fc.param_share))  # "<0.1%" is not a tag
            text += (f"The classifier holds only <b>{share}</b> of the parameters, block "
                     f"{top.block + 1} the most (<b>{top.params / (s.total_params or 1) * 100:.1f}%</b>)")
        conv_share = sum(r.flop_share for r in s.layers if r.type == "Conv2d")
        if conv_share > 0:
            text += f"; the convolutions do <b>{conv_share * 100:.1f}%</b> of the compute"
            top = max(b.flops for b in s.blocks)
            busiest = [b.block + 1 for b in s.blocks if b.flops >= top * 0.999]
            share = top / (s.total_flops or 1) * 100
            if len(busiest) == 1:
                text += f" (block {busiest[0]} the most: {share:.1f}%)"
            else:
                names = ", ".join(str(b) for b in busiest[:-1]) + f" and {busiest[-1]}"
                text += f" (blocks {names} the most: {share:.1f}% each)"
        note = s.receptive_field_note()
        self.headline.setText(text + "." + (f" {note}" if note else ""))

    def _show_banner(self) -> None:
        errors = self._document.errors
        # While invalid the numbers are the last valid architecture's: dimmed, and the headline says so.
        stale = bool(errors) and self._summary is not None
        for widget in (self.tree, self.memory_label):
            widget.setStyleSheet(MUTED_STYLE if stale else "")
        self._show_headline()
        for action in (self.copy_action, self.save_csv_action):
            action.setEnabled(not errors and self._summary is not None)
        if not errors:
            self.banner.hide()
            return
        shown = elide(self._summary.spec.name) if self._summary is not None else None
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        tail = (f"The numbers below are still those of the last valid architecture ({shown})."
                if shown is not None else "")
        self.banner.setText(f"This architecture cannot be built: {errors[0].message}{more} {tail}".strip())
        self.banner.show()

    def _show_memory(self) -> None:
        s = self._summary
        if s is None:
            self.memory_label.setText("—")
            return
        m = s.training_memory(self._batch_size, optimizer=self._optimizer)
        label = OPTIMIZER_LABELS.get(self._optimizer, self._optimizer)
        self.memory_label.setText(
            f"Training memory at <a href='#batch'>batch {self._batch_size:,}</a> with <a href='#optimizer'>{label}</a>"
            f" (float32): <b>{nbytes(m.total_bytes)}</b> = weights {nbytes(m.params_bytes)} + gradients "
            f"{nbytes(m.grads_bytes)} + optimizer {nbytes(m.optimizer_bytes)} + activations "
            f"{nbytes(m.activations_bytes)}")
        self.memory_label.setToolTip("A rough estimate: what the framework and cuDNN add on top is not counted. "
                                     "Batch size and optimizer are the Training panel's: click them to change.")
