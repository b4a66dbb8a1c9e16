"""Two summaries aligned by place: deltas against independent formulas, added/removed layers, the headline."""

import dataclasses

import pytest

from vgg_studio.compare import ADDED, SAME, compare, load_reference
from vgg_studio.runs import RunFolder
from vgg_studio.spec import Block, SpecError, preset, save
from vgg_studio.summary import LayerRow, summarize
from vgg_studio.train_config import TrainConfig


def conv_params(c_in, c_out, k=3):
    return k * k * c_in * c_out + c_out


def conv_flops(c_in, c_out, size, k=3):
    return 2 * k * k * c_in * c_out * size * size  # FlopCounterMode: 2 per multiply-accumulate


def test_vgg11_to_vgg13_adds_one_conv_to_blocks_1_and_2():
    c = compare(summarize(preset("vgg11")), summarize(preset("vgg13")))
    assert [d.name for d in c.added] == ["block1.conv2", "block1.relu2", "block2.conv2", "block2.relu2"]
    assert not c.removed
    assert c.delta_of("block1.conv2").delta_params == conv_params(64, 64)
    assert c.delta_of("block2.conv2").delta_flops == conv_flops(128, 128, 112)
    assert c.delta_params == conv_params(64, 64) + conv_params(128, 128) == 184_512
    assert c.delta_flops == conv_flops(64, 64, 224) + conv_flops(128, 128, 112) == 7_398_752_256
    assert all(d.status == SAME for d in c.layers if d.name not in {x.name for x in c.added})
    # Every row of both networks appears exactly once, in each network's own order.
    assert [d.a.name for d in c.layers if d.a] == [r.name for r in c.a.layers]
    assert [d.b.name for d in c.layers if d.b] == [r.name for r in c.b.layers]
    assert [b.delta_params for b in c.blocks] == [conv_params(64, 64), conv_params(128, 128), 0, 0, 0]


def test_a_third_conv_in_block_3_is_matched_by_place_not_row_number():
    base = preset("vgg11")
    c = compare(summarize(base), summarize(base.with_block(2, Block(3, 256))))
    new = c.delta_of("block3.conv3")
    assert new.status == ADDED and new.delta_params == conv_params(256, 256) == 590_080
    assert c.delta_params == 590_080
    # block 4 keeps its numbers although its rows moved two places down
    assert all(d.status == SAME for d in c.layers if d.block is not None and d.block != 2)
    assert c.headline() == ("vs VGG-11 (block 3: 2×256 → 3×256): +590,080 parameters (+0.46%), "
                            "+3.70 GFLOP (+25%)")


def test_removed_block_and_changed_head():
    base = preset("vgg11")
    c = compare(summarize(base), summarize(base.removing(4)))
    assert {d.name for d in c.removed} == {"block5.conv1", "block5.relu1", "block5.conv2", "block5.relu2",
                                           "block5.pool"}
    assert c.blocks[4].b is None and c.blocks[4].delta_params == -c.a.blocks[4].params
    fc1 = c.delta_of("fc1")  # four pools leave a 14x14 map: fc1 sees four times the inputs
    assert fc1.status == "changed" and fc1.delta_params == 512 * (14 * 14 - 7 * 7) * 4096
    assert c.delta_params == c.b.total_params - c.a.total_params
    assert sum(d.delta_params for d in c.layers) == c.delta_params
    assert sum(d.delta_flops for d in c.layers) == c.delta_flops


def test_identical_and_headline_numbers():
    s = summarize(preset("vgg11"))
    same = compare(s, s)
    assert all(d.status == SAME for d in same.layers) and same.delta_params == 0
    assert same.headline() == "Same as the baseline VGG-11."
    vgg13 = compare(s, summarize(preset("vgg13")))
    assert vgg13.headline() == ("vs VGG-11 (blocks 1, 2: 1 → 2 convs): +184,512 parameters (+0.14%), "
                                "+7.40 GFLOP (+49%)")
    assert compare(s, summarize(preset("tiny"))).headline().startswith("tiny vs VGG-11: -127,944,768 parameters")


def test_new_layer_types_align_without_special_cases():
    """A BatchNorm2d after each conv (a later spec knob) shows as added rows; the rest still match."""
    base = summarize(preset("tiny"))
    rows, index = [], 0
    for r in base.layers:
        rows.append(dataclasses.replace(r, index=index))
        index += 1
        if r.type == "Conv2d":
            n = r.name.rsplit("conv", 1)[1]
            rows.append(LayerRow(index, f"block{r.block + 1}.bn{n}", r.block, "BatchNorm2d", r.output_shape,
                                 2 * r.output_shape[1], 0, r.activation_bytes, 0.0, 0.0))
            index += 1
    with_bn = dataclasses.replace(base, layers=tuple(rows))
    c = compare(base, with_bn)
    assert [d.name for d in c.added] == ["block1.bn1", "block2.bn1", "block2.bn2"]
    assert c.delta_params == 2 * (32 + 64 + 64)
    assert c.by_b_row()[1].name == "block1.bn1"


def test_training_memory_delta_is_the_difference_of_estimates():
    a, b = summarize(preset("vgg11")), summarize(preset("vgg13"))
    c = compare(a, b)
    assert c.delta_training_bytes(64) == b.training_memory(64).total_bytes - a.training_memory(64).total_bytes > 0


def test_references_name_a_preset_a_file_or_a_run(tmp_path):
    assert load_reference("VGG16") == preset("vgg16")
    save(preset("tiny").replace(ratio=2), tmp_path / "mine.json")
    assert load_reference(str(tmp_path / "mine.json")).ratio == 2
    run = RunFolder.create(preset("d2l-small"), TrainConfig(), path=tmp_path / "run")
    assert load_reference(str(run.path)) == preset("d2l-small")
    with pytest.raises(SpecError, match="No such architecture file"):
        load_reference(str(tmp_path / "absent.json"))
    with pytest.raises(SpecError, match="neither a preset"):
        load_reference("vgg99")
    with pytest.raises(SpecError, match="not a vgg-studio run"):
        load_reference(str(tmp_path))
