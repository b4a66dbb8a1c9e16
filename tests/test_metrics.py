"""Curves as the plots draw them and the CSV the window and the command line export."""

from __future__ import annotations

import numpy as np

from vgg_studio.metrics import CSV_HEADER, Curves, curves_csv, write_curves_csv


def test_from_rows_and_csv_put_test_accuracy_at_epoch_ends(tmp_path):
    steps = [{"epoch_float": "0.5", "train_loss": "2.0", "train_acc": "0.3"},
             {"epoch_float": "1.0", "train_loss": "1.0", "train_acc": "0.6"}]
    epochs = [{"epoch": "1", "test_acc": "0.55"}]
    curves = Curves.from_rows("run", steps, epochs)
    assert np.array_equal(curves.step_x, [0.5, 1.0]) and np.array_equal(curves.test_acc, [0.55])
    assert curves_csv(curves).splitlines() == [CSV_HEADER, "0.5,2,0.3,", "1,1,0.6,0.55"]
    write_curves_csv(tmp_path / "c.csv", curves)
    assert (tmp_path / "c.csv").read_text() == curves_csv(curves)
    assert curves_csv(Curves("empty")) == CSV_HEADER + "\n"


def test_smoothing_is_tensorboards_debiased_moving_average():
    from vgg_studio.metrics import smooth_ema

    y = np.array([1.0, 0.0, 1.0, 0.0])
    assert np.array_equal(smooth_ema(y, 0.0), y)
    w, expected, last = 0.6, [], 0.0
    for i, v in enumerate(y, 1):  # written out independently of the implementation
        last = w * last + (1 - w) * v
        expected.append(last / (1 - w**i))
    assert np.allclose(smooth_ema(y, w), expected)
    assert smooth_ema(np.array([2.0, 2.0, 2.0]), 0.9)[0] == 2.0  # debiased: no pull towards zero
