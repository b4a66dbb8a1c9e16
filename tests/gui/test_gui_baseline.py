"""Pin a baseline and edit like a user: Δ columns, removed rows, ghost bars, headline, undo, unpin, stale."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QSpinBox, QTableView, QToolButton, QTreeView
from test_gui_arch_editor import type_into_cell, type_into_spin

from vgg_studio.gui.editor.arch_table_model import COL_CONVS
from vgg_studio.gui.editor.baseline_views import COL_DACT, COL_DFLOPS, COL_DPARAMS, DeltaRole
from vgg_studio.gui.editor.summary_view import COLUMNS, TOTAL, GroupRole
from vgg_studio.spec import Block, preset
from vgg_studio.summary import summarize

NEW_CONV = 9 * 256 * 256 + 256  # block 3's third 3x3 conv, 256 -> 256 channels, with its bias


def action(window, name: str) -> QAction:
    found = window.findChild(QAction, name)
    assert found is not None, name
    return found


def tree_rows(window):
    """(group key, label, [Δ params, Δ FLOPs, Δ activations] as numbers, Δ params text) for every row."""
    model = window.findChild(QTreeView, "summaryView").model()
    rows = []
    for r in range(model.rowCount()):
        group = model.item(r, 0)
        items = [group] + [group.child(c, 0) for c in range(group.rowCount())]
        for item in items:
            parent = item.parent() or model.invisibleRootItem()
            cells = [parent.child(item.row(), col) for col in (COL_DPARAMS, COL_DFLOPS, COL_DACT)]
            rows.append((group.data(GroupRole), item.text(), [c.data(DeltaRole) if c else None for c in cells],
                         cells[0].text() if cells[0] else None))
    return rows


def headline(window) -> str:
    return window.findChild(QLabel, "baselineHeadline").text()


def test_pin_vgg11_add_a_conv_to_block_3_undo_and_unpin(qtbot, window):
    model = window.findChild(QTreeView, "summaryView").model()
    assert model.columnCount() == len(COLUMNS)
    action(window, "action_pin_baseline").trigger()  # Ctrl+B: the open VGG-11 as it is
    assert window.findChild(QToolButton, "unpinBaselineButton").isVisible()
    assert model.columnCount() == len(COLUMNS) + 3
    assert all(d == [0, 0, 0] for *_, d, _ in tree_rows(window))
    assert "Same as the baseline VGG-11" in headline(window)

    type_into_cell(qtbot, window.findChild(QTableView, "archTable"), 2, COL_CONVS, "3")
    assert window.document.spec.blocks[2] == Block(3, 256)
    rows = tree_rows(window)
    new = [r for r in rows if r[0] == 2 and r[1] == "conv3"]
    assert new and new[0][2][0] == NEW_CONV and new[0][3] == "+590,080"
    total = next(r for r in rows if r[0] == TOTAL and r[1].startswith("Total"))
    assert total[2][0] == 590_080 and total[3] == "+590,080 (+0.46%)"
    block3 = next(r for r in rows if r[0] == 2 and r[1].startswith("Block 3"))
    assert block3[2][0] == 590_080
    # every other layer is matched by place: nothing else changed
    others = [r for r in rows if r[0] not in (2, TOTAL)]
    assert all(d[0] == 0 and d[1] == 0 for _, _, d, _ in others)
    expected_flops = summarize(window.document.spec).total_flops - summarize(preset("vgg11")).total_flops
    assert total[2][1] == expected_flops
    assert "block 3: 2×256 → 3×256" in headline(window) and "+590,080 parameters" in headline(window)
    memory = window.findChild(QLabel, "memoryDeltaLabel")
    assert memory.isVisible() and "vs VGG-11: <b>+" in memory.text()

    # ghost bars: VGG-11's layers outlined behind, none behind the new conv
    chart = window.param_chart
    ghosts = dict(chart.ghost_bars())
    names = [r.name for r in chart.layers]
    assert names.index("block3.conv3") not in ghosts and len(ghosts) == len(names) - 1
    assert chart.ghosts.isVisible()

    action(window, "action_undo").trigger()
    assert all(d == [0, 0, 0] for *_, d, _ in tree_rows(window))
    assert "Same as the baseline" in headline(window)
    action(window, "action_redo").trigger()
    assert tree_rows(window)[-1][2][0] == 590_080

    action(window, "action_unpin_baseline").trigger()
    assert model.columnCount() == len(COLUMNS)
    assert not window.findChild(QToolButton, "unpinBaselineButton").isVisible()
    assert chart.ghost_bars() == []


def test_an_invalid_edit_keeps_the_last_valid_deltas_marked_stale(qtbot, window):
    action(window, "pin_baseline_vgg11").trigger()
    window.document.set_block(2, Block(3, 256))
    before = tree_rows(window)
    type_into_spin(qtbot, window.findChild(QSpinBox, "inputSizeSpin"), "16")
    assert not window.document.is_valid()
    assert tree_rows(window) == before
    model = window.findChild(QTreeView, "summaryView").model()
    assert model.horizontalHeaderItem(COL_DPARAMS).text() == "Δ params (stale)"
    assert "stale" in headline(window) and "+590,080 parameters" in headline(window)
    action(window, "action_undo").trigger()
    assert model.horizontalHeaderItem(COL_DPARAMS).text() == "Δ params"


def test_removed_layers_and_blocks_show_where_they_were(qtbot, window):
    assert window.open_preset("vgg13")
    action(window, "pin_baseline_vgg13").trigger()
    window.document.replace_spec(preset("vgg11").removing(4), "VGG-11 without block 5")
    rows = tree_rows(window)
    removed = [(key, label) for key, label, _, _ in rows if "removed" in label]
    assert (0, "conv2 (removed)") in removed and (1, "conv2 (removed)") in removed
    assert (4, "Block 5  (2 × 512) removed") in removed and (4, "conv1 (removed)") in removed
    block1 = [label for key, label, _, _ in rows if key == 0]
    assert block1 == ["Block 1  (1 × 64)", "conv1", "relu1", "conv2 (removed)", "relu2 (removed)", "pool"]
    c = summarize(window.document.spec).total_params - summarize(preset("vgg13")).total_params
    assert rows[-1][2][0] == c
    chart = window.param_chart
    removed_bars = [i for i, (x, h) in enumerate(zip(chart.layers, chart.bar_heights())) if h == 0]
    assert removed_bars and all(i in dict(chart.ghost_bars()) for i in removed_bars)


def test_without_a_baseline_the_status_bar_says_what_an_edit_did(qtbot, window):
    type_into_cell(qtbot, window.findChild(QTableView, "archTable"), 2, COL_CONVS, "3")
    assert window.statusBar().currentMessage() == "+590,080 parameters, +3.70 GFLOP"
    action(window, "action_undo").trigger()
    assert window.statusBar().currentMessage() == "-590,080 parameters, -3.70 GFLOP"


def test_the_baseline_is_session_state_not_file_state(qtbot, tmp_path):
    from vgg_studio.gui import MainWindow
    from vgg_studio.spec import load

    first = MainWindow()
    qtbot.addWidget(first)
    first.baseline.pin_reference("d2l-small")
    first.save_as(tmp_path / "mine.json")
    assert "baseline" not in (tmp_path / "mine.json").read_text()
    assert load(tmp_path / "mine.json") == first.document.spec
    first.close()

    second = MainWindow()
    qtbot.addWidget(second)
    assert second.baseline.baseline.spec == preset("d2l-small")
    assert "vs d2l-small (ratio 4 → 1)" in headline(second)
    second.baseline.unpin()
    second.close()
    third = MainWindow()
    qtbot.addWidget(third)
    assert not third.baseline.baseline.is_pinned()
    third.close()


def test_pinning_a_bad_file_is_a_message_and_changes_nothing(qtbot, window, dialogs, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"blocks": []}')
    dialogs.open_path = str(bad)
    action(window, "action_pin_baseline_file").trigger()
    assert dialogs.warnings and "at least one VGG block" in dialogs.warnings[-1]
    assert not window.baseline.baseline.is_pinned()
    assert window.findChild(QTreeView, "summaryView").model().columnCount() == len(COLUMNS)


def test_ctrl_b_pins(qtbot, window):
    assert action(window, "action_pin_baseline").shortcut().toString() == "Ctrl+B"
    window.findChild(QTableView, "archTable").setFocus()
    qtbot.keyClick(window.findChild(QTableView, "archTable"), Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert window.baseline.baseline.is_pinned()


def test_screenshot_with_a_baseline(qapp, tmp_path, capsys):
    from PySide6.QtGui import QImage

    from vgg_studio.gui.app import main

    out = tmp_path / "pinned.png"
    assert main(["--preset", "vgg13", "--baseline", "vgg11", "--screenshot", str(out)]) == 0
    assert QImage(str(out)).size().toTuple() == (1280, 800)
    assert main(["--preset", "vgg13", "--baseline", "nope.json", "--screenshot", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--baseline nope.json: No such architecture file" in err and "Traceback" not in err
