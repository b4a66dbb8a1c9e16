"""The window under a real X server (run by test_xvfb_smoke.py with QT_QPA_PLATFORM=xcb on Xvfb).

Launch, edit, train a few batches of `tiny` (a quarter of its widths) on the bundled sample, stop, grab every
chart and plot on its own, export the curves as PNG, screenshot the window. Writes the images to argv[1] and
prints one line per step; exits 1 with the reason on the first failure.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def wait(app, condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {seconds:.0f} s waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def main(out: Path) -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QDockWidget, QLineEdit

    app = QApplication(["vgg-studio-smoke"])
    app.setStyle("Fusion")
    print("platform", app.platformName(), flush=True)
    if app.platformName() != "xcb":
        raise SystemExit(f"expected the xcb platform, got {app.platformName()}")

    from vgg_studio.gui.main_window import MainWindow

    window = MainWindow(persist=False)
    window.resize(1280, 800)
    window.show()
    wait(app, lambda: window.windowHandle() is not None and window.windowHandle().isExposed(), 10, "exposure")
    print("launched", window.size().width(), "x", window.size().height(), flush=True)

    # Edit as a user: the preset, then the channel ratio typed into the form.
    window.open_preset("tiny")
    ratio = window.editor.form.ratio
    ratio.setFocus()
    ratio.selectAll()
    QTest.keyClicks(ratio, "4")
    QTest.keyClick(ratio, Qt.Key.Key_Return)
    name = window.findChild(QLineEdit, "nameEdit")
    name.setFocus()
    name.selectAll()
    QTest.keyClicks(name, "smoke")
    QTest.keyClick(name, Qt.Key.Key_Return)
    assert window.document.spec.ratio == 4 and window.document.spec.name == "smoke", window.document.spec
    print("edited", window.document.spec.name, "ratio", window.document.spec.ratio, flush=True)

    # Train a few batches, then stop.
    ctl = window.training
    panel = ctl.panel
    panel.dataset.setCurrentIndex(panel.dataset.findData("sample"))
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    panel.epochs.setValue(1)
    QTest.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    wait(app, lambda: ctl.plots._loss.n >= 2, 300, "two points of the loss curve")
    QTest.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    wait(app, lambda: ctl.job is None, 60, "the run to stop")
    print("trained", ctl.plots._loss.n, "points;", panel.progress.format(), flush=True)

    # Every chart and plot on its own, every dock, the curves' Export PNG, then the window.
    out.mkdir(parents=True, exist_ok=True)
    ctl.plots_dock.raise_()
    app.processEvents()
    for widget in (window.param_chart, window.flop_chart, ctl.plots.loss_plot, ctl.plots.accuracy_plot,
                   *(dock.widget() for dock in window.findChildren(QDockWidget))):
        image = widget.grab()
        if image.isNull() or image.width() < 10:
            raise SystemExit(f"grab() of {widget.objectName()} gave an empty image")
    print("grabbed every chart, plot and panel", flush=True)
    ctl.plots.export_png(out / "curves.png", width=1200)
    window.charts.export_png(out / "charts.png")
    window.diagram_panel.export_png(out / "diagram.png")
    window.grab().save(str(out / "window.png"))
    print("exported", sorted(p.name for p in out.iterdir()), flush=True)
    window.document.undo_stack.setClean()
    window.close()
    print("SMOKE OK", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    sys.exit(main(Path(sys.argv[1])))
