"""The open architecture: spec, file, undo history, validity and last valid summary.

Everything that shows or edits the architecture observes this object; nothing else keeps a copy of the
spec. Every edit goes through `edit()` and so through the undo stack. An invalid spec is a normal state:
it is kept (so nothing the user typed is lost), its problems are published, and `summary` stays the
summary of the last valid spec.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from ... import spec as spec_mod
from ...spec import ArchSpec, Block, Problem, SpecError, validate
from ...summary import Summary, summarize
from .undo_commands import Change, SpecCommand

# How the form and the undo history name the network-wide fields.
FIELD_LABELS = {
    "name": "name",
    "input_size": "input size",
    "in_channels": "input channels",
    "ratio": "channel ratio",
    "hidden": "classifier widths",
    "dropout": "dropout",
    "num_classes": "classes",
    "batch_norm": "BatchNorm",
    "head": "classifier head",
}


class ArchDocument(QObject):
    """Single source of truth for the architecture being edited.

    Signals, in the order they fire after every change:
      edited(Change)           for views that track rows (the table model)
      specChanged(ArchSpec)    the new current spec
      problemsChanged(list)    every Problem of the new spec (errors and warnings)
      validityChanged(bool)    only when validity flips
      summaryChanged(Summary)  only when the last valid summary changes
    plus dirtyChanged(bool) and pathChanged(object) for the title.
    """

    edited = Signal(object)
    specChanged = Signal(object)
    problemsChanged = Signal(list)
    validityChanged = Signal(bool)
    summaryChanged = Signal(object)
    dirtyChanged = Signal(bool)
    pathChanged = Signal(object)

    def __init__(self, spec: ArchSpec | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        # Asked before a document with unsaved changes is replaced; the window installs a dialog.
        self.confirm_discard: Callable[[], bool] = lambda: True
        self._spec = spec if spec is not None else spec_mod.preset("vgg11")
        self._path: Path | None = None
        self._title: str | None = None
        self._problems: list[Problem] = []
        self._input_errors: dict[str, str] = {}  # field -> why its text is not a value (see set_input_error)
        self._summary: Summary | None = None
        self._valid = False
        self._refresh()

    # --- reading ---------------------------------------------------------------------------------
    @property
    def spec(self) -> ArchSpec:
        return self._spec

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def display_name(self) -> str:
        """File name when saved; otherwise the name it was opened under, or the spec's own name."""
        if self._path is not None:
            return self._path.name
        return self._title or self._spec.name or "untitled"

    @property
    def problems(self) -> list[Problem]:
        """The spec's problems, then text typed into a field that is not a value (`set_input_error`)."""
        return list(self._problems) + [Problem("error", f, m) for f, m in self._input_errors.items()]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    def is_valid(self) -> bool:
        """True when the spec can be built and trained (warnings allowed)."""
        return self._valid

    def is_dirty(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def summary(self) -> Summary | None:
        """Summary of the last valid spec (of the current one when `is_valid()`)."""
        return self._summary

    # --- editing (each call is one undo step) ----------------------------------------------------
    def edit(self, new: ArchSpec, text: str, change: Change = Change("edit")) -> bool:
        """Push an undoable change to `new`; a no-op edit pushes nothing and returns False."""
        if new == self._spec:
            return False
        self.undo_stack.push(SpecCommand(self, self._spec, new, change, text))
        return True

    def set_block(self, row: int, block: Block) -> bool:
        old = self._spec.blocks[row]
        changed = [word for word, a, b in (("convolutions", old.num_convs, block.num_convs),
                                           ("output channels", old.out_channels, block.out_channels),
                                           ("kernel size", old.kernel_size, block.kernel_size)) if a != b]
        what = " and ".join(changed) or "convolutions"
        return self.edit(self._spec.with_block(row, block), f"Set block {row + 1} {what}", Change("edit", row))

    def insert_block(self, row: int, block: Block) -> bool:
        row = max(0, min(row, len(self._spec.blocks)))
        return self.edit(self._spec.inserting(row, block),
                         f"Insert block {row + 1} ({block.num_convs} × {block.out_channels})",
                         Change("insert", row))

    def remove_block(self, row: int) -> bool:
        return self.edit(self._spec.removing(row), f"Delete block {row + 1}", Change("remove", row))

    def move_block(self, row: int, dest: int) -> bool:
        if not (0 <= dest < len(self._spec.blocks)) or row == dest:
            return False
        return self.edit(self._spec.moving(row, dest), f"Move block {row + 1} to {dest + 1}",
                         Change("move", row, dest))

    def set_field(self, field: str, value: Any) -> bool:
        """Set a network-wide field (input_size, in_channels, ratio, hidden, dropout, num_classes, name)."""
        if field not in FIELD_LABELS:
            raise KeyError(field)
        if field == "hidden":
            value = tuple(value)
            shown = ", ".join(str(w) for w in value) or "none"
        elif isinstance(value, bool):
            shown = "on" if value else "off"
        else:
            shown = value
        return self.edit(self._spec.replace(**{field: value}), f"Set {FIELD_LABELS[field]} to {shown}")

    def replace_spec(self, new: ArchSpec, text: str) -> bool:
        """Swap the whole architecture as one undoable step (keeps the file)."""
        return self.edit(new, text, Change("reset"))

    def set_input_error(self, field: str, message: str | None) -> None:
        """Text in `field` that is not even a value ("4096, lots"): an error in the problems, and training waits,
        until the field holds a value again (`None`) or the spec changes (the field then shows the spec's value).
        The spec itself is unchanged, so there is nothing to undo."""
        if self._input_errors.get(field) == message:
            return
        if message is None:
            del self._input_errors[field]
        else:
            self._input_errors[field] = message
        was_valid = self._valid
        self._valid = not any(p.is_error for p in self.problems)
        self.problemsChanged.emit(self.problems)
        if self._valid != was_valid:
            self.validityChanged.emit(self._valid)

    # --- whole documents -------------------------------------------------------------------------
    def reset(self, spec: ArchSpec, path: str | os.PathLike[str] | None = None, title: str | None = None) -> None:
        """Start a fresh document (clean, empty history); no questions asked."""
        self.undo_stack.clear()
        self._path = Path(path).resolve() if path is not None else None
        self._title = title
        # "Last valid" is per document: an invalid file never shows the previous document's numbers.
        self._apply(spec, Change("reset"), forget_summary=True)
        self.undo_stack.setClean()
        self.pathChanged.emit(self._path)
        self.dirtyChanged.emit(False)

    def load_spec(self, spec: ArchSpec, name_or_path: str | os.PathLike[str]) -> bool:
        """Open `spec` (e.g. a past run's architecture) as a new untitled document.

        Asks `confirm_discard` first when there are unsaved changes; returns False if the user
        declines. The document is untitled (Save asks for a file) so a run's own arch.json is never
        overwritten; `name_or_path` only names it.
        """
        if self.is_dirty() and not self.confirm_discard():
            return False
        raw = os.fspath(name_or_path)
        title = Path(raw).name if (os.sep in raw or raw.endswith(".json")) else raw
        self.reset(spec, None, title)
        return True

    def open(self, path: str | os.PathLike[str]) -> None:
        """Load a file as the new document; raises SpecError (document unchanged) if it is unreadable."""
        spec = spec_mod.load(path)
        self.reset(spec, path)

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the spec (atomically) to `path` or the current file; raises OSError or SpecError."""
        target = Path(path) if path is not None else self._path
        if target is None:
            raise SpecError("This architecture has no file yet; choose one with Save As.")
        if not self.is_dirty() and target.resolve() == self._path and target.is_file():
            return self._path  # nothing edited: the file stays as it is (a version-1 file is not rewritten)
        spec_mod.save(self._spec, target)
        self._path = target.resolve()
        self._title = None
        self.undo_stack.setClean()
        self.pathChanged.emit(self._path)
        return self._path

    # --- internals ---------------------------------------------------------------------------------
    def _on_clean_changed(self, clean: bool) -> None:
        self.dirtyChanged.emit(not clean)

    def _apply(self, spec: ArchSpec, change: Change, forget_summary: bool = False) -> None:
        """Make `spec` current and notify; called by undo commands and reset only."""
        self._spec = spec
        was_valid = self._valid
        old_summary = self._summary
        if forget_summary:
            self._summary = None
        self._input_errors.clear()  # every field now shows the new spec's value
        self._refresh()
        self.edited.emit(change)
        self.specChanged.emit(spec)
        self.problemsChanged.emit(self.problems)
        if self._valid != was_valid:
            self.validityChanged.emit(self._valid)
        if self._summary is not old_summary:
            self.summaryChanged.emit(self._summary)

    def _refresh(self) -> None:
        problems = validate(self._spec)
        if not any(p.is_error for p in problems):
            try:
                self._summary = summarize(self._spec)
            except (SpecError, RuntimeError, ValueError, OverflowError, MemoryError) as exc:
                # The core validated it but torch could not trace it: report it like any other error.
                problems.append(Problem("error", "blocks", f"The network cannot be built: {exc}"))
        self._problems = problems
        self._valid = not any(p.is_error for p in self.problems)
