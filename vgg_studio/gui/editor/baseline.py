"""The pinned baseline: an architecture the document is measured against, and the deltas that follow.

The baseline belongs to the session (QSettings), not to the architecture file and not to the undo
history: pinning is a way of looking, not an edit. The comparison is always derived from the document's
last valid summary (`compare.compare`), so undo, redo and unpinning cannot leave stale deltas behind;
while the document is invalid the deltas are those of the last valid architecture and `stale` says so.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from ... import spec as spec_mod
from ...compare import Comparison, compare
from ...spec import ArchSpec, SpecError
from ...summary import Summary, summarize
from ..settings import read_str
from .document import ArchDocument

SPEC_KEY = "session/baselineSpec"  # the pinned architecture as JSON (the spec file format)
LABEL_KEY = "session/baselineLabel"  # what the headline calls it: "VGG-11", "my.json", "run 20261129-…"


class Baseline(QObject):
    """The pinned architecture, if any, and its comparison with the document's last valid summary.

    `changed` fires after every pin, unpin, and every new comparison (an edit, undo or redo, or the
    document turning invalid or valid again).
    """

    changed = Signal()

    def __init__(self, document: ArchDocument, settings: QSettings | None = None, persist: bool = True,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._settings = settings
        self._persist = persist and settings is not None
        self._spec: ArchSpec | None = None
        self._summary: Summary | None = None
        self.label = ""
        self.comparison: Comparison | None = None
        document.summaryChanged.connect(lambda _summary: self._recompute())
        document.validityChanged.connect(lambda _valid: self._recompute())
        if self._persist:
            self._restore()

    # --- reading ----------------------------------------------------------------------------------
    @property
    def spec(self) -> ArchSpec | None:
        return self._spec

    @property
    def summary(self) -> Summary | None:
        return self._summary

    def is_pinned(self) -> bool:
        return self._spec is not None

    @property
    def stale(self) -> bool:
        """True while the document cannot be built: the deltas are those of its last valid state."""
        return self.is_pinned() and not self.document.is_valid()

    def headline(self) -> str:
        if self.comparison is None:
            return ""
        return self.comparison.headline(self.label)

    # --- pinning -----------------------------------------------------------------------------------
    def pin(self, spec: ArchSpec, label: str | None = None) -> None:
        """Measure the document against `spec`; raises SpecError (nothing changes) if it cannot be built."""
        spec_mod.check(spec)
        self._summary = summarize(spec)
        self._spec = spec
        self.label = label or spec.name
        self._save()
        self._recompute()

    def pin_current(self) -> bool:
        """Pin the document as it is now (its last valid state if it is invalid: that is what is shown)."""
        summary = self.document.summary
        if summary is None:
            return False
        self.pin(summary.spec, summary.spec.name)
        return True

    def unpin(self) -> None:
        if self._spec is None:
            return
        self._spec, self._summary, self.label, self.comparison = None, None, "", None
        self._save()
        self.changed.emit()

    # --- internals ---------------------------------------------------------------------------------
    def _recompute(self) -> None:
        if self._summary is None:
            return
        current = self.document.summary
        self.comparison = compare(self._summary, current) if current is not None else None
        self.changed.emit()

    def _save(self) -> None:
        if not self._persist:
            return
        if self._spec is None:
            self._settings.remove(SPEC_KEY)
            self._settings.remove(LABEL_KEY)
        else:
            self._settings.setValue(SPEC_KEY, spec_mod.to_json(self._spec))
            self._settings.setValue(LABEL_KEY, self.label)

    def _restore(self) -> None:
        text = read_str(self._settings, SPEC_KEY)
        if not text:
            return
        try:
            self.pin(spec_mod.from_json(text, source="the saved baseline"), read_str(self._settings, LABEL_KEY))
        except SpecError:  # a hand-edited or older settings file: forget it rather than fail to start
            self._settings.remove(SPEC_KEY)
            self._settings.remove(LABEL_KEY)
