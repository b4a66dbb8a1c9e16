"""The efficiency chart over hand-made points: bubbles, the Pareto front, filters, hover, click, export."""

from __future__ import annotations

import csv
import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from vgg_studio.efficiency import Point
from vgg_studio.gui.efficiency.chart import EfficiencyChart, render_png


def _point(name, acc, speed, params, *, sweep="", label="", dataset="sample", path=None, infer=None):
    return Point(name=name, path=path if path is not None else f"/runs/{name}", label=label, sweep=sweep,
                 arch_name="tiny", dataset=dataset, status="finished" if acc is not None else "measured",
                 device="cpu", epochs_done=1 if acc is not None else 0, params=params, flops=params * 20,
                 test_acc=acc, train_examples_per_sec=speed, inference_examples_per_sec=infer or speed * 3,
                 memory_bytes=params * 16, memory_source="predicted")


POINTS = [
    _point("a", 0.90, 100.0, 800_000, sweep="s1", label="ratio=1"),
    _point("b", 0.85, 300.0, 200_000, sweep="s1", label="ratio=2"),
    _point("c", 0.80, 200.0, 100_000, sweep="s1", label="ratio=4"),  # beaten by b on both: not on the front
    _point("d", 0.70, 900.0, 50_000),  # a lone run
    _point("e", 0.95, 50.0, 2_000_000, dataset="mnist"),  # another dataset: never on the sample's chart
    _point("m", None, 400.0, 30_000, path=""),  # measured, never trained
]


@pytest.fixture
def chart(qtbot):
    c = EfficiencyChart()
    qtbot.addWidget(c)
    c.resize(1000, 600)
    c.show()
    c.set_points(POINTS)
    qtbot.waitExposed(c)
    return c


def _names(points):
    return [p.name for p in points]


def test_bubbles_front_and_list(chart):
    assert chart.objectName() == "efficiencyChart"
    assert chart.dataset.currentData() == "sample"
    assert sorted(_names(chart.drawn)) == ["a", "b", "c", "d"]
    assert _names(chart.front) == ["a", "b", "d"]  # sorted by speed; c is beaten by b
    assert [chart.front_list.item(i).text().splitlines()[0] for i in range(3)] == [
        "tiny ratio=1", "tiny ratio=2", "d"]
    xs, ys = chart.front_line.xData, chart.front_line.yData  # as given (getData() is in log10 for display)
    assert list(ys) == [0.90, 0.85, 0.85, 0.70, 0.70] and list(xs[:2]) == [100.0, 100.0]  # a staircase
    spots = chart.scatter.points()
    by_name = {chart.drawn[s.data()].name: s for s in spots}
    assert by_name["a"].size() > by_name["b"].size() > by_name["c"].size()  # area follows parameters
    assert by_name["a"].size() == pytest.approx(by_name["b"].size() * 2)  # 4x the parameters: 2x the diameter
    assert by_name["a"].pos().x() == pytest.approx(math.log10(100.0))  # log x axis
    assert by_name["a"].brush().color() != by_name["d"].brush().color()  # a sweep has its own colour
    assert chart.hollow == []  # measured-only variants are off until asked for


def test_switches(chart):
    chart.dataset.setCurrentIndex(chart.dataset.findData("mnist"))
    assert _names(chart.drawn) == ["e"]
    chart.dataset.setCurrentIndex(chart.dataset.findData("sample"))
    chart.scope.setCurrentIndex(chart.scope.findData("sweep:s1"))
    assert sorted(_names(chart.drawn)) == ["a", "b", "c"]
    chart.set_selected(["/runs/a", "/runs/d"])
    chart.scope.setCurrentIndex(chart.scope.findData("selected"))
    assert sorted(_names(chart.drawn)) == ["a", "d"]
    chart.scope.setCurrentIndex(chart.scope.findData("all"))
    chart.x_axis.setCurrentIndex(chart.x_axis.findData("params"))  # fewer parameters are better here
    assert _names(chart.front) == ["d", "c", "b", "a"]  # c, smaller than b, is no longer beaten
    assert "parameters" in chart.plot.getPlotItem().getAxis("bottom").labelText
    chart.show_measured.setChecked(True)
    chart.x_axis.setCurrentIndex(chart.x_axis.findData("train"))
    assert _names(chart.hollow) == ["m"] and len(chart.hollow_item.points()) == 1
    assert chart.hollow_item.points()[0].pos().y() < min(p.test_acc for p in chart.drawn)  # on the x axis


def _spot_pos(chart, name):
    spot = next(s for s in chart.scatter.points() if chart.drawn[s.data()].name == name)
    scene = chart.scatter.mapToScene(spot.pos())
    return chart.plot.mapFromScene(scene)


def test_hover_reads_out_and_click_selects(chart, qtbot):
    pos = _spot_pos(chart, "b")
    qtbot.mouseMove(chart.plot.viewport(), pos)
    qtbot.waitUntil(lambda: chart.hovered is not None and chart.hovered.name == "b", timeout=2000)
    text = chart.readout.text()
    assert "ratio=2" in text and "0.850" in text and "300.0 ex/s" in text and "200,000 parameters" in text
    with qtbot.waitSignal(chart.runClicked, timeout=2000) as signal:
        qtbot.mouseClick(chart.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert signal.args == ["/runs/b"]
    with qtbot.waitSignal(chart.runClicked, timeout=2000) as signal:
        item = chart.front_list.item(2)
        rect = chart.front_list.visualItemRect(item)
        qtbot.mouseClick(chart.front_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert signal.args == ["/runs/d"]


def test_export_png_and_csv(chart, tmp_path):
    chart.export_png(tmp_path / "c.png", width=800)
    image = QImage(str(tmp_path / "c.png"))
    assert image.width() == 800 and image.height() > 300
    chart.export_csv(tmp_path / "c.csv")
    rows = list(csv.DictReader((tmp_path / "c.csv").open()))
    assert [r["name"] for r in rows] == ["a", "b", "c", "d"]
    assert [r["pareto"] for r in rows] == ["True", "True", "False", "True"]
    assert rows[1]["label"] == "ratio=2" and float(rows[1]["test_acc"]) == 0.85


def test_render_png_headless(tmp_path, qapp):
    drawn = render_png(POINTS, tmp_path / "chart.png", x="inference", size="memory")
    assert drawn == 4
    image = QImage(str(tmp_path / "chart.png"))
    assert (image.width(), image.height()) == (1200, 720)  # 1:1, no scaled fonts
    colors = {image.pixelColor(x, y).name() for x in range(0, image.width(), 5) for y in range(0, image.height(), 5)}
    assert len(colors) > 10  # a drawn chart, not a blank image
