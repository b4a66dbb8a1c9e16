"""A short list of everything the core says is wrong (errors) or odd (warnings), in its own words."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QWidget

from ...spec import Problem
from .document import ArchDocument

ProblemItemRole = Qt.ItemDataRole.UserRole + 1  # the Problem an item shows


class ProblemsView(QListWidget):
    """Lists the document's problems; activating one emits `problemActivated(Problem)` to locate it."""

    problemActivated = Signal(object)

    def __init__(self, document: ArchDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent, objectName="problemsList")
        self.setWordWrap(True)
        self.setUniformItemSizes(False)
        self.setAlternatingRowColors(False)
        self.itemActivated.connect(self._activate)
        self.itemClicked.connect(self._activate)
        document.problemsChanged.connect(self.show_problems)
        self.show_problems(document.problems)

    def show_problems(self, problems: list[Problem]) -> None:
        self.clear()
        style = self.style()
        ordered = sorted(problems, key=lambda p: (not p.is_error, p.block if p.block is not None else -1))
        for p in ordered:
            icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical if p.is_error
                                      else QStyle.StandardPixmap.SP_MessageBoxWarning)
            item = QListWidgetItem(icon, p.message)
            item.setData(ProblemItemRole, p)
            item.setToolTip(p.message)
            self.addItem(item)
        if not problems:
            item = QListWidgetItem(style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton),
                                   "No problems: this network can be built and trained.")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.addItem(item)

    def sizeHint(self) -> QSize:
        """Three lines' worth (not QListWidget's 192 px): the panel above it keeps the room; spare room grows it."""
        return QSize(super().sizeHint().width(), 3 * self.fontMetrics().lineSpacing() + 2 * self.frameWidth() + 12)

    def messages(self) -> list[str]:
        """The texts shown, for tests and accessibility."""
        return [self.item(i).text() for i in range(self.count())]

    def _activate(self, item: QListWidgetItem) -> None:
        problem = item.data(ProblemItemRole)
        if problem is not None:
            self.problemActivated.emit(problem)
