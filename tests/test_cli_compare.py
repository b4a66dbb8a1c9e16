"""`vgg-studio compare A B` as a newcomer uses it."""

import csv
import io
import json

import pytest

from vgg_studio.cli import main
from vgg_studio.spec import preset, save
from vgg_studio.summary import summarize


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_vgg11_vgg13(capsys):
    code, out, err = run(capsys, "compare", "vgg11", "vgg13", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and err == ""
    assert doc["delta_total_params"] == 184_512 and doc["delta_total_flops"] == 7_398_752_256
    a = summarize(preset("vgg11"))
    assert doc["a"] == {"name": "VGG-11", "total_params": a.total_params, "total_flops": a.total_flops,
                        "total_activation_bytes": a.total_activation_bytes}
    assert doc["b"]["total_flops"] - doc["a"]["total_flops"] == doc["delta_total_flops"]
    added = [layer for layer in doc["layers"] if layer["a"] is None]
    assert [layer["name"] for layer in added] == ["block1.conv2", "block1.relu2", "block2.conv2", "block2.relu2"]
    assert added[0] == {"name": "block1.conv2", "block": 1, "type": "Conv2d", "a": None,
                        "b": {"output_shape": [1, 64, 224, 224], "params": 36_928, "flops": 3_699_376_128},
                        "delta_params": 36_928, "delta_flops": 3_699_376_128}
    others = [layer for layer in doc["layers"] if layer["type"] == "Conv2d" and layer["a"] is not None]
    assert len(others) == 8 and all(layer["delta_params"] == layer["delta_flops"] == 0 for layer in others)
    assert sum(layer["delta_params"] for layer in doc["layers"]) == doc["delta_total_params"]


def test_table_has_headline_marks_and_block_subtotals(capsys):
    code, out, _ = run(capsys, "compare", "vgg11", "d2l-small")
    assert code == 0
    assert "vs VGG-11 (ratio 1 → 4): -85,712,832 parameters (-67%)" in out
    lines = out.splitlines()
    assert any(line.startswith("~  block1.conv1") and "(1, 16, 224, 224)" in line for line in lines)
    assert any("block 5 total" in line for line in lines)
    assert "Total parameters: 128,806,154 -> 43,093,322 (-85,712,832, -67%)" in out


def test_file_with_override_applies_to_both_sides(capsys, tmp_path):
    path = tmp_path / "my.json"
    save(preset("vgg11").with_block(2, preset("vgg16").blocks[2]), path)
    code, out, _ = run(capsys, "compare", "vgg11", str(path), "--ratio", "2", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    added = [r for r in rows if r["status"] == "added"]
    assert [r["name"] for r in added] == ["block3.conv3", "block3.relu3"]
    assert int(added[0]["delta_params"]) == 9 * 128 * 128 + 128  # 256 // 2 channels both sides
    assert rows[0]["a_output_shape"] == "1x32x224x224"


@pytest.mark.parametrize("argv, message", [
    (("vgg11", "nope.json"), "B (nope.json): No such architecture file"),
    (("vgg99", "vgg11"), "A (vgg99): 'vgg99' is neither a preset"),
    (("vgg11", "vgg13", "--input-size", "16"), "A (vgg11): the architecture is not valid"),
])
def test_bad_input_names_the_side(capsys, argv, message):
    code, out, err = run(capsys, "compare", *argv)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_invalid_architecture_file(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"blocks": [[1, 64]], "ratio": 128}')
    code, _, err = run(capsys, "compare", "vgg11", str(path))
    assert code == 2 and err.startswith(f"vgg-studio: error: B ({path}): the architecture is not valid")
    assert "divided by ratio 128" in err
