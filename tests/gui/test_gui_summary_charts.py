"""The summary tree and the charts show what `summarize` computes, and follow every edit."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QComboBox, QSpinBox, QTreeView

from vgg_studio.gui.editor.charts import WEIGHT_LAYERS, short_label
from vgg_studio.gui.editor.summary_view import COL_PARAMS, GroupRole
from vgg_studio.spec import PRESET_NAMES, Block, preset
from vgg_studio.summary import summarize
from vgg_studio.units import nbytes, thousands


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_tree_and_charts_match_the_core(qtbot, window, name):
    assert window.open_preset(name)
    expected = summarize(preset(name))
    tree = window.findChild(QTreeView, "summaryView")
    model = tree.model()
    groups = [model.item(r, 0) for r in range(model.rowCount())]
    assert len(groups) == len(expected.blocks) + 2  # blocks, classifier, total
    assert sum(g.rowCount() for g in groups) == len(expected.layers)
    assert window.summary_view.total_params_text() == thousands(expected.total_params)
    for b, group in zip(expected.blocks, groups):
        assert group.data(GroupRole) == b.block
        assert model.item(group.row(), COL_PARAMS).text() == thousands(b.params)

    weights = [r for r in expected.layers if r.type in WEIGHT_LAYERS]  # BatchNorm's tiny shares get no bar
    with_params = [r for r in weights if r.params > 0]
    assert len(window.param_chart.bar_heights()) == len(with_params)
    assert len(window.flop_chart.bar_heights()) == len([r for r in weights if r.flops > 0])
    assert sum(window.param_chart.bar_heights()) == pytest.approx(100.0 * sum(r.param_share for r in weights))
    ticks = window.param_chart.getPlotItem().getAxis("bottom")._tickLevels[0]
    assert [label for _, label in ticks] == [short_label(r) for r in with_params]


def test_charts_make_the_seeds_point(qtbot, window):
    """VGG-11: fc1 holds 79.8% of the parameters; convolutions do nearly all the FLOPs."""
    heights = window.param_chart.bar_heights()
    fc1 = [r.name for r in window.param_chart.layers].index("fc1")
    assert heights[fc1] == max(heights) == pytest.approx(79.78, abs=0.01)
    assert window.param_chart.peak_label.toPlainText() == "fc1: 79.8%"
    assert "convs 98.4%" in window.flop_chart.title_text


def test_summary_follows_edits_and_memory_follows_the_training_settings(qtbot, window):
    window.document.set_block(4, Block(2, 256))
    expected = summarize(window.document.spec)
    assert window.summary_view.total_params_text() == thousands(expected.total_params)
    view, panel = window.summary_view, window.training.panel
    assert window.findChildren(QSpinBox, "batchSizeSpin") == [panel.batch_size]  # one batch size in the window
    assert len(window.findChildren(QComboBox, "optimizerCombo")) == 1
    panel.batch_size.setValue(32)
    assert "batch 32" in view.memory_label.text()
    assert nbytes(expected.training_memory(32).total_bytes) in view.memory_label.text()
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("adam"))
    assert nbytes(expected.training_memory(32, optimizer="adam").total_bytes) in view.memory_label.text()
    assert panel.lr.value() == pytest.approx(1e-3)  # Adam's usual rate replaces SGD's 0.05 ...
    assert panel.config().batch_size == 32 and panel.config().optimizer == "adam"  # ... and the run uses them
    panel.lr.setValue(0.0004)
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("sgd"))
    assert panel.lr.value() == pytest.approx(0.0004)  # a rate the user typed stays
    panel.momentum.setValue(0.9)
    assert nbytes(expected.training_memory(32, optimizer="sgd-momentum").total_bytes) in view.memory_label.text()
    view.memory_label.linkActivated.emit("#batch")  # the link in the memory line leads to the one batch size
    assert panel.batch_size.hasFocus() or not window.isActiveWindow()


def test_headline_names_the_dominant_layers(qtbot, window):
    text = window.summary_view.headline.text()
    assert "128,806,154 parameters" in text and "79.8%" in text


def test_hovering_a_bar_explains_it(qtbot, window, monkeypatch):
    from PySide6.QtWidgets import QToolTip

    shown = []
    monkeypatch.setattr(QToolTip, "showText", staticmethod(lambda _pos, text, *_a: shown.append(text)))
    chart = window.param_chart
    fc1 = [r.name for r in chart.layers].index("fc1")
    view_point = chart.getPlotItem().vb.mapViewToScene(QPointF(fc1, 10.0))
    chart.scene().sigMouseMoved.emit(view_point)
    assert shown and shown[-1].startswith("fc1 (Linear)") and "102,764,544 parameters" in shown[-1]


def test_tooltips_explain_the_numbers_with_the_chapters_arithmetic(qtbot, window):
    """Issue 12 item 6: fc1's parameter cell says 25088 × 4096 + 4096 and where 25088 comes from."""
    from vgg_studio.gui.editor.summary_view import COL_FLOPS, COL_SHAPE, CLASSIFIER

    model = window.summary_view.model
    classifier = next(model.item(r, 0) for r in range(model.rowCount())
                      if model.item(r, 0).data(GroupRole) == CLASSIFIER)
    names = [classifier.child(r, 0).text() for r in range(classifier.rowCount())]
    fc1 = names.index("fc1")
    tip = classifier.child(fc1, COL_PARAMS).toolTip()
    assert "25,088 × 4,096 + 4,096 = 102,764,544" in tip and "512 × 7 × 7 is block 5's output" in tip
    assert "2 × 25,088 × 4,096 = 205,520,896 FLOPs" in classifier.child(fc1, COL_FLOPS).toolTip()
    block5 = model.item(4, 0)
    pool = [block5.child(r, 0).text() for r in range(block5.rowCount())].index("pool")
    assert "halves 14 × 14 to 7 × 7" in block5.child(pool, COL_SHAPE).toolTip()


def test_copy_summary_as_text_and_save_as_csv_give_what_the_command_line_prints(qtbot, window, dialogs, capsys,
                                                                              tmp_path):
    """Issue 12 item 6: the window's Copy is `vgg-studio summary` at the panel's batch size, its CSV
    `--format csv`; both are off while the architecture is invalid."""
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QApplication

    from vgg_studio.cli import main

    window.open_preset("d2l-small")
    window.training.panel.batch_size.setValue(64)
    edit_menu = window.menuBar().actions()[1].menu()
    copy = window.findChild(QAction, "action_copy_summary")
    assert copy in edit_menu.actions() and copy in window.summary_view.tree.actions()  # menu and context menu
    copy.trigger()
    assert main(["summary", "--preset", "d2l-small", "--batch-size", "64"]) == 0
    printed = capsys.readouterr().out
    assert QApplication.clipboard().text() == printed and "batch 64" in printed

    dialogs.save_path = str(tmp_path / "small")  # .csv is added
    window.findChild(QAction, "action_save_summary_csv").trigger()
    assert main(["summary", "--preset", "d2l-small", "--format", "csv"]) == 0
    assert (tmp_path / "small.csv").read_text() == capsys.readouterr().out

    window.editor.form.input_size.setValue(8)
    assert not window.summary_view.copy_action.isEnabled() and window.summary_view.summary_text() == ""
    window.document.undo_stack.undo()
    assert window.summary_view.save_csv_action.isEnabled()
