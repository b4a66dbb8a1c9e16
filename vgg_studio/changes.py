"""What differs between two architectures or two runs' settings, in the fewest words (no torch, no Qt).

Runs are labelled by what changed from their parent ("block 3: 2×256 → 3×256", "ratio 4 → 8",
"lr 0.05 → 0.1, epochs 10 → 20"), the baseline headline names the edit the same way, and two runs'
settings are laid side by side row for row. One word list (`WORDS`) names every setting for all three.
Fields are walked with `dataclasses.fields`, so a setting added to the spec or the training config shows up
here without a special case (named by its field name until `WORDS` gives it a shorter one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .spec import ArchSpec, Block
from .train_config import TrainConfig

# How labels and the side-by-side table name a setting; a field missing here is named after itself.
WORDS: dict[str, str] = {
    # architecture
    "input_size": "input size", "in_channels": "input channels", "ratio": "ratio", "hidden": "hidden",
    "dropout": "dropout", "num_classes": "classes", "batch_norm": "BatchNorm", "head": "head",
    "kernel_size": "kernel",  # a block's
    # training, most telling first (labels list changes in this order)
    "dataset": "dataset", "lr": "lr", "epochs": "epochs", "batch_size": "batch size", "optimizer": "optimizer",
    "momentum": "momentum", "weight_decay": "weight decay", "schedule": "schedule",
    "device": "device", "seed": "seed", "amp": "bf16 autocast", "channels_last": "channels last",
    "cudnn_benchmark": "cudnn benchmark", "points_per_epoch": "points per epoch", "data_dir": "data folder",
}
ARROW = " → "
# Spec fields that are not settings (the name is what a label falls back to, blocks get their own phrases).
_NOT_SETTINGS = ("name", "blocks")
# More architecture phrases than this and a label names the two architectures instead.
MAX_ARCH_PHRASES = 3


def word(field: str) -> str:
    return WORDS.get(field, field.replace("_", " "))


def value_text(value: Any) -> str:
    """A setting's value as the labels and the table print it: on/off, 0.05, [4096, 4096]."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "default"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(value_text(v) for v in value) + "]" if value else "none"
    return str(value)


def _settings(obj: Any, skip: Sequence[str] = ()) -> list[tuple[str, Any]]:
    """(field, value) pairs in `WORDS` order, fields it does not know last."""
    order = {name: k for k, name in enumerate(WORDS)}
    names = sorted((f.name for f in dataclasses.fields(obj) if f.name not in skip),
                   key=lambda n: order.get(n, len(order)))
    return [(name, getattr(obj, name)) for name in names]


def _field_phrases(a: Any, b: Any, skip: Sequence[str] = ()) -> list[str]:
    return [f"{word(name)} {value_text(old)}{ARROW}{value_text(getattr(b, name))}"
            for name, old in _settings(a, skip) if old != getattr(b, name)]


# ------------------------------------------------------------------------------------------------
# Blocks
# ------------------------------------------------------------------------------------------------

_SHAPE_FIELDS = ("num_convs", "out_channels")


def block_text(block: Block) -> str:
    """'2×256', then any other block setting that is not at its default: '2×256, kernel 5'."""
    defaults = {f.name: f.default for f in dataclasses.fields(Block)}
    extra = [f"{word(n)} {value_text(v)}" for n, v in _settings(block, _SHAPE_FIELDS) if v != defaults[n]]
    return ", ".join([f"{block.num_convs}×{block.out_channels}", *extra])


def _align_blocks(a: Sequence[Block], b: Sequence[Block]) -> list[tuple[int | None, int | None]]:
    """Pairs (index in a, index in b) of the fewest-edit alignment; None marks an added or removed block.

    Levenshtein distance with a changed block costing one edit and an insertion or deletion one edit each,
    so "block 4: 2×512 → 3×512" is preferred to "+block 4, −block 5" and an inserted block does not turn
    every later block into a change. Costs are of suffixes and ties go to pairing blocks front to back,
    so of two equally short descriptions the one that keeps the first blocks in place wins.
    """
    n, m = len(a), len(b)
    cost = [[0] * (m + 1) for _ in range(n + 1)]  # cost[i][j]: edits turning a[i:] into b[j:]
    for i in range(n, -1, -1):
        for j in range(m, -1, -1):
            if i == n or j == m:
                cost[i][j] = (n - i) + (m - j)
            else:
                cost[i][j] = min(cost[i + 1][j + 1] + (a[i] != b[j]), cost[i + 1][j] + 1, cost[i][j + 1] + 1)
    pairs: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n or j < m:
        if i < n and j < m and cost[i][j] == cost[i + 1][j + 1] + (a[i] != b[j]):
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif i < n and cost[i][j] == cost[i + 1][j] + 1:
            pairs.append((i, None))
            i += 1
        else:
            pairs.append((None, j))
            j += 1
    return pairs


def _numbers(indices: Sequence[int]) -> str:
    """0-based indices as 1-based block numbers, runs of three or more as ranges: '1, 2', '1–5'."""
    out, run = [], [indices[0]]
    for k in [*indices[1:], None]:
        if k is not None and k == run[-1] + 1:
            run.append(k)
            continue
        out.append(f"{run[0] + 1}–{run[-1] + 1}" if len(run) >= 3 else ", ".join(str(r + 1) for r in run))
        if k is not None:
            run = [k]
    return ", ".join(out)


def _block_change(old: Block, new: Block, grouped: bool) -> str:
    diffs = {n: (v, getattr(new, n)) for n, v in _settings(old) if v != getattr(new, n)}
    parts = []
    if "num_convs" in diffs and "out_channels" not in diffs and grouped:
        parts.append(f"{old.num_convs}{ARROW}{new.num_convs} convs")
    elif "out_channels" in diffs and "num_convs" not in diffs and grouped:
        parts.append(f"{old.out_channels}{ARROW}{new.out_channels} channels")
    elif "num_convs" in diffs or "out_channels" in diffs:
        parts.append(f"{old.num_convs}×{old.out_channels}{ARROW}{new.num_convs}×{new.out_channels}")
    parts += [f"{word(n)} {value_text(v)}{ARROW}{value_text(w)}" for n, (v, w) in diffs.items()
              if n not in _SHAPE_FIELDS]
    return " and ".join(parts)


def block_phrases(a: Sequence[Block], b: Sequence[Block]) -> list[str]:
    """'block 3: 2×256 → 3×256', 'blocks 1, 2: 1 → 2 convs', '+block 6 (2×512)', '−block 5 (2×512)'.

    Blocks are numbered as in `b` (the newer side), removed ones as in `a`; blocks that changed the same
    way are named together.
    """
    groups: dict[tuple, list[int]] = {}
    pair_of: dict[int, tuple[Block, Block]] = {}
    added, removed = [], []
    for i, j in _align_blocks(a, b):
        if i is None:
            added.append(j)
        elif j is None:
            removed.append(i)
        elif a[i] != b[j]:
            key = tuple((n, v, getattr(b[j], n)) for n, v in _settings(a[i]) if v != getattr(b[j], n))
            # Blocks group by how they changed; a change of convs alone ignores the (unchanged) width.
            groups.setdefault(key, []).append(j)
            pair_of[j] = (a[i], b[j])
    phrases = []
    for members in groups.values():
        old, new = pair_of[members[0]]
        if len(members) == 1:
            phrases.append(f"block {members[0] + 1}: {_block_change(old, new, grouped=False)}")
        else:
            phrases.append(f"blocks {_numbers(members)}: {_block_change(old, new, grouped=True)}")
    phrases += [f"+block {j + 1} ({block_text(b[j])})" for j in added]
    phrases += [f"−block {i + 1} ({block_text(a[i])})" for i in removed]
    return phrases


# ------------------------------------------------------------------------------------------------
# Labels
# ------------------------------------------------------------------------------------------------

def arch_changes(a: ArchSpec, b: ArchSpec) -> list[str]:
    """What turns architecture `a` into `b`, one short phrase per change (the names are not compared)."""
    phrases = block_phrases(a.blocks, b.blocks) + _field_phrases(a, b, _NOT_SETTINGS)
    if len(phrases) > MAX_ARCH_PHRASES and a.name != b.name:
        return [f"{a.name}{ARROW}{b.name}"]
    return phrases


def config_changes(a: TrainConfig, b: TrainConfig) -> list[str]:
    """What turns training settings `a` into `b`: 'lr 0.05 → 0.1', 'epochs 10 → 20'."""
    return _field_phrases(a, b)


def change_label(a_spec: ArchSpec, b_spec: ArchSpec, a_config: TrainConfig | None = None,
                 b_config: TrainConfig | None = None) -> str:
    """Everything that differs from `a` to `b`, architecture first, in the fewest words."""
    phrases = arch_changes(a_spec, b_spec)
    if a_config is not None and b_config is not None:
        phrases += config_changes(a_config, b_config)
    return ", ".join(phrases) if phrases else "same settings"


# ------------------------------------------------------------------------------------------------
# Two runs' settings side by side
# ------------------------------------------------------------------------------------------------

ABSENT = "—"


@dataclass(frozen=True)
class SettingRow:
    setting: str
    a: str
    b: str

    @property
    def differs(self) -> bool:
        return self.a != self.b


def settings_rows(a_spec: ArchSpec, a_config: TrainConfig, b_spec: ArchSpec,
                  b_config: TrainConfig) -> list[SettingRow]:
    """Every setting of two runs, row for row (blocks by number), architecture first."""
    rows = [SettingRow("architecture", a_spec.name, b_spec.name)]
    for k in range(max(len(a_spec.blocks), len(b_spec.blocks))):
        rows.append(SettingRow(f"block {k + 1}",
                               block_text(a_spec.blocks[k]) if k < len(a_spec.blocks) else ABSENT,
                               block_text(b_spec.blocks[k]) if k < len(b_spec.blocks) else ABSENT))
    for old, new in ((a_spec, b_spec), (a_config, b_config)):
        skip = _NOT_SETTINGS if isinstance(old, ArchSpec) else ()
        rows += [SettingRow(word(name), value_text(value), value_text(getattr(new, name)))
                 for name, value in _settings(old, skip)]
    return rows
