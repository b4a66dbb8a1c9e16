"""Run labels and side-by-side settings: the fewest words that say what differs."""

from vgg_studio.changes import arch_changes, block_phrases, change_label, config_changes, settings_rows
from vgg_studio.spec import Block, preset
from vgg_studio.train_config import TrainConfig

VGG11 = preset("vgg11")


def test_one_block_changed():
    assert arch_changes(VGG11, VGG11.with_block(2, Block(3, 256))) == ["block 3: 2×256 → 3×256"]
    assert arch_changes(VGG11, VGG11.with_block(2, Block(2, 384))) == ["block 3: 2×256 → 2×384"]


def test_blocks_changed_alike_are_named_together():
    assert arch_changes(VGG11, preset("vgg13")) == ["blocks 1, 2: 1 → 2 convs"]
    assert arch_changes(preset("vgg13"), preset("vgg19")) == ["blocks 3–5: 2 → 4 convs"]
    wider = VGG11.with_block(3, Block(2, 1024)).with_block(4, Block(2, 1024))
    assert arch_changes(VGG11, wider) == ["blocks 4, 5: 512 → 1024 channels"]


def test_changed_block_is_preferred_to_an_insertion_and_a_deletion():
    # Two equal neighbours: a naive diff would call this "+block 4, -block 5".
    assert block_phrases(VGG11.blocks, VGG11.with_block(3, Block(3, 512)).blocks) == ["block 4: 2×512 → 3×512"]


def test_equally_short_descriptions_keep_the_first_blocks_in_place():
    edited = VGG11.with_block(2, Block(3, 256)).removing(4)
    assert arch_changes(VGG11, edited) == ["block 3: 2×256 → 3×256", "−block 5 (2×512)"]


def test_added_and_removed_blocks_do_not_shift_the_others():
    inserted = VGG11.inserting(2, Block(1, 192))
    assert arch_changes(VGG11, inserted) == ["+block 3 (1×192)"]
    assert arch_changes(inserted, VGG11) == ["−block 3 (1×192)"]


def test_network_settings_and_training_settings():
    assert change_label(preset("d2l-small"), preset("d2l-small").replace(ratio=8)) == "ratio 4 → 8"
    assert change_label(VGG11, preset("d2l-small")) == "ratio 1 → 4"  # names are not settings
    a, b = TrainConfig(), TrainConfig(lr=0.1, epochs=20)
    assert config_changes(a, b) == ["lr 0.05 → 0.1", "epochs 10 → 20"]
    assert change_label(VGG11, VGG11, a, b) == "lr 0.05 → 0.1, epochs 10 → 20"
    assert change_label(VGG11, VGG11.replace(hidden=(1024,), dropout=0.3), a, a.replace(amp=False)) == \
        "hidden [4096, 4096] → [1024], dropout 0.5 → 0.3, bf16 autocast on → off"
    assert change_label(VGG11, VGG11, a, a) == "same settings"


def test_very_different_architectures_are_named_instead():
    assert arch_changes(VGG11, preset("tiny")) == ["VGG-11 → tiny"]


def test_side_by_side_rows_line_up_and_mark_differences():
    a_spec, b_spec = preset("tiny"), preset("tiny").replace(ratio=2)
    rows = settings_rows(a_spec, TrainConfig(epochs=1), b_spec, TrainConfig(epochs=1, lr=0.1))
    differing = {r.setting: (r.a, r.b) for r in rows if r.differs}
    assert differing == {"ratio": ("1", "2"), "lr": ("0.05", "0.1")}
    settings = [r.setting for r in rows]
    assert settings[:3] == ["architecture", "block 1", "block 2"] and "epochs" in settings
    longer = settings_rows(a_spec, TrainConfig(), a_spec.inserting(2, Block(1, 64)), TrainConfig())
    assert [(r.a, r.b) for r in longer if r.setting == "block 3"] == [("—", "1×64")]


def test_the_version_2_knobs_in_labels():
    vgg11 = preset("vgg11")
    assert arch_changes(vgg11, vgg11.replace(batch_norm=True, head="gap")) == ["BatchNorm off → on", "head fc → gap"]
    assert arch_changes(vgg11, vgg11.with_block(2, Block(2, 256, 5))) == ["block 3: kernel 3 → 5"]
    assert arch_changes(vgg11, preset("vgg11-5x5")) == ["blocks 3–5: 2 → 1 convs and kernel 3 → 5"]
    assert arch_changes(vgg11, vgg11.inserting(5, Block(1, 512, 5))) == ["+block 6 (1×512, kernel 5)"]


def test_settings_the_spec_does_not_have_yet_are_named_without_special_cases():
    """Kernel size per block, BatchNorm and the head (spec version 2) come out of the same field walk."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class KernelBlock:
        num_convs: int
        out_channels: int
        kernel_size: int = 3

    @dataclass(frozen=True)
    class SpecV2:
        blocks: tuple
        name: str = "v2"
        batch_norm: bool = False
        head: str = "fc"

    three = (KernelBlock(2, 128), KernelBlock(2, 256))
    five = (KernelBlock(2, 128, 5), KernelBlock(2, 256))
    assert block_phrases(three, five) == ["block 1: kernel 3 → 5"]
    assert block_phrases(three, tuple(KernelBlock(b.num_convs, b.out_channels, 5) for b in three)) == \
        ["blocks 1, 2: kernel 3 → 5"]
    assert arch_changes(SpecV2(three), SpecV2(three, batch_norm=True)) == ["BatchNorm off → on"]
    assert arch_changes(SpecV2(three), SpecV2(five, head="gap")) == ["block 1: kernel 3 → 5", "head fc → gap"]
