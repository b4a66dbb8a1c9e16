"""The training panel's recipe choice, compile checkbox and hardware-share label, as a user works them."""

from __future__ import annotations

from PySide6.QtCore import Qt

from training_helpers import FakeEngine
from vgg_studio.events import Compiling, Notice
from vgg_studio.gui.training.controller import install_training
from vgg_studio.gui.training.panel import CURVE_POINTS_PER_EPOCH
from vgg_studio.recipes import apply_recipe
from vgg_studio.train_config import TrainConfig


def _choose(qtbot, combo, value) -> None:
    """Pick an item by keyboard, as a user does (arrow keys emit `activated`, like a click in the list)."""
    combo.setFocus()
    target = combo.findData(value)
    key = Qt.Key.Key_Down if target > combo.currentIndex() else Qt.Key.Key_Up
    while combo.currentIndex() != target:
        qtbot.keyClick(combo, key)


def _as_panel_runs(config: TrainConfig, panel) -> TrainConfig:
    """`config` as the panel sends it: its device choice and its number of curve points per epoch."""
    return config.replace(device=panel.config().device, points_per_epoch=CURVE_POINTS_PER_EPOCH)


def test_choosing_a_recipe_fills_in_every_setting_and_an_edit_makes_it_custom(qtbot, stand_in):
    ctl = install_training(stand_in, train_fn=FakeEngine())
    panel = ctl.panel
    assert panel.recipe.currentData() == "d2l" and panel.config() == _as_panel_runs(TrainConfig(), panel)

    _choose(qtbot, panel.recipe, "fast")
    fast = apply_recipe(TrainConfig(), "fast")
    assert panel.config() == _as_panel_runs(fast, panel)
    assert panel.batch_size.value() == fast.batch_size and panel.lr.value() == fast.lr
    assert panel.nesterov.isChecked() and not panel.bias_decay.isChecked()
    assert panel.label_smoothing.value() == fast.label_smoothing and panel.epochs.value() == fast.epochs

    panel.epochs.setValue(5)  # the length is the user's: still the fast recipe
    assert panel.recipe.currentData() == "fast"
    panel.lr.clear()
    qtbot.keyClicks(panel.lr, "0.3")
    assert panel.recipe.currentData() == "custom" and panel.config().lr == 0.3

    _choose(qtbot, panel.recipe, "d2l")
    assert panel.config() == _as_panel_runs(TrainConfig(), panel)  # d2l's settings and its 10 epochs


def test_compile_checkbox_and_what_the_run_says_while_compiling(qtbot, stand_in):
    engine = FakeEngine()
    ctl = install_training(stand_in, train_fn=engine)
    stand_in.show()
    qtbot.waitExposed(stand_in)
    ctl.panel.reveal(ctl.panel.compile)  # scrolled into view, as a user would
    qtbot.mouseClick(ctl.panel.compile, Qt.MouseButton.LeftButton)
    assert ctl.panel.config().compile
    qtbot.mouseClick(ctl.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.job is None, timeout=5000)
    assert engine.calls[-1][1].compile
    ctl.panel.show_compiling(Compiling("training"))
    assert ctl.panel.progress.format() == "Compiling the training step (torch.compile, once per run)…"
    ctl.panel.show_notice(Notice("torch.compile could not compile this network here (...); the run goes on "
                                 "uncompiled."))
    assert "goes on uncompiled" in ctl.panel.status.text()


def test_hardware_share_shown_beside_the_speed(qtbot, stand_in):
    ctl = install_training(stand_in, train_fn=FakeEngine(hardware_share=0.123))
    qtbot.mouseClick(ctl.panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctl.panel.hardware_share.text() != "", timeout=5000)
    assert ctl.panel.hardware_share.text() == "1,000 ex/s ≈ 12% of this CPU's bf16 peak"
    qtbot.waitUntil(lambda: ctl.job is None, timeout=5000)
