"""Every toolbar and block action has an icon; the drawn ones are sharp at 2× and follow the palette."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QIcon, QImage, QPalette
from PySide6.QtWidgets import QApplication, QToolButton

from vgg_studio.gui import icons


def test_every_toolbar_and_block_action_shows_an_icon(window):
    actions = [a for a in window.toolbar.actions() if not a.isSeparator() and a.text()
               and window.toolbar.widgetForAction(a) is not None
               and isinstance(window.toolbar.widgetForAction(a), QToolButton)]
    named = {a.objectName() for a in actions}
    assert {"action_new", "action_open", "action_save", "action_undo", "action_redo"} <= named
    for action in actions:
        if action.objectName() == "action_pin_baseline":
            continue  # shown as its words: "Pin as Baseline"
        assert not action.icon().isNull(), action.objectName()
    for key, action in window.editor.block_actions.items():
        assert not action.icon().isNull(), key
        button = window.findChild(QToolButton, f"{key}BlockButton")
        assert button.icon().cacheKey() == action.icon().cacheKey()
    # undo and redo are drawn (or the theme's), no longer the style's navigation arrows
    assert window.action_undo.icon().name() in ("undo", "edit-undo")
    assert window.action_redo.icon().name() in ("redo", "edit-redo")


def _ink(image: QImage) -> list[QColor]:
    return [image.pixelColor(x, y) for y in range(image.height()) for x in range(image.width())
            if image.pixelColor(x, y).alpha() > 200]


@pytest.mark.parametrize("name", icons.NAMES)
def test_drawn_icons_are_painted_at_device_pixels_in_the_palette_colours(qapp, name):
    engine_icon = QIcon(icons.PaintedIconEngine(name))
    sharp = engine_icon.pixmap(QSize(16, 16), 2.0)
    assert (sharp.width(), sharp.height(), sharp.devicePixelRatio()) == (32, 32, 2.0)  # drawn, not upscaled
    original = qapp.palette()
    try:
        for text in ("#101010", "#f0f0f0"):  # a light palette's dark text, a dark palette's light text
            palette = QPalette(original)
            palette.setColor(QPalette.ColorRole.WindowText, QColor(text))
            palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#808080"))
            QApplication.setPalette(palette)
            ink = _ink(engine_icon.pixmap(QSize(32, 32)).toImage())
            assert len(ink) > 20, name
            assert any(c.name() == text for c in ink), (name, text)  # strokes in the text colour
        disabled = _ink(engine_icon.pixmap(QSize(32, 32), QIcon.Mode.Disabled).toImage())
        assert disabled and all(abs(c.red() - 128) <= 2 for c in disabled)  # greyed, accent included
    finally:
        QApplication.setPalette(original)
