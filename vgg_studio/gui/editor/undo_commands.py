"""The one kind of undoable edit: replace the document's spec by another, with a note of what moved.

Specs are immutable, so an edit is just (before, after); the `Change` tells views which rows were
inserted, removed or moved so that they can keep selections instead of resetting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from PySide6.QtGui import QUndoCommand

from ...spec import ArchSpec

if TYPE_CHECKING:
    from .document import ArchDocument

ChangeKind = Literal["edit", "insert", "remove", "move", "reset"]


@dataclass(frozen=True)
class Change:
    """What an edit did to the block list. `row` is the block it touched (-1: none or all).

    For "move", `row` is where the block was and `dest` where it ends up.
    """

    kind: ChangeKind
    row: int = -1
    dest: int = -1

    def inverse(self) -> Change:
        if self.kind == "insert":
            return Change("remove", self.row)
        if self.kind == "remove":
            return Change("insert", self.row)
        if self.kind == "move":
            return Change("move", self.dest, self.row)
        return self

    @property
    def focus_row(self) -> int:
        """The row a user would expect selected after this change (-1: leave the selection alone)."""
        if self.kind == "move":
            return self.dest
        return self.row


class SpecCommand(QUndoCommand):
    """Set the spec to `after`; undo sets it back to `before`."""

    def __init__(self, document: ArchDocument, before: ArchSpec, after: ArchSpec, change: Change,
                 text: str) -> None:
        super().__init__(text)
        self._document = document
        self.before = before
        self.after = after
        self.change = change

    def redo(self) -> None:
        self._document._apply(self.after, self.change)

    def undo(self) -> None:
        self._document._apply(self.before, self.change.inverse())
