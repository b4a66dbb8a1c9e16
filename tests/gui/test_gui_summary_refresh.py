"""The summary tree is updated in place after an edit (rows kept by their key, cells set only where they
changed): after any series of edits, undos, a broken and a fixed architecture, with and without a pinned
baseline, it shows exactly what a view built from nothing shows for the same state."""

from __future__ import annotations

from PySide6.QtWidgets import QTreeView

from vgg_studio.gui.editor.baseline_views import DeltaRole, SummaryDeltas
from vgg_studio.gui.editor.summary_view import GroupRole, KeyRole, SummaryView
from vgg_studio.spec import Block


def cells(model) -> list:
    """Headers, then every row in tree order: depth and, per column, what a user or a test can read."""
    out = [[model.headerData(c, _horizontal()) for c in range(model.columnCount())]]

    def walk(parent, depth):
        for r in range(parent.rowCount()):
            row = []
            for c in range(model.columnCount()):
                item = parent.child(r, c)
                row.append(None if item is None else (
                    item.text(), item.toolTip(), item.data(GroupRole), item.data(DeltaRole), item.font().bold(),
                    item.font().italic(), item.font().strikeOut(), item.foreground().color().name(),
                    int(item.textAlignment().value)))
            out.append((depth, row))
            walk(parent.child(r, 0), depth + 1)

    walk(model.invisibleRootItem(), 0)
    return out


def _horizontal():
    from PySide6.QtCore import Qt

    return Qt.Orientation.Horizontal


def by_key(model) -> dict:
    """(group key, row key, column) -> (text, tooltip) for every row the summary view keys (not baseline rows)."""
    out = {}
    for r in range(model.rowCount()):
        group = model.item(r, 0)
        rows = [(None, model.invisibleRootItem(), r)] + [(group.data(KeyRole), group, c)
                                                         for c in range(group.rowCount())]
        for outer, parent, row in rows:
            key = parent.child(row, 0).data(KeyRole)
            for col in range(model.columnCount()):
                item = parent.child(row, col)
                if key is not None and item is not None:
                    out[(outer, key, col)] = (item.text(), item.toolTip())
    return out


class Announced:
    """The cells a view was told about: every dataChanged range and inserted row, by key as `by_key` names them."""

    def __init__(self, model):
        self.model, self.cells = model, set()
        model.dataChanged.connect(self._changed)
        model.rowsInserted.connect(lambda parent, first, last: self._changed(
            self.model.index(first, 0, parent), self.model.index(last, self.model.columnCount() - 1, parent)))

    def _changed(self, top, bottom, _roles=()):
        parent = top.parent()
        outer = parent.siblingAtColumn(0).data(KeyRole) if parent.isValid() else None
        for row in range(top.row(), bottom.row() + 1):
            key = self.model.index(row, 0, parent).data(KeyRole)
            self.cells |= {(outer, key, col) for col in range(top.column(), bottom.column() + 1)}


def built_from_nothing(window):
    view = SummaryView(window.document)
    SummaryDeltas(view, window.baseline.baseline)
    shown = cells(view.model)
    view.deleteLater()
    return shown


def test_in_place_refresh_equals_a_fresh_view_through_edits_undo_and_a_baseline(qtbot, window):
    doc = window.document
    model = window.findChild(QTreeView, "summaryView").model()
    tree = window.findChild(QTreeView, "summaryView")
    steps = [
        lambda: doc.set_block(2, Block(3, 256)),  # a conv more: two rows inserted in block 3
        lambda: window.baseline.pin_current(),  # Δ columns appear, all zero
        lambda: doc.set_block(2, Block(1, 256)),  # two convs fewer: struck-through baseline rows
        lambda: doc.insert_block(1, Block(1, 96)),  # a block more: every later group changes
        lambda: doc.set_field("batch_norm", True),  # BatchNorm rows in every block
        lambda: doc.set_field("head", "gap"),  # the classifier's rows change kind
        lambda: doc.set_field("input_size", 16),  # cannot be built: stale deltas in italics
        lambda: doc.undo_stack.undo(),
        lambda: doc.remove_block(0),  # block keys shift
        lambda: doc.set_block(0, Block(2, 64, kernel_size=5)),
        lambda: window.baseline.pin_reference("vgg13"),  # another baseline: its own removed rows
        lambda: doc.undo_stack.undo(),
        lambda: doc.undo_stack.undo(),
        lambda: doc.undo_stack.redo(),
        lambda: window.baseline.unpin(),  # back to the six columns
        lambda: doc.set_field("ratio", 4),
    ]
    tree.expand(model.item(2, 0).index())  # a group the user opened stays open through edits
    kept_and_changed = 0
    for i, step in enumerate(steps):
        before, announced = by_key(model), Announced(model)
        step()
        assert cells(model) == built_from_nothing(window), f"after step {i}"
        # cells set while the model was quiet were announced after: the view repaints every one that changed
        after = by_key(model)
        changed = {k for k in after if (k[0], k[1], 0) in before and after[k] != before.get(k)}  # kept rows
        assert changed <= announced.cells, f"after step {i}: {list(changed - announced.cells)[:3]}"
        kept_and_changed += len(changed)
        model.dataChanged.disconnect()
        model.rowsInserted.disconnect()
    assert kept_and_changed > 500  # most edits change the shares in every tooltip
    block3 = next(model.item(r, 0) for r in range(model.rowCount()) if model.item(r, 0).data(GroupRole) == 2)
    assert tree.isExpanded(block3.index())
