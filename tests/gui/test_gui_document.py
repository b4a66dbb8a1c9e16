"""The document: every edit is undoable, invalid specs are kept but flagged, the summary stays last-valid."""

from __future__ import annotations

import pytest
import shiboken6

from vgg_studio.gui.editor.document import ArchDocument
from vgg_studio.gui.editor.undo_commands import Change
from vgg_studio.spec import Block, SpecError, load, preset
from vgg_studio.summary import summarize


@pytest.fixture
def doc(qtbot):
    return ArchDocument(preset("vgg11"))


def test_starts_valid_clean_with_summary(doc):
    assert doc.is_valid() and not doc.is_dirty()
    assert doc.summary.total_params == 128_806_154


def test_edits_are_undoable_steps(doc):
    doc.set_block(0, Block(2, 64))
    doc.insert_block(5, Block(1, 512))
    doc.move_block(0, 2)
    doc.remove_block(1)
    doc.set_field("hidden", [1024])
    assert doc.undo_stack.count() == 5 and doc.is_dirty()
    for _ in range(5):
        doc.undo_stack.undo()
    assert doc.spec == preset("vgg11") and not doc.is_dirty()
    for _ in range(5):
        doc.undo_stack.redo()
    assert doc.spec.hidden == (1024,) and len(doc.spec.blocks) == 5


def test_noop_edit_pushes_nothing(doc):
    assert not doc.set_block(0, Block(1, 64))
    assert not doc.move_block(0, -1)
    assert doc.undo_stack.count() == 0


def test_invalid_spec_is_kept_flagged_and_summary_stays_last_valid(doc, qtbot):
    with qtbot.waitSignal(doc.validityChanged) as blocker:
        doc.set_field("input_size", 8)
    assert blocker.args == [False]
    assert not doc.is_valid()
    assert doc.spec.input_size == 8  # what the user typed is not lost
    (err,) = doc.errors
    assert err.block == 3 and "0x0" in err.message
    assert doc.summary is summarize(preset("vgg11"))
    with qtbot.waitSignal(doc.validityChanged) as blocker:
        doc.undo_stack.undo()
    assert blocker.args == [True] and doc.is_valid()


def test_change_inverses():
    assert Change("insert", 2).inverse() == Change("remove", 2)
    assert Change("remove", 2).inverse() == Change("insert", 2)
    assert Change("move", 1, 3).inverse() == Change("move", 3, 1)


def test_save_open_roundtrip_and_clean_state(doc, tmp_path):
    doc.set_field("ratio", 4)
    path = doc.save(tmp_path / "arch.json")
    assert not doc.is_dirty() and doc.path == path and doc.display_name == "arch.json"
    assert load(path) == doc.spec
    other = ArchDocument()
    other.open(path)
    assert other.spec.ratio == 4 and other.undo_stack.count() == 0


def test_open_bad_file_leaves_document_alone(doc, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"blocks": [[1, 64]', encoding="utf-8")
    with pytest.raises(SpecError, match="not valid JSON"):
        doc.open(bad)
    assert doc.spec == preset("vgg11") and doc.path is None


def test_save_without_path_is_a_clear_error(doc):
    with pytest.raises(SpecError, match="Save As"):
        doc.save()


def test_load_spec_asks_before_discarding(doc):
    asked = []
    doc.confirm_discard = lambda: asked.append(1) or False
    doc.set_field("num_classes", 100)
    assert not doc.load_spec(preset("tiny"), "/runs/2024-01-01/arch.json")
    assert doc.spec.num_classes == 100 and asked
    doc.confirm_discard = lambda: True
    assert doc.load_spec(preset("tiny"), "/runs/2024-01-01/arch.json")
    assert doc.spec == preset("tiny") and doc.path is None and doc.display_name == "arch.json"
    assert not doc.is_dirty()


def test_an_invalid_new_document_has_no_summary_from_the_previous_one(doc, qtbot):
    with qtbot.waitSignal(doc.summaryChanged) as blocker:
        doc.reset(preset("vgg11").replace(input_size=8))
    assert blocker.args == [None] and doc.summary is None and not doc.is_valid()
    doc.set_field("input_size", 224)
    assert doc.summary is summarize(preset("vgg11"))


def test_destroying_a_window_with_unsaved_edits_is_silent(qtbot, capfd):
    """The undo stack emits cleanChanged from its destructor, after the document's C++ side is gone."""
    from vgg_studio.gui import MainWindow
    from vgg_studio.spec import Block

    window = MainWindow(persist=False)
    window.document.set_block(0, Block(2, 64))
    assert window.document.is_dirty()
    window.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(window), timeout=2000)
    err = capfd.readouterr().err
    assert "Signal source has been deleted" not in err and "Traceback" not in err
