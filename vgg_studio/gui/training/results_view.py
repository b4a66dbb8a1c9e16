"""What a trained network gets wrong: a confusion matrix and test images with predicted vs true labels.

Both views read `runs.RunResults` (saved by the engine after each epoch) and hold nothing else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QListView, QListWidget, QListWidgetItem,
                               QSplitter, QTableView, QTabWidget, QVBoxLayout, QWidget)

from ...runs import RunResults
from .. import style
from .predict_view import PredictView

TILE = 64  # pixels per example image on screen
WRONG = QColor(style.ERROR)
RIGHT = QColor(style.OK)


class ConfusionModel(QAbstractTableModel):
    """Counts with rows = true class and columns = predicted, coloured by each row's share."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.classes: tuple[str, ...] = ()
        self.counts = np.zeros((0, 0), dtype=np.int64)
        self._share = np.zeros((0, 0))

    def set_confusion(self, classes: tuple[str, ...], counts: np.ndarray) -> None:
        self.beginResetModel()
        self.classes = tuple(classes)
        self.counts = np.asarray(counts, dtype=np.int64)
        totals = self.counts.sum(axis=1, keepdims=True)
        self._share = self.counts / np.maximum(totals, 1)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self.counts.shape[0]

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else self.counts.shape[1]

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole) and section < len(self.classes):
            name = self.classes[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{'true' if orientation == Qt.Orientation.Vertical else 'predicted'}: {name}"
            # Class names do not fit narrow columns: columns are numbered, rows say which number is which.
            return f"{section}  {name}" if orientation == Qt.Orientation.Vertical else str(section)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        share = float(self._share[r, c])
        if role == Qt.ItemDataRole.DisplayRole:
            return int(self.counts[r, c])
        if role == Qt.ItemDataRole.BackgroundRole:
            # Correct predictions in green, confusions in red; intensity = share of the true class.
            base = (30, 132, 73) if r == c else (192, 57, 43)
            a = 0.08 + 0.92 * share if self.counts[r, c] else 0.0
            return QColor(*(round(255 - (255 - v) * a) for v in base))
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor("white") if share > 0.55 else QColor("#222")
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole and r < len(self.classes) and c < len(self.classes):
            return (f"true {self.classes[r]}, predicted {self.classes[c]}: {int(self.counts[r, c])} "
                    f"({share:.1%} of {self.classes[r]})")
        return None


def to_qimage(image: np.ndarray) -> QImage:
    """A (C, H, W) uint8 image (1 or 3 channels) as a QImage that owns its pixels."""
    if image.shape[0] == 1:
        data = np.ascontiguousarray(image[0])
        h, w = data.shape
        return QImage(data.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    data = np.ascontiguousarray(np.transpose(image[:3], (1, 2, 0)))
    h, w, _ = data.shape
    return QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ResultsView(QWidget):
    """Confusion matrix above, example tiles below (misclassified first, as the engine saved them)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsView")
        self.caption = QLabel("Results appear after the first epoch of a run.", objectName="resultsCaption",
                              wordWrap=True)
        self.confusion_model = ConfusionModel(self)
        self.confusion = QTableView(objectName="confusionMatrix")
        self.confusion.setModel(self.confusion_model)
        self.confusion.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.confusion.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.confusion.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.confusion.verticalHeader().setMinimumSectionSize(14)
        self.confusion.horizontalHeader().setMinimumSectionSize(24)
        self.confusion.setToolTip("Rows: true class · columns: predicted class")

        self.examples = QListWidget(objectName="exampleGrid")
        self.examples.setViewMode(QListView.ViewMode.IconMode)
        self.examples.setIconSize(QSize(TILE, TILE))
        self.examples.setGridSize(QSize(TILE + 56, TILE + 40))
        self.examples.setResizeMode(QListView.ResizeMode.Adjust)
        self.examples.setMovement(QListView.Movement.Static)
        self.examples.setWordWrap(True)
        self.examples.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)

        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(QLabel("Confusion matrix (rows: true class, columns: predicted class number)",
                                     wordWrap=True))
        left_layout.addWidget(self.confusion, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(QLabel("Test images: predicted (true), misclassified first", wordWrap=True))
        right_layout.addWidget(self.examples, 1)
        self.predict = PredictView()  # the run's prediction for the user's own image
        self.tabs = QTabWidget(objectName="resultsTabs")
        self.tabs.addTab(right, "Test images")
        self.tabs.addTab(self.predict, "Your image")
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setSizes([420, 420])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(split, 1)

    def clear(self, text: str = "Results appear after the first epoch of a run.") -> None:
        self.confusion_model.set_confusion((), np.zeros((0, 0), dtype=np.int64))
        self.examples.clear()
        self.caption.setText(text)

    def show_results(self, results: RunResults | None, title: str = "") -> None:
        if results is None:
            self.clear(f"{title}: no results yet (the run did not finish an epoch)." if title else
                       "No results yet (the run did not finish an epoch).")
            return
        counts = np.asarray(results.confusion)
        total = int(counts.sum())
        correct = int(np.trace(counts))
        self.confusion_model.set_confusion(results.classes, counts)
        prefix = f"{title}: " if title else ""
        self.caption.setText(f"{prefix}{correct:,} of {total:,} test images right ({correct / max(total, 1):.1%}).")
        self.examples.clear()
        names = results.classes
        label = lambda k: names[k] if 0 <= k < len(names) else str(k)  # noqa: E731
        for image, pred, true in zip(results.examples, results.example_pred, results.example_true):
            pred, true = int(pred), int(true)
            pixmap = QPixmap.fromImage(to_qimage(np.asarray(image))).scaled(
                TILE, TILE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
            text = label(pred) if pred == true else f"{label(pred)}\n(true: {label(true)})"
            item = QListWidgetItem(QIcon(pixmap), text)
            item.setForeground(RIGHT if pred == true else WRONG)
            item.setToolTip(f"predicted {label(pred)}, true {label(true)}")
            item.setData(Qt.ItemDataRole.UserRole, (pred, true))
            self.examples.addItem(item)
