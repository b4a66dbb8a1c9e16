"""Version-1 files written by `save-preset` before version 2 existed still load and summarise the same.

The fixtures in tests/fixtures/spec_v1/ were written by main at 60161f7 (see its README): each preset's
file and its `summary --format json|csv|table` output. Version 2 only adds keys and columns, so every old
key and column must be unchanged, and the spec must be the preset with the new knobs at their defaults.
"""

import csv
import io
import json
from pathlib import Path

import pytest

from vgg_studio.cli.summary import render_csv, render_json, render_table
from vgg_studio.spec import load, preset, save
from vgg_studio.summary import summarize

FIXTURES = Path(__file__).parent / "fixtures" / "spec_v1"
V1_PRESETS = ("vgg11", "vgg13", "vgg16", "vgg19", "d2l-small", "tiny")
NEW_KEYS = {"receptive_field", "effective_stride", "kernel_size", "batch_norm", "head"}


def _without_new_keys(value):
    if isinstance(value, dict):
        return {k: _without_new_keys(v) for k, v in value.items() if k not in NEW_KEYS}
    if isinstance(value, list):
        return [_without_new_keys(v) for v in value]
    return value


@pytest.mark.parametrize("name", V1_PRESETS)
def test_version_1_file_loads_as_the_preset_and_summarises_the_same(name):
    path = FIXTURES / f"{name}.json"
    assert json.loads(path.read_text())["version"] == 1
    spec = load(path)
    assert spec == preset(name)
    assert spec.kernel_sizes == (3,) * len(spec.blocks) and not spec.batch_norm and spec.head == "fc"
    result = summarize(spec)

    old_doc = json.loads((FIXTURES / f"{name}.summary.json").read_text())
    assert _without_new_keys(json.loads(render_json(result))) == old_doc

    old_rows = list(csv.DictReader(io.StringIO((FIXTURES / f"{name}.summary.csv").read_text())))
    new_rows = [{k: v for k, v in row.items() if k not in NEW_KEYS}
                for row in csv.DictReader(io.StringIO(render_csv(result)))]
    assert new_rows == old_rows

    # The table gains the RF and Stride columns on the right and a receptive-field sentence; all else is the same.
    old_table = (FIXTURES / f"{name}.summary.txt").read_text().splitlines()
    new_table = render_table(result).splitlines()
    end = max(i for i, line in enumerate(old_table) if line.startswith("---"))  # the rule under the layers
    assert all(new.startswith(old) for old, new in zip(old_table[:end + 1], new_table[:end + 1]))
    assert [line for line in new_table[end + 1:] if not line.startswith("The last conv")] == old_table[end + 1:]


def test_an_edited_version_1_file_is_saved_as_version_2(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text((FIXTURES / "tiny.json").read_text())
    spec = load(path)
    save(spec.replace(batch_norm=True), path)
    assert json.loads(path.read_text())["version"] == 2 and load(path) == spec.replace(batch_norm=True)
