"""What a trained network gets wrong: a confusion matrix and test images with predicted vs true labels.

Both views read `runs.RunResults` (saved by the engine after each epoch) and hold nothing else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QListView, QListWidget, QListWidgetItem,
                               QSplitter, QTableView, QTabWidget, QVBoxLayout, QWidget)

from ...runs import RunResults
from .. import style
from .predict_view import PredictView

TILE = 64  # pixels per example image on screen
WRONG = QColor(style.ERROR)
RIGHT = QColor(style.OK)
RIGHT_CELL = QColor("#0072b2")  # Okabe–Ito blue: the confusion matrix's diagonal
WRONG_CELL = QColor("#e69f00")  # Okabe–Ito orange: its confusions


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
            # Rows have room for the whole name; narrow columns get its start (the tooltip has all of it).
            return name if orientation == Qt.Orientation.Vertical else abbreviate(name)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        share = float(self._share[r, c])
        if role == Qt.ItemDataRole.DisplayRole:
            return int(self.counts[r, c])
        if role == Qt.ItemDataRole.BackgroundRole:
            # Right in blue, wrong in orange (Okabe–Ito: apart without telling red from green); the strength is
            # the share of the true class.
            base = RIGHT_CELL if r == c else WRONG_CELL
            a = 0.08 + 0.92 * share if self.counts[r, c] else 0.0
            return QColor(*(round(255 - (255 - v) * a) for v in (base.red(), base.green(), base.blue())))
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor("white") if share > 0.55 else QColor("#222")
        if role == Qt.ItemDataRole.FontRole and r == c:
            font = QFont()
            font.setBold(True)  # the diagonal also reads by weight, in any colours
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole and r < len(self.classes) and c < len(self.classes):
            return (f"true {self.classes[r]}, predicted {self.classes[c]}: {int(self.counts[r, c])} "
                    f"({share:.1%} of {self.classes[r]})")
        return None


def abbreviate(name: str, limit: int = 5) -> str:
    """A class name short enough for a narrow column: 'T-shirt/top' -> 'T-sh…'."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


def to_qimage(image: np.ndarray) -> QImage:
    """A (C, H, W) uint8 image (1 or 3 channels) as a QImage that owns its pixels."""
    if image.shape[0] == 1:
        data = np.ascontiguousarray(image[0])
        h, w = data.shape
        return QImage(data.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    data = np.ascontiguousarray(np.transpose(image[:3], (1, 2, 0)))
    h, w, _ = data.shape
    return QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ConfusionPane(QWidget):
    """One run's confusion matrix under a caption that says how many test images it got right."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(objectName=f"{name}Caption", wordWrap=True)
        self.model = ConfusionModel(self)
        self.view = QTableView(objectName=name)
        self.view.setModel(self.model)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.view.verticalHeader().setMinimumSectionSize(14)
        self.view.horizontalHeader().setMinimumSectionSize(24)
        self.view.setToolTip("Rows: true class · columns: predicted class · blue: right · orange: confused")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.view, 1)

    def show_results(self, results: RunResults | None, title: str) -> None:
        if results is None:
            self.model.set_confusion((), np.zeros((0, 0), dtype=np.int64))
            self.caption.setText(f"{title}: no results yet (the run did not finish an epoch)." if title else
                                 "No results yet (the run did not finish an epoch).")
            return
        counts = np.asarray(results.confusion)
        total, correct = int(counts.sum()), int(np.trace(counts))
        self.model.set_confusion(results.classes, counts)
        prefix = f"{title}: " if title else ""
        self.caption.setText(f"{prefix}{correct:,} of {total:,} test images right ({correct / max(total, 1):.1%}).")


class ResultsView(QWidget):
    """One run: its confusion matrix beside its test images (misclassified first, as the engine saved them).
    Two runs (`show_pair`): their confusion matrices side by side."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("resultsView")
        self.pane = ConfusionPane("confusionMatrix")
        self.pane_b = ConfusionPane("confusionMatrixB")  # the second run's, shown by show_pair
        self.pane_b.hide()
        self.caption = self.pane.caption
        self.confusion_model = self.pane.model
        self.confusion = self.pane.view

        self.examples = QListWidget(objectName="exampleGrid")
        self.examples.setViewMode(QListView.ViewMode.IconMode)
        self.examples.setIconSize(QSize(TILE, TILE))
        self.examples.setGridSize(QSize(TILE + 56, TILE + 34))
        self.examples.setResizeMode(QListView.ResizeMode.Adjust)
        self.examples.setMovement(QListView.Movement.Static)
        self.examples.setWordWrap(True)
        self.examples.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.examples_box = QWidget()
        examples_layout = QVBoxLayout(self.examples_box)
        examples_layout.setContentsMargins(0, 0, 0, 0)
        examples_layout.addWidget(QLabel("Test images: predicted (true), misclassified first", wordWrap=True))
        examples_layout.addWidget(self.examples, 1)

        self.predict = PredictView()  # the run's prediction for the user's own image
        self.tabs = QTabWidget(objectName="resultsTabs")
        self.tabs.addTab(self.examples_box, "Test images")
        self.tabs.addTab(self.predict, "Your image")

        self.split = QSplitter(Qt.Orientation.Horizontal)
        for widget in (self.pane, self.pane_b, self.tabs):
            self.split.addWidget(widget)
        self.split.setSizes([460, 380, 460])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.split, 1)
        self.clear()

    def clear(self, text: str = "Results appear after the first epoch of a run.") -> None:
        self.show_results(None)
        self.caption.setText(text)

    def show_results(self, results: RunResults | None, title: str = "") -> None:
        """One run's results: its confusion matrix and test images."""
        if self.pane_b.isVisibleTo(self) or not self.tabs.isVisibleTo(self):  # was showing a pair
            self.pane_b.hide()
            self.tabs.show()
            width = max(self.split.width(), 2)
            self.split.setSizes([width // 2, 0, width - width // 2])
        self.pane.show_results(results, title)
        self.examples.clear()
        if results is None:
            return
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

    def show_pair(self, a: RunResults | None, a_title: str, b: RunResults | None, b_title: str) -> None:
        """Two runs' confusion matrices side by side (select one run to see its test images)."""
        self.examples.clear()
        self.tabs.hide()
        self.pane.show_results(a, a_title)
        self.pane_b.show_results(b, b_title)
        self.pane_b.show()
        width = max(self.split.width(), 2)
        self.split.setSizes([width // 2, width - width // 2, 0])
