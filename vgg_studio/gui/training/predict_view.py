"""Try a run on your own picture: open or drop an image, see the class probabilities as bars and the image
exactly as the network received it (converted to its channels, resized to its input, normalisation undone
only for showing).

A thin view over `vgg_studio.predict` (the same core as `vgg-studio predict`). Loading the run and the forward
pass run in a background thread; the loaded network is kept until another run is chosen or its weights change.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import (QFileDialog, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from ...runs import RunError
from .. import style
from ..background import BackgroundTask, start_task

BARS = 5  # classes shown, most likely first
PREVIEW = 112  # on-screen size of the network's input (nearest-neighbour, so its pixels stay visible)
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"


def to_pixmap(pixels: np.ndarray, size: int) -> QPixmap:
    """uint8 (H, W) grey or (H, W, 3) RGB pixels as a pixmap `size` wide, enlarged without smoothing."""
    data = np.ascontiguousarray(pixels)
    h, w = data.shape[:2]
    if data.ndim == 2:
        image = QImage(data.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    else:
        image = QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.FastTransformation)


class PredictView(QWidget):
    """The run set with `set_run`; `classify(path)` (also by the Open button or a drop) shows its prediction."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("predictView")
        self.setAcceptDrops(True)
        self.run_dir: Path | None = None
        self.task: BackgroundTask | None = None
        self.last_prediction = None  # predict.Prediction of the image shown
        self._net = None  # (run folder, weights mtime, TrainedNet, module) of the loaded run
        self._pending: Path | None = None  # an image asked for while another was being classified

        self.caption = QLabel(objectName="predictCaption", wordWrap=True)
        self.open_button = QPushButton("Open image…", objectName="predictOpenButton")
        self.open_button.setToolTip("Classify an image file with the selected run (or drop one here)")
        self.input_view = QLabel(objectName="predictInput", alignment=Qt.AlignmentFlag.AlignCenter)
        self.input_view.setFixedSize(PREVIEW + 4, PREVIEW + 4)
        self.input_view.setStyleSheet("QLabel { border: 1px solid palette(mid); }")
        self.input_caption = QLabel(objectName="predictInputCaption", wordWrap=True,
                                    alignment=Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.input_caption.setStyleSheet(style.MUTED_STYLE)
        self.input_caption.setFixedWidth(PREVIEW + 48)
        self.names: list[QLabel] = []
        self.bars: list[QProgressBar] = []
        bars = QGridLayout()
        bars.setColumnStretch(1, 1)
        for i in range(BARS):
            name = QLabel(objectName=f"predictName{i}")
            bar = QProgressBar(objectName=f"predictBar{i}")
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bar.setMinimumWidth(80)
            bars.addWidget(name, i, 0)
            bars.addWidget(bar, i, 1)
            self.names.append(name)
            self.bars.append(bar)

        top = QHBoxLayout()
        top.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.caption, 1)
        picture = QVBoxLayout()
        picture.addWidget(self.input_view, 0, Qt.AlignmentFlag.AlignHCenter)
        picture.addWidget(self.input_caption)
        picture.addStretch(1)
        column = QVBoxLayout()
        column.addLayout(bars)
        column.addStretch(1)
        body = QHBoxLayout()
        body.addLayout(picture)
        body.addLayout(column, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(body, 1)

        self.open_button.clicked.connect(self.open_image)
        self.set_run(None)

    # --- the run -----------------------------------------------------------------------------------
    def set_run(self, run_dir: str | os.PathLike[str] | None) -> None:
        """Classify with this run from now on (None: no run chosen); the last prediction is cleared."""
        run = Path(run_dir) if run_dir is not None else None
        if run == self.run_dir and run is not None:
            return
        self.run_dir = run
        self._clear_prediction()
        self.open_button.setEnabled(run is not None)
        if run is None:
            self._say("Select a run in Runs, then open or drop an image to see what it predicts.")
        else:
            self._say(f"Open or drop an image to classify it with run {run.name}.")

    def _say(self, text: str, error: bool = False) -> None:
        self.caption.setText(text)
        self.caption.setStyleSheet(style.ERROR_TEXT_STYLE if error else "")

    def _clear_prediction(self) -> None:
        self.last_prediction = None
        self.input_view.clear()
        self.input_caption.clear()
        for name, bar in zip(self.names, self.bars):
            name.clear()
            bar.setValue(0)
            bar.setFormat("")
            bar.setEnabled(False)

    # --- images ------------------------------------------------------------------------------------
    def open_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Classify an image", "", IMAGE_FILTER)
        if path:
            self.classify(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.run_dir is not None and any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.classify(files[0])

    def classify(self, path: str | os.PathLike[str]) -> bool:
        """Predict `path` with the current run in the background; False when no run is chosen."""
        if self.run_dir is None:
            return False
        image = Path(path)
        if self.task is not None:  # one at a time; the newest request wins
            self._pending = image
            return True
        run, cached = self.run_dir, self._net

        def work():
            from ...predict import predict, read_image
            from ...trained import WEIGHT_FILES, from_run

            stamp = next(((run / n).stat().st_mtime_ns for n in WEIGHT_FILES if (run / n).exists()), None)
            if cached is not None and cached[:2] == (run, stamp):
                net, model = cached[2], cached[3]
            else:
                net = from_run(run)
                model = net.model()
            pixels = read_image(image, net.spec.in_channels)
            (prediction,) = predict(net, [pixels], k=BARS, model=model)
            return (run, stamp, net, model), image, prediction

        from ...predict import ImageError

        self._say(f"Classifying {image.name}…")
        self.task = start_task(work, (ImageError, RunError), self, self._done, self._failed)
        return True

    def _next(self) -> None:
        if self.task is not None:
            self.task.deleteLater()
        self.task = None
        pending, self._pending = self._pending, None
        if pending is not None:
            self.classify(pending)

    def _done(self, result) -> None:
        loaded, image, prediction = result
        if loaded[0] == self.run_dir:
            self._net = loaded
            self._show(loaded[2], image, prediction)
        self._next()

    def _failed(self, message: str) -> None:
        self._clear_prediction()
        self._say(message, error=True)
        self._next()

    def _show(self, net, image: Path, prediction) -> None:
        from ...predict import display_image

        self.last_prediction = prediction
        s, channels = net.spec.input_size, net.spec.in_channels
        width, height = prediction.original_size
        self._say(f"{image.name} ({width}×{height}) with run {net.run_dir.name}: most likely "
                  f"{prediction.top[0][0]} ({prediction.top[0][1]:.1%}).")
        self.input_view.setPixmap(to_pixmap(display_image(net, prediction.input), PREVIEW))
        self.input_caption.setText(f"as the network sees it:\n{'grey' if channels == 1 else 'RGB'} {s}×{s}")
        for i, (name, bar) in enumerate(zip(self.names, self.bars)):
            if i < len(prediction.top):
                cls, p = prediction.top[i]
                name.setText(cls)
                bar.setValue(round(p * 1000))
                bar.setFormat(f"{p:.1%}")
                bar.setEnabled(True)
            else:
                name.clear()
                bar.setValue(0)
                bar.setFormat("")

    def wait(self) -> None:
        """Block until a running prediction has finished (the window is closing)."""
        if self.task is not None:
            self.task.wait()
