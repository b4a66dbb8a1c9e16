"""The network-wide knobs beside the block table: input, ratio, BatchNorm, head, classifier, dropout, classes.

Each field shows the document's spec and turns a committed change (Enter, focus out, arrow click) into
one undoable edit. Problems the core reports for a field are shown on the field itself; text that is not
even a list of numbers (classifier widths) is flagged in place and the spec is left as it was.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractSpinBox, QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLineEdit,
                               QSpinBox, QWidget)

from ...spec import (HEAD_HELP, HEAD_LABELS, HEADS, MAX_CLASSES, MAX_IN_CHANNELS, MAX_INPUT_SIZE, MAX_RATIO, ArchSpec,
                     Problem)
from ..style import ERROR_FIELD_STYLE, WARNING_FIELD_STYLE
from .document import ArchDocument


FIELD_TIPS = {
    "name": "A name for this architecture (saved in the file and shown in run history)",
    "input_size": "Height and width of the input images (the data is resized to it); each block halves it",
    "in_channels": "Image channels: 1 for Fashion-MNIST and MNIST, 3 for CIFAR-10",
    "ratio": "Divide every block's channels by this (d2l trains small_conv_arch with ratio 4)",
    "hidden": "Widths of the hidden fully connected layers, comma-separated (d2l: 4096, 4096); "
              "empty for a single linear classifier",
    "dropout": "Dropout probability after each hidden layer",
    "num_classes": "Outputs of the last layer (10 for Fashion-MNIST)",
    "batch_norm": "BatchNorm after every convolution (Conv → BatchNorm → ReLU, as torchvision's vgg*_bn): "
                  "training starts faster",
    "head": "What follows the blocks:\n" + "\n".join(f"{key}: {text}" for key, text in HEAD_HELP.items()),
}
GAP_TIP = "The gap head has no hidden layers; these settings come back when you choose fc or adaptive."


def parse_widths(text: str) -> tuple[int, ...]:
    """'4096, 4096' -> (4096, 4096); raises ValueError with a message for the user."""
    parts = [p for p in re.split(r"[,;\s]+", text.strip()) if p]
    widths = []
    for part in parts:
        clean = part.replace("_", "")
        if not clean.isdigit():
            raise ValueError(f"Classifier widths: {part!r} is not a whole number; "
                             "write widths like 4096, 4096 (or leave empty for none).")
        widths.append(int(clean))
    return tuple(widths)


class NetworkForm(QWidget):
    """Form over the spec's network-wide fields; text that cannot be parsed is reported to the document."""

    def __init__(self, document: ArchDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self.name_edit = QLineEdit(objectName="nameEdit")
        self.input_size = self._spin("inputSizeSpin", 1, MAX_INPUT_SIZE, " px")
        self.in_channels = self._spin("inChannelsSpin", 1, MAX_IN_CHANNELS)
        self.ratio = self._spin("ratioSpin", 1, MAX_RATIO)
        self.hidden_edit = QLineEdit(objectName="hiddenEdit")
        self.hidden_edit.setPlaceholderText("none (one linear layer)")
        self.dropout = QDoubleSpinBox(objectName="dropoutSpin")
        self.dropout.setRange(0.0, 0.99)
        self.dropout.setSingleStep(0.05)
        self.dropout.setDecimals(2)
        self.dropout.setKeyboardTracking(False)
        self.num_classes = self._spin("classesSpin", 1, MAX_CLASSES)
        self.batch_norm = QCheckBox("after each conv", objectName="batchNormCheck")
        self.head = QComboBox(objectName="headCombo")
        for i, key in enumerate(HEADS):
            self.head.addItem(HEAD_LABELS[key], key)
            self.head.setItemData(i, HEAD_HELP[key], Qt.ItemDataRole.ToolTipRole)

        self.fields: dict[str, QWidget] = {
            "name": self.name_edit, "input_size": self.input_size, "in_channels": self.in_channels,
            "ratio": self.ratio, "batch_norm": self.batch_norm, "head": self.head, "hidden": self.hidden_edit,
            "dropout": self.dropout, "num_classes": self.num_classes,
        }
        layout = QFormLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        labels = {"name": "&Name", "input_size": "&Input size", "in_channels": "Input c&hannels",
                  "ratio": "Channel &ratio", "batch_norm": "&BatchNorm", "head": "H&ead",
                  "hidden": "Classifier &widths", "dropout": "&Dropout", "num_classes": "&Classes"}
        for key, widget in self.fields.items():
            widget.setToolTip(FIELD_TIPS[key])
            layout.addRow(labels[key], widget)

        self.name_edit.editingFinished.connect(self._commit_name)
        self.hidden_edit.editingFinished.connect(self._commit_hidden)
        for key in ("input_size", "in_channels", "ratio", "num_classes"):
            self.fields[key].valueChanged.connect(lambda value, key=key: self._commit(key, value))
        self.dropout.valueChanged.connect(lambda value: self._commit("dropout", round(value, 4)))
        self.batch_norm.toggled.connect(lambda on: self._commit("batch_norm", on))
        self.head.currentIndexChanged.connect(lambda _i: self._commit("head", self.head.currentData()))

        document.specChanged.connect(self._show_spec)
        document.problemsChanged.connect(self._show_problems)
        self._show_spec(document.spec)
        self._show_problems(document.problems)

    @staticmethod
    def _spin(name: str, lo: int, hi: int, suffix: str = "") -> QSpinBox:
        spin = QSpinBox(objectName=name)
        spin.setRange(lo, hi)
        spin.setSuffix(suffix)
        spin.setGroupSeparatorShown(True)
        spin.setKeyboardTracking(False)  # one edit per committed value, not per keystroke
        spin.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        return spin

    # --- document -> widgets -------------------------------------------------------------------
    def _show_spec(self, spec: ArchSpec) -> None:
        for widget in self.fields.values():
            widget.blockSignals(True)
        try:
            self.name_edit.setText(spec.name)
            for key in ("input_size", "in_channels", "ratio", "num_classes"):
                value = getattr(spec, key)
                if isinstance(value, int):
                    self.fields[key].setValue(value)
            if isinstance(spec.dropout, (int, float)):
                self.dropout.setValue(float(spec.dropout))
            self.hidden_edit.setText(", ".join(str(w) for w in spec.hidden))
            self.batch_norm.setChecked(spec.batch_norm is True)
            self.head.setCurrentIndex(max(self.head.findData(spec.head), 0))
            for widget in (self.hidden_edit, self.dropout):  # the gap head has no hidden layers
                widget.setEnabled(spec.head != "gap")
        finally:
            for widget in self.fields.values():
                widget.blockSignals(False)

    def _show_problems(self, problems: list[Problem]) -> None:
        by_field: dict[str, list[Problem]] = {}
        for p in problems:
            if p.block is None and p.field in self.fields:
                by_field.setdefault(p.field, []).append(p)
            elif p.field == "blocks" and p.is_error:
                # Too many halvings: a larger input is the other way to fix it, so point at it too.
                by_field.setdefault("input_size", []).append(p)
        for key, widget in self.fields.items():
            found = by_field.get(key, [])
            if found:
                widget.setStyleSheet(ERROR_FIELD_STYLE if any(p.is_error for p in found) else WARNING_FIELD_STYLE)
                widget.setToolTip("\n".join(p.message for p in found))
            else:
                widget.setStyleSheet("")
                widget.setToolTip(GAP_TIP if key in ("hidden", "dropout") and not widget.isEnabled()
                                  else FIELD_TIPS[key])
            widget.setProperty("problem", "error" if found and any(p.is_error for p in found) else
                               "warning" if found else "")

    # --- widgets -> document -------------------------------------------------------------------
    def _commit(self, key: str, value) -> None:
        self._document.set_field(key, value)

    def _commit_name(self) -> None:
        name = self.name_edit.text().strip() or "custom"
        self._document.set_field("name", name)

    def _commit_hidden(self) -> None:
        try:
            widths = parse_widths(self.hidden_edit.text())
        except ValueError as exc:
            self._document.set_input_error("hidden", str(exc))  # listed in Problems; the spec stays as it was
            return
        self._document.set_input_error("hidden", None)
        if not self._document.set_field("hidden", widths):
            self._show_spec(self._document.spec)  # normalise "4096,4096" to "4096, 4096"
            self._show_problems(self._document.problems)
