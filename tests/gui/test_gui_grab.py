"""Every chart and panel renders on its own (grab) and every Export PNG path writes an image.

`ShareChart.metric = "params"` once shadowed QWidget.metric(), the virtual Qt calls for the device pixel
ratio: PySide6 then segfaulted inside grab() while reporting the bad override. The first test guards the
whole window against that class of bug.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, SignalInstance
from PySide6.QtWidgets import QDockWidget


def _qt_attributes(cls: type) -> set[str]:
    return {name for base in cls.__mro__ if base.__module__.startswith(("PySide6", "shiboken6", "Shiboken"))
            for name in vars(base)}


def test_no_object_shadows_a_qt_method_with_data(main_window):
    shadowed = []
    for obj in [main_window, *main_window.findChildren(QObject)]:
        qt_names = _qt_attributes(type(obj))
        shadowed += [f"{type(obj).__name__}.{name}" for name, value in vars(obj).items()
                     if name in qt_names and not isinstance(value, SignalInstance)]
    assert shadowed == []


def test_each_chart_plot_and_panel_grabs_on_its_own(main_window):
    ctl = main_window.training
    widgets = [main_window.param_chart, main_window.flop_chart, ctl.plots.loss_plot, ctl.plots.accuracy_plot,
               *(dock.widget() for dock in main_window.findChildren(QDockWidget))]
    for widget in widgets:
        image = widget.grab().toImage()
        assert not image.isNull() and image.width() > 10 and image.height() > 10, widget.objectName()


def test_curves_export_png(main_window, tmp_path):
    plots = main_window.training.plots
    plots.export_png(tmp_path / "curves.png", width=600)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
