"""The block diagram (issue 12 item 6): VGG's classic picture drawn from the summary, linked to the table."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from vgg_studio.gui.editor.block_diagram import MIN_HEIGHT, MIN_THICKNESS, describe
from vgg_studio.spec import preset
from vgg_studio.summary import summarize


@pytest.fixture
def diagram(qtbot, window):
    window.diagram_dock.raise_()
    qtbot.waitUntil(lambda: window.diagram.isVisible() and window.diagram.width() > 400)
    return window.diagram


def test_one_box_per_layer_height_by_size_thickness_by_channels(diagram):
    shapes = diagram.shapes()
    kinds = [s.kind for s in shapes]
    assert kinds.count("input") == 1 and kinds.count("conv") == 8 and kinds.count("pool") == 5
    assert kinds.count("fc") == 3
    convs = [s for s in shapes if s.kind == "conv"]
    expected = summarize(preset("vgg11"))
    assert [(s.layer.name, s.size, s.channels) for s in convs] == [
        (r.name, r.output_shape[2], r.output_shape[1]) for r in expected.layers if r.type == "Conv2d"]
    tall = [s for s in convs if s.front.height() > MIN_HEIGHT]
    for a in tall:  # height ∝ spatial size
        assert a.front.height() / tall[0].front.height() == pytest.approx(a.size / tall[0].size, rel=1e-6)
    per_channel = {round((s.front.width() - MIN_THICKNESS) / s.channels, 6) for s in convs}  # thickness ∝ channels
    assert len(per_channel) == 1 and per_channel.pop() > 0
    xs = [s.front.left() for s in shapes]
    assert xs == sorted(xs)  # left to right in forward order


def test_pools_are_narrowing_steps_and_the_classifier_bars(diagram):
    shapes = diagram.shapes()
    for i, s in enumerate(shapes):
        if s.kind != "pool":
            continue
        points = [s.polygon.at(k) for k in range(s.polygon.size())]
        left, right = points[3].y() - points[0].y(), points[2].y() - points[1].y()
        assert left == pytest.approx(shapes[i - 1].front.height()) and right < left
        if shapes[i + 1].kind == "conv":
            assert right == pytest.approx(shapes[i + 1].front.height())
    bars = [s for s in shapes if s.kind == "fc"]
    assert [s.layer.name for s in bars] == ["fc1", "fc2", "fc3"] and [s.size for s in bars] == [4096, 4096, 10]
    assert bars[0].front.height() == bars[1].front.height() > bars[2].front.height()


def test_clicking_a_box_selects_its_block_in_the_table_and_the_table_fades_the_others(qtbot, window, diagram):
    block3 = next(s for s in diagram.shapes() if s.kind == "conv" and s.block == 2)
    qtbot.mouseClick(diagram, Qt.MouseButton.LeftButton, pos=block3.front.center().toPoint())
    assert window.editor.selected_rows() == [2]
    assert diagram._highlight == {2}
    assert window.summary_view.tree.selectionModel().selectedRows()[0].data() == "Block 3  (2 × 256)"
    qtbot.mouseClick(diagram, Qt.MouseButton.LeftButton, pos=QPoint(2, 2))  # nothing there: no change
    assert window.editor.selected_rows() == [2]
    window.editor.select_row(0)
    assert diagram._highlight == {0}


def test_it_follows_edits_and_is_marked_stale_while_invalid(qtbot, window, diagram):
    window.editor.form.input_size.setValue(8)
    assert diagram.stale_name == "VGG-11" and len([s for s in diagram.shapes() if s.kind == "conv"]) == 8
    window.document.undo_stack.undo()
    assert diagram.stale_name is None
    window.open_preset("tiny")
    assert [s.kind for s in diagram.shapes()] == ["input", "conv", "pool", "conv", "conv", "pool", "fc", "fc"]


def test_tooltip_and_export(diagram, window, tmp_path):
    fc1 = next(s for s in diagram.shapes() if s.kind == "fc")
    text = describe(diagram.summary, fc1)
    assert "25,088 × 4,096 + 4,096 = 102,764,544" in text and "79.8% of the parameters" in text
    assert diagram.shape_at(fc1.front.center()) == fc1
    out = tmp_path / "net.png"
    window.diagram_panel.export_png(out)
    image = QImage(str(out))
    assert image.width() == 1600 and image.height() > 200
