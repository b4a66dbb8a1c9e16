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


def test_none_survives_many_qvariant_conversions():
    """PySide6 6.12 on CPython 3.11 loses a reference to None per QVariant conversion; without
    vgg_studio.gui.pyside_workarounds this loop aborts the interpreter (none_dealloc)."""
    import sys

    from PySide6.QtGui import QStandardItem

    import vgg_studio.gui  # noqa: F401

    item = QStandardItem("x")
    for _ in range(50_000):
        item.data()
    assert sys.getrefcount(None) > 1000
