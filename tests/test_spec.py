"""Spec: presets match the paper's table, validation finds every problem with its place, JSON is strict."""

import json

import pytest

from vgg_studio.spec import (
    PRESET_NAMES, ArchSpec, Block, SpecError, errors, from_json, load, max_blocks_for, preset, save, to_json,
    validate,
)

# Simonyan & Zisserman, Table 1: convolutions per block for configurations A, B, D, E.
PAPER = {"vgg11": [1, 1, 2, 2, 2], "vgg13": [2, 2, 2, 2, 2], "vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}


def test_seed_conv_arch_is_vgg11():
    assert preset("vgg11").conv_arch == ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


@pytest.mark.parametrize("name", PAPER)
def test_paper_configurations(name):
    spec = preset(name)
    assert [b.num_convs for b in spec.blocks] == PAPER[name]
    assert [b.out_channels for b in spec.blocks] == [64, 128, 256, 512, 512]
    assert spec.depth == int(name[3:])  # VGG-n has n weight layers


def test_d2l_small_divides_by_four():
    spec = preset("d2l-small")
    assert [spec.effective_channels(i) for i in range(5)] == [16, 32, 64, 128, 128]


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_preset_is_valid_without_warnings(name):
    assert validate(preset(name)) == []


def test_unknown_preset_names_the_choices():
    with pytest.raises(SpecError, match="vgg11"):
        preset("vgg12")


def test_six_blocks_at_32_names_the_block_and_the_limit():
    spec = preset("vgg11").replace(input_size=32, blocks=(*preset("vgg11").blocks, Block(1, 512)))
    errs = errors(spec)
    assert len(errs) == 1
    assert errs[0].block == 5 and errs[0].field == "blocks"
    assert "Block 6" in errs[0].message and "0x0" in errs[0].message and "at most 5 blocks" in errs[0].message


def test_max_blocks_for():
    assert [max_blocks_for(n) for n in (1, 2, 3, 28, 32, 224)] == [0, 1, 1, 4, 5, 7]


def test_odd_sizes_floor_with_a_warning():
    spec = preset("vgg11")  # 224 -> 112 -> 56 -> 28 -> 14 -> 7: no floor
    assert validate(spec.replace(input_size=96)) == []  # 96 -> 48 -> 24 -> 12 -> 6 -> 3
    problems = validate(spec.replace(input_size=100))  # 100 -> 50 -> 25 -> 12 (floors) -> 6 -> 3
    assert [p.severity for p in problems] == ["warning"]
    assert problems[0].block == 2 and "25x25 to 12x12" in problems[0].message


@pytest.mark.parametrize("value", [0, -3])
def test_non_positive_width_points_at_the_cell(value):
    spec = preset("vgg11").with_block(2, Block(2, value))
    errs = errors(spec)
    assert [(p.block, p.field) for p in errs] == [(2, "out_channels")]
    assert "Block 3" in errs[0].message and "between 1" in errs[0].message


def test_ratio_larger_than_a_block_says_the_largest_ratio():
    errs = errors(preset("vgg11").replace(ratio=100))
    assert [(p.block, p.field) for p in errs] == [(0, "out_channels")]  # only block 1 has < 100 channels
    assert "ratio of at most 64" in errs[0].message


def test_every_problem_is_reported_at_once():
    spec = ArchSpec(blocks=((0, 64), (1, 0)), input_size=0, hidden=(0,), dropout=1.5, num_classes=0)
    fields = sorted((p.field, p.block) for p in errors(spec))
    assert fields == sorted([("input_size", None), ("hidden", None), ("dropout", None), ("num_classes", None),
                             ("num_convs", 0), ("out_channels", 1)])


def test_empty_and_too_many_blocks():
    assert "at least one" in errors(ArchSpec(blocks=()))[0].message
    assert any("At most 16 blocks" in p.message for p in errors(ArchSpec(blocks=((1, 8),) * 17, input_size=4096)))


def test_json_round_trip(tmp_path):
    for name in PRESET_NAMES:
        path = tmp_path / f"{name}.json"
        save(preset(name), path)
        assert load(path) == preset(name)
    assert json.loads(to_json(preset("vgg11")))["version"] == 2


def test_json_accepts_d2l_pairs():
    spec = from_json('{"blocks": [[1, 64], [2, 128]], "input_size": 32}')
    assert spec.conv_arch == ((1, 64), (2, 128)) and spec.input_size == 32


@pytest.mark.parametrize("text, words", [
    ('{"blocks": [[1, 64], [1, 128', "truncated"),
    ("hello", "not valid JSON"),
    ('{"blocks": [[1, "64"]]}', "blocks[0][1] (out_channels) must be a whole number"),
    ('{"blocks": [[1, 64]], "input_size": 22.5}', "'input_size' must be a whole number"),
    ('{"blocks": [[1, 64]], "input_size": true}', "'input_size' must be a whole number"),
    ('{"blocks": [[1, 64]], "colour": "red"}', "Unknown key 'colour'"),
    ('{"blocks": {"a": 1}}', "'blocks' must be a list"),
    ('{"blocks": [{"num_convs": 1}]}', "missing 'out_channels'"),
    ('[1, 2]', "JSON object"),
    ('{"blocks": [], "version": 7}', "version 7"),
    ('{"input_size": 32}', "no 'blocks'"),
    ('{"version": 1, "blocks": [[1, 64]], "head": "gap"}', "Unknown key 'head' (set \"version\": 2"),
    ('{"version": 1, "blocks": [{"num_convs": 1, "out_channels": 8, "kernel_size": 5}]}',
     "unknown key 'kernel_size' (set \"version\": 2"),
    ('{"blocks": [[1, 64]], "head": "nin"}', "'head' must be one of fc, adaptive, gap"),
    ('{"blocks": [[1, 64]], "batch_norm": 1}', "'batch_norm' must be true or false"),
    ('{"blocks": [[1, 64, "5"]]}', "blocks[0][2] (kernel_size) must be a whole number"),
    ('{"blocks": [[1, 64, 3, 1]]}', "[num_convs, out_channels, kernel_size]"),
])
def test_bad_json_gives_one_clear_error(tmp_path, text, words):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load(path)
    assert words in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="No such architecture file"):
        load(tmp_path / "nope.json")


def test_save_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    save(preset("vgg11"), path)
    import vgg_studio.spec as spec_mod

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(spec_mod.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save(preset("vgg19"), path)
    assert load(path) == preset("vgg11")
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_spec_is_hashable_and_immutable():
    spec = preset("vgg11")
    assert hash(spec) == hash(preset("vgg11").replace())
    with pytest.raises(AttributeError):
        spec.ratio = 2  # type: ignore[misc]


def test_block_editing_helpers():
    spec = preset("vgg11")
    assert spec.inserting(0, Block(1, 8)).blocks[0] == Block(1, 8)
    assert spec.removing(0).blocks == spec.blocks[1:]
    assert spec.moving(0, 4).blocks[-1] == Block(1, 64)


# --- version 2: kernel size, BatchNorm, head --------------------------------------------------------

def test_version_2_fields_default_to_the_chapters_net():
    spec = preset("vgg11")
    assert spec.kernel_sizes == (3,) * 5 and spec.batch_norm is False and spec.head == "fc"
    assert Block(2, 64) == Block(2, 64, 3)


def test_version_2_round_trip_keeps_the_knobs(tmp_path):
    spec = preset("vgg11").replace(batch_norm=True, head="gap").with_block(2, Block(2, 256, 5))
    path = tmp_path / "knobs.json"
    save(spec, path)
    raw = json.loads(path.read_text())
    assert raw["version"] == 2 and raw["batch_norm"] is True and raw["head"] == "gap"
    assert [b["kernel_size"] for b in raw["blocks"]] == [3, 3, 5, 3, 3]
    assert load(path) == spec


def test_version_1_file_migrates_on_read_and_is_written_as_version_2_only_when_saved(tmp_path):
    v1 = {"format": "vgg-studio.architecture", "version": 1, "name": "mine",
          "blocks": [{"num_convs": 1, "out_channels": 32}, [2, 64]], "input_size": 28}
    path = tmp_path / "v1.json"
    text = json.dumps(v1)
    path.write_text(text)
    spec = load(path)
    assert spec.kernel_sizes == (3, 3) and not spec.batch_norm and spec.head == "fc"
    assert path.read_text() == text  # reading never rewrites the file
    save(spec.replace(batch_norm=True), path)
    assert json.loads(path.read_text())["version"] == 2


def test_d2l_triples_give_the_kernel():
    assert from_json('{"blocks": [[1, 64, 5], [2, 128]]}').kernel_sizes == (5, 3)


@pytest.mark.parametrize("k, words", [(4, "must be odd"), (13, "between 1 and 11"), (0, "between 1 and 11")])
def test_bad_kernel_points_at_the_cell(k, words):
    errs = errors(preset("tiny").with_block(1, Block(2, 64, k)))
    assert len(errs) == 1 and errs[0].field == "kernel_size" and errs[0].block == 1
    assert "Block 2" in errs[0].message and words in errs[0].message


def test_bad_head_and_batch_norm_are_errors():
    fields = {p.field for p in errors(preset("tiny").replace(head="nin", batch_norm="yes"))}
    assert fields == {"head", "batch_norm"}


def test_new_presets():
    assert preset("vgg11-bn").batch_norm and preset("vgg11-bn").conv_arch == preset("vgg11").conv_arch
    assert preset("vgg16-bn").batch_norm and preset("vgg16-bn").conv_arch == preset("vgg16").conv_arch
    five = preset("vgg11-5x5")
    # each pair of 3x3 convs of VGG-11 becomes one 5x5 conv; the single 3x3 convs stay
    assert [(b.num_convs, b.kernel_size) for b in five.blocks] == [(1, 3), (1, 3), (1, 5), (1, 5), (1, 5)]
    assert [b.out_channels for b in five.blocks] == [b.out_channels for b in preset("vgg11").blocks]


def test_gap_head_has_no_hidden_layers():
    spec = preset("vgg11").replace(head="gap")
    assert spec.classifier_widths == () and spec.depth == 8 + 1
    assert spec.hidden == (4096, 4096)  # kept, so switching back to fc restores them


# ---- issue 11: hostile architecture files are messages, not tracebacks or hangs --------------------------------

@pytest.mark.parametrize("text, words", [
    ("[" * 100_000 + "]" * 100_000, "nests lists or objects too deeply"),
    ('{"blocks": [[1, ' + "9" * 5000 + "]]}", "a number with thousands of digits"),
    ('{"blocks": [[1, ' + "9" * 3011 + "]]}", "is a 3,011-digit number"),
    ('{"name": "bad \\ud800 name", "blocks": [[1, 64]]}', "a lone surrogate, U+D800"),
    ('{"name": "' + "x" * 1_000 + '", "blocks": [[1, 64]]}', "'name' is 1,000 characters long"),
    ('{"blocks": [' + ", ".join(["[1, 64]"] * 5000) + "]}", "'blocks' has 5,000 entries"),
    ('{"name": "x",\n "blocks": [[1, 64]],\n "hidden": [4096, "oops]}',
     "Unterminated string starting at line 3, column 19"),
])
def test_hostile_files_give_one_clear_message(tmp_path, text, words):
    path = tmp_path / "arch.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with pytest.raises(SpecError) as caught:
        load(path)
    message = str(caught.value)
    assert words in message and len(message) < 400, message


def test_an_oversized_file_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * 2_000_001)
    with pytest.raises(SpecError, match="larger than 1 MB"):
        load(path)


def test_many_blocks_do_not_put_a_giant_number_in_a_suggestion():
    spec = preset("vgg11").replace(blocks=tuple(Block(1, 64) for _ in range(1000)))
    messages = [p.message for p in errors(spec)]
    assert any("At most 16 blocks" in m for m in messages)
    assert max(len(m) for m in messages) < 200
