"""`vgg-studio` GUI entry: screenshots for every preset, opening files, bad input as messages."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage

from vgg_studio.gui.app import main
from vgg_studio.spec import PRESET_NAMES, preset, save


def _distinct_colors(image: QImage) -> int:
    step = 37
    return len({image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)})


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_screenshot_of_every_preset(qapp, tmp_path, capsys, name):
    out = tmp_path / f"{name}.png"
    assert main(["--preset", name, "--screenshot", str(out)]) == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)
    assert _distinct_colors(image) > 10  # not blank
    assert "wrote" in capsys.readouterr().out


def test_screenshot_of_a_file_with_size(qapp, tmp_path):
    arch = tmp_path / "arch.json"
    save(preset("tiny"), arch)
    out = tmp_path / "shot.png"
    assert main([str(arch), "--screenshot", str(out), "--size", "1024x700"]) == 0
    assert QImage(str(out)).size().toTuple() == (1024, 700)


def test_screenshot_waits_for_the_cost_estimate_and_shows_no_stale_tab_bar(qapp, tmp_path, monkeypatch,
                                                                           cost_probe):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QTabBar

    from vgg_studio.gui import app

    shown, bars = [], []
    real = app.screenshot

    def spy(window, *args):
        code = real(window, *args)
        shown.append(window.training.panel.cost_estimate.text())
        bars.extend(bar for bar in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)
                    if bar.isVisible() and "Sweep" in [bar.tabText(i) for i in range(bar.count())])
        return code

    monkeypatch.setattr(app, "screenshot", spy)
    assert main(["--preset", "tiny", "--screenshot", str(tmp_path / "s.png")]) == 0
    # the label as grabbed: the test probe's 500 images/s, no "Estimating the cost…" left
    assert cost_probe and shown and "per epoch" in shown[0] and "on this CPU" in shown[0], shown
    assert len(bars) == 1  # Qt's stale second Training | Sweep bar was a ghost row of tabs in the README's shots


def test_bad_file_is_one_line_on_stderr(qapp, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    assert main(["--arch", str(bad), "--screenshot", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_bad_arguments_exit_2(qapp, capsys):
    assert main(["--preset", "vgg99", "--screenshot", "x.png"]) == 2
    assert main(["--size", "big", "--screenshot", "x.png"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_screenshot_leaves_settings_alone(qapp, tmp_path, settings_file):
    assert main(["--preset", "vgg19", "--screenshot", str(tmp_path / "s.png")]) == 0
    assert not settings_file.exists() or "vgg19" not in settings_file.read_text()


def test_installed_pyside_keeps_its_references_to_none():
    """PySide6 6.12.0 on CPython 3.11 drops a reference to None per QVariant conversion and per void call,
    so a long session dies with "none_dealloc"; pyproject.toml excludes it. This fails if a bad one returns."""
    import sys

    from PySide6.QtCore import QObject
    from PySide6.QtGui import QStandardItem

    item, obj = QStandardItem("x"), QObject()
    before = sys.getrefcount(None)
    for _ in range(2000):
        item.data()
        obj.setObjectName("probe")
    assert abs(sys.getrefcount(None) - before) < 100
