"""What a pinned baseline adds to the summary panel: Δ columns, rows for removed layers, the headline bar.

`SummaryDeltas` decorates the `SummaryView`'s model after each fill rather than living inside it, so the
summary view keeps one job (show a summary) and the baseline can come and go: it appends three Δ
columns (parameters, FLOPs, activations) to every row, adds struck-through rows for layers and blocks
that only the baseline has, and takes all of that away again on unpin. Rows are matched by place, as
`compare.compare` aligns them: a block's group lists its layers in forward order, as the comparison does.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QStandardItem
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton

from ...compare import ADDED, REMOVED, SAME, LayerDelta
from ...units import nbytes, percent_change, shape, si, signed, signed_nbytes, signed_si, thousands
from .. import style
from .baseline import Baseline
from .summary_view import (CLASSIFIER, COL_ACT, COL_FLOPS, COL_PARAMS, COLUMNS, TOTAL, GroupRole, QuietCells,
                           SummaryView)

DELTA_COLUMNS = ("Δ params", "Δ FLOPs", "Δ activations")
DELTA_TIPS = (
    "Parameters added (+) or saved (−) against the pinned baseline, with the change in percent",
    "FLOPs per image added (+) or saved (−) against the pinned baseline",
    "Activation memory per image added (+) or saved (−) against the pinned baseline",
)
COL_DPARAMS, COL_DFLOPS, COL_DACT = range(len(COLUMNS), len(COLUMNS) + len(DELTA_COLUMNS))
DeltaRole = Qt.ItemDataRole.UserRole + 20  # the signed number behind a Δ cell (tests, sorting)
BaselineRowRole = Qt.ItemDataRole.UserRole + 21  # True on rows this module added (removed layers)
STALE_NOTE = "stale: these are the deltas of the last valid architecture"


def _delta_text(delta: int, base: int | None, fmt: Callable[[int], str], percent: bool) -> str:
    """'+590,080', with the change in percent of the baseline's value for groups and totals ('+67%')."""
    if delta == 0:
        return "0"
    pct = percent_change(delta, base) if base and percent else ""
    return f"{fmt(delta)} ({pct})" if pct else fmt(delta)


class SummaryDeltas(QObject):
    """Keeps the summary view's Δ columns and removed rows in step with the baseline's comparison."""

    def __init__(self, view: SummaryView, baseline: Baseline) -> None:
        super().__init__(view)
        self.view = view
        self.baseline = baseline
        self.model = view.model
        # Made once: a VGG-19 refresh fills some 200 cells.
        self._brushes = {sign: QBrush(QColor(color)) for sign, color in
                         ((1, style.DELTA_UP), (-1, style.DELTA_DOWN), (0, style.DERIVED_TEXT))}
        self._align = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        baseline.changed.connect(self.refresh)
        # The view refills its model on every new summary; the baseline recomputes after it (it connected to
        # the document later), so `changed` arrives after the refill and redecorates it.
        self.refresh()

    def refresh(self) -> None:
        comparison = self.baseline.comparison
        tree = self.view.tree
        tree.setUpdatesEnabled(False)
        try:
            self._clear()
            if comparison is None or self.view.summary is None or comparison.b is not self.view.summary:
                self.model.setColumnCount(len(COLUMNS))
                return
            self.model.setColumnCount(len(COLUMNS) + len(DELTA_COLUMNS))
            self._place_beside_values()
            stale = self.baseline.stale
            for col, (title, tip) in enumerate(zip(DELTA_COLUMNS, DELTA_TIPS), start=len(COLUMNS)):
                header = self.model.horizontalHeaderItem(col)
                if header is None:
                    header = QStandardItem()
                    self.model.setHorizontalHeaderItem(col, header)
                header.setText(f"{title} (stale)" if stale else title)
                header.setToolTip(f"{tip}. {STALE_NOTE.capitalize()}." if stale else f"{tip} ({self.baseline.label}).")
            self._decorate(stale)
        finally:
            tree.setUpdatesEnabled(True)

    # --- internals ---------------------------------------------------------------------------------
    def _place_beside_values(self) -> None:
        """Show each Δ column right after the column it is the delta of (the model keeps them at the end,
        where the summary view's own columns never move), so Δ params is in view in a narrow window."""
        header = self.view.tree.header()
        for value_col, delta_col in ((COL_PARAMS, COL_DPARAMS), (COL_FLOPS, COL_DFLOPS), (COL_ACT, COL_DACT)):
            target = header.visualIndex(value_col) + 1
            if header.visualIndex(delta_col) != target:
                header.moveSection(header.visualIndex(delta_col), target)

    def _clear(self) -> None:
        """Remove the rows this module added (after an unpin, a repin, or a change of validity)."""
        root = self.model.invisibleRootItem()
        for row in reversed(range(root.rowCount())):
            group = root.child(row)
            if group.data(BaselineRowRole):
                root.removeRow(row)
                continue
            for child in reversed(range(group.rowCount())):
                if group.child(child).data(BaselineRowRole):
                    group.removeRow(child)

    def _decorate(self, stale: bool) -> None:
        """Rows only the baseline has first (the rows move), then every Δ cell with the model quiet."""
        comparison = self.baseline.comparison
        root = self.model.invisibleRootItem()
        groups = {root.child(r).data(GroupRole): root.child(r) for r in range(root.rowCount())}
        by_group: dict[int, list[LayerDelta]] = {}
        for d in comparison.layers:
            by_group.setdefault(CLASSIFIER if d.block is None else d.block, []).append(d)

        cells: list[tuple[QStandardItem, tuple[int, int, int], tuple[int, int, int] | None, str]] = []
        for block_delta in comparison.blocks:
            key = block_delta.block
            group = groups.get(key)
            if group is None:  # a block only the baseline has: a whole removed group before the classifier
                group = self._removed_group(root, groups, block_delta)
            base = block_delta.a
            cells.append((group, (block_delta.delta_params, block_delta.delta_flops,
                                  block_delta.delta_activation_bytes),
                          None if base is None else (base.params, base.flops, base.activation_bytes), SAME))
            cells += self._layers(group, by_group.get(key, []))
        head = groups.get(CLASSIFIER)
        if head is not None:
            rows = by_group.get(CLASSIFIER, [])
            deltas = tuple(sum(getattr(d, f) for d in rows)
                           for f in ("delta_params", "delta_flops", "delta_activation_bytes"))
            base = tuple(sum(getattr(d.a, f) for d in rows if d.a is not None)
                         for f in ("params", "flops", "activation_bytes"))
            cells.append((head, deltas, base, SAME))
            cells += self._layers(head, rows)
        total = groups.get(TOTAL)
        if total is not None:
            a = comparison.a
            cells.append((total, (comparison.delta_params, comparison.delta_flops,
                                  comparison.delta_activation_bytes),
                          (a.total_params, a.total_flops, a.total_activation_bytes), SAME))
        with QuietCells(self.model) as quiet:
            for first, deltas, base, status in cells:
                self._set_deltas(quiet, first, deltas, base, stale, status)

    def _layers(self, group: QStandardItem, deltas: list[LayerDelta]) -> list:
        """Removed layers inserted where they sat in the baseline; then the Δ cells each layer row needs.

        The group lists this architecture's layers in order, and so does `deltas` (with the removed ones
        among them), so inserting each removed layer at its own index lines the two lists up.
        """
        for i, d in enumerate(deltas):
            if d.b is None:
                group.insertRow(i, self._removed_row(d, group.data(GroupRole)))
        if group.rowCount() != len(deltas):  # not the summary this comparison was made for
            return []
        return [(group.child(i), (d.delta_params, d.delta_flops, d.delta_activation_bytes),
                 None if d.a is None else (d.a.params, d.a.flops, d.a.activation_bytes), d.status)
                for i, d in enumerate(deltas)]

    def _set_deltas(self, quiet: QuietCells, first: QStandardItem, deltas: tuple[int, int, int],
                    base: tuple[int, int, int] | None, stale: bool, status: str) -> None:
        parent = first.parent() or self.model.invisibleRootItem()
        row = first.row()
        formats = (signed, signed_si, signed_nbytes)  # as the columns to their left: 1,234 / 1.85 G / 2.0 MiB
        percent = first.parent() is None  # blocks, classifier, total: a layer's change is its own row
        font = QFont(first.font())
        font.setItalic(stale)
        for offset, (delta, fmt) in enumerate(zip(deltas, formats)):
            col = len(COLUMNS) + offset
            # A row the summary view kept in place keeps its Δ cells: set them anew, and announce the
            # ones that changed.
            item = parent.child(row, col)
            if item is None:
                item = QStandardItem()
                item.setEditable(False)
                item.setData(first.data(GroupRole), GroupRole)
                item.setTextAlignment(self._align)
                parent.setChild(row, col, item)  # announced with its text, below
            brush = self._brushes[(delta > 0) - (delta < 0)]
            if item.data(DeltaRole) != delta or item.font() != font or item.foreground() != brush:
                item.setData(delta, DeltaRole)
                item.setForeground(brush)
                item.setFont(font)
                quiet.changed(item)
            exact = {0: f"{delta:+,} parameters", 1: f"{delta:+,} FLOPs per image",
                     2: f"{delta:+,} bytes per image"}[offset]
            pct = percent_change(delta, base[offset]) if base and base[offset] and delta else ""
            what = {ADDED: " (a new layer)", REMOVED: " (only in the baseline)"}.get(status, f" ({pct})" if pct else "")
            quiet.set(item, _delta_text(delta, None if base is None else base[offset], fmt, percent),
                      f"{exact} against {self.baseline.label}{what}" + (f"\n{STALE_NOTE}" if stale else ""))

    def _removed_row(self, d: LayerDelta, key: int) -> list[QStandardItem]:
        """A struck-through row for a layer only the baseline has, with the baseline's numbers."""
        a = d.a
        label = d.name.split(".", 1)[-1] if d.block is not None else d.name
        texts = [f"{label} (removed)", shape(a.output_shape), thousands(a.params), si(a.flops),
                 nbytes(a.activation_bytes)]
        items = _baseline_only_items(texts, key, bold=False)
        items[0].setToolTip(f"{d.name}: {d.type}, only in the baseline {self.baseline.label}")
        return items

    def _removed_group(self, root: QStandardItem, groups: dict, block_delta) -> QStandardItem:
        a = block_delta.a
        before = groups[CLASSIFIER].row() if CLASSIFIER in groups else root.rowCount()
        texts = [f"Block {a.block + 1}  ({a.num_convs} × {a.channels:,}) removed", shape(a.output_shape),
                 thousands(a.params), si(a.flops), nbytes(a.activation_bytes)]
        items = _baseline_only_items(texts, a.block, bold=True)
        items[0].setToolTip(f"Block {a.block + 1} exists only in the baseline {self.baseline.label}")
        root.insertRow(before, items)
        groups[a.block] = items[0]
        return items[0]


class BaselineBar(QFrame):
    """One line above the summary: what the pinned baseline is and what the edit buys against it."""

    def __init__(self, baseline: Baseline, view: SummaryView, unpin: Callable[[], None]) -> None:
        super().__init__(objectName="baselineBar")
        self.baseline = baseline
        self.view = view
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(f"QFrame#baselineBar {{ background: {style.BASELINE_BG}; border-radius: 3px; }}"
                           f" QFrame#baselineBar QLabel {{ color: {style.DARK_TEXT}; }}")
        self.headline = QLabel(objectName="baselineHeadline")
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.unpin_button = QToolButton(objectName="unpinBaselineButton")
        self.unpin_button.setText("Unpin")
        self.unpin_button.setToolTip("Stop comparing with the baseline (Ctrl+Shift+B)")
        self.unpin_button.clicked.connect(unpin)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 3, 3, 3)
        layout.addWidget(self.headline, 1)
        layout.addWidget(self.unpin_button, 0, Qt.AlignmentFlag.AlignTop)

        # The training-memory estimate's delta, on its own line under the view's memory line.
        self.memory = QLabel(objectName="memoryDeltaLabel")
        self.memory.setTextFormat(Qt.TextFormat.RichText)
        view_layout = view.layout()
        view_layout.insertWidget(view_layout.indexOf(view.headline) + 1, self)
        view_layout.insertWidget(view_layout.indexOf(view.memory_label) + 1, self.memory)
        baseline.changed.connect(self.refresh)
        view.trainingSetupChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        comparison = self.baseline.comparison
        pinned = self.baseline.is_pinned()
        self.setVisible(pinned)
        self.memory.setVisible(comparison is not None)
        if not pinned:
            return
        stale = self.baseline.stale
        if comparison is None:
            self.headline.setText(f"Baseline <b>{self.baseline.label}</b> pinned.")
            return
        note = f" <i>({STALE_NOTE})</i>" if stale else ""
        self.headline.setText(f"<b>Baseline</b> · {self.baseline.headline()}{note}")
        self.headline.setToolTip(f"Every Δ below is this architecture minus {self.baseline.label}; "
                                 "layers are matched by block and conv index (classifier layers by index).")
        batch, optimizer = self.view.training_setup()
        delta = comparison.delta_training_bytes(batch, optimizer=optimizer)
        base = comparison.a.training_memory(batch, optimizer=optimizer).total_bytes
        pct = percent_change(delta, base) if delta else ""
        self.memory.setText(f"vs {self.baseline.label}: <b>{signed_nbytes(delta) if delta else '±0'}</b>"
                            f"{f' ({pct})' if pct else ''} training memory{' <i>(stale)</i>' if stale else ''}")


def _baseline_only_items(texts: list[str], group: int, bold: bool) -> list[QStandardItem]:
    """One summary row, struck through and greyed, for a layer or block only the baseline has."""
    font = QFont()
    font.setBold(bold)
    font.setStrikeOut(True)
    items = []
    for col, text in enumerate(texts):
        item = QStandardItem(text)
        item.setEditable(False)
        item.setData(group, GroupRole)
        item.setData(True, BaselineRowRole)
        item.setFont(font)
        item.setForeground(QBrush(QColor(style.DERIVED_TEXT)))
        if col >= 2:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        items.append(item)
    return items
