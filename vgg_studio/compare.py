"""Two summaries side by side: layers aligned by place, per-layer and per-block deltas, totals, a headline.

A layer's place is its name in the summary ("block3.conv2", "block3.pool", "fc1.relu", ...), which
encodes the block and the conv index, or the classifier layer index; together with the layer type it is
the alignment key. Rows are never matched by row number, so a conv added to block 1 does not shift the
comparison of every later layer, and any layer type the summary learns (BatchNorm2d, AdaptiveAvgPool2d)
aligns without a special case. No Qt here: the window and `vgg-studio compare` share this.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from .changes import ARROW, arch_changes
from .spec import PRESET_NAMES, ArchSpec, SpecError, load, preset
from .summary import BlockTotal, LayerRow, Summary
from .units import percent_change, signed, signed_si

ADDED, REMOVED, CHANGED, SAME = "added", "removed", "changed", "same"


@dataclass(frozen=True)
class LayerDelta:
    """One place in either network: `a` and/or `b` is None where the layer exists on one side only."""

    name: str
    block: int | None  # 0-based, None for Flatten and the classifier
    type: str
    a: LayerRow | None
    b: LayerRow | None

    @property
    def status(self) -> str:
        if self.a is None:
            return ADDED
        if self.b is None:
            return REMOVED
        same = (self.a.output_shape, self.a.params, self.a.flops) == (self.b.output_shape, self.b.params,
                                                                      self.b.flops)
        return SAME if same else CHANGED

    @property
    def delta_params(self) -> int:
        return (self.b.params if self.b else 0) - (self.a.params if self.a else 0)

    @property
    def delta_flops(self) -> int:
        return (self.b.flops if self.b else 0) - (self.a.flops if self.a else 0)

    @property
    def delta_activation_bytes(self) -> int:
        return (self.b.activation_bytes if self.b else 0) - (self.a.activation_bytes if self.a else 0)


@dataclass(frozen=True)
class BlockDelta:
    """Block totals by block number; `a` or `b` is None for a block that only one side has."""

    block: int  # 0-based
    a: BlockTotal | None
    b: BlockTotal | None

    def _get(self, side: BlockTotal | None, attr: str) -> int:
        return getattr(side, attr) if side is not None else 0

    @property
    def delta_params(self) -> int:
        return self._get(self.b, "params") - self._get(self.a, "params")

    @property
    def delta_flops(self) -> int:
        return self._get(self.b, "flops") - self._get(self.a, "flops")

    @property
    def delta_activation_bytes(self) -> int:
        return self._get(self.b, "activation_bytes") - self._get(self.a, "activation_bytes")


def _key(row: LayerRow) -> tuple[str, str]:
    return row.name, row.type


@dataclass(frozen=True)
class Comparison:
    """`b` measured against `a` (the baseline): every delta is b - a."""

    a: Summary
    b: Summary
    layers: tuple[LayerDelta, ...]
    blocks: tuple[BlockDelta, ...]

    @property
    def delta_params(self) -> int:
        return self.b.total_params - self.a.total_params

    @property
    def delta_flops(self) -> int:
        return self.b.total_flops - self.a.total_flops

    @property
    def delta_activation_bytes(self) -> int:
        return self.b.total_activation_bytes - self.a.total_activation_bytes

    def delta_of(self, name: str) -> LayerDelta | None:
        return next((d for d in self.layers if d.name == name), None)

    def by_b_row(self) -> dict[int, LayerDelta]:
        """Deltas keyed by the row index in `b`, for views that list `b`'s layers."""
        return {d.b.index: d for d in self.layers if d.b is not None}

    @property
    def removed(self) -> tuple[LayerDelta, ...]:
        return tuple(d for d in self.layers if d.status == REMOVED)

    @property
    def added(self) -> tuple[LayerDelta, ...]:
        return tuple(d for d in self.layers if d.status == ADDED)

    def delta_training_bytes(self, batch_size: int, **kwargs) -> int:
        return (self.b.training_memory(batch_size, **kwargs).total_bytes
                - self.a.training_memory(batch_size, **kwargs).total_bytes)

    def changes(self) -> list[str]:
        """The edit from `a` to `b` in words ('block 3: 2×256 → 3×256')."""
        return arch_changes(self.a.spec, self.b.spec)

    def numbers(self, percent: bool = True) -> str:
        """'+184,512 parameters (+0.14%), +7.40 GFLOP (+49%)' (without the percentages if not `percent`)."""
        p_pct = _pct(self.delta_params, self.a.total_params) if percent else ""
        f_pct = _pct(self.delta_flops, self.a.total_flops) if percent else ""
        return f"{signed(self.delta_params)} parameters{p_pct}, {signed_si(self.delta_flops, 'FLOP')}{f_pct}"

    def headline(self, baseline: str | None = None) -> str:
        """'vs VGG-11 (blocks 1, 2: 1 → 2 convs): +184,512 parameters (+0.14%), +7.40 GFLOP (+49%)'."""
        name = baseline or self.a.spec.name
        words = self.changes()
        if not words and self.delta_params == 0 and self.delta_flops == 0:
            return f"Same as the baseline {name}."
        if words == [f"{self.a.spec.name}{ARROW}{self.b.spec.name}"]:  # too different to list: name both
            return f"{self.b.spec.name} vs {name}: {self.numbers()}"
        what = f" ({', '.join(words)})" if words else ""
        return f"vs {name}{what}: {self.numbers()}"


def _pct(delta: int, base: int) -> str:
    text = percent_change(delta, base)
    return f" ({text})" if text and delta else ""


def compare(a: Summary, b: Summary) -> Comparison:
    """Align `b`'s layers with `a`'s by place (layer name and type), in forward order.

    Layers only `a` has come out as removed, only `b` has as added, each where it sits in its own network.
    """
    a_keys, b_keys = [_key(r) for r in a.layers], [_key(r) for r in b.layers]
    rows: list[LayerDelta] = []
    matcher = difflib.SequenceMatcher(None, a_keys, b_keys, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [LayerDelta(ra.name, ra.block, ra.type, ra, rb) for ra, rb in zip(a.layers[i1:i2], b.layers[j1:j2])]
            continue
        # Names are unique on each side, so a "replace" is layers removed from a and layers added in b; list
        # them in the order they run (by block, removed before added within the same place).
        gone = [LayerDelta(r.name, r.block, r.type, r, None) for r in a.layers[i1:i2]]
        new = [LayerDelta(r.name, r.block, r.type, None, r) for r in b.layers[j1:j2]]
        rows += gone + new
    blocks = tuple(
        BlockDelta(k, a.blocks[k] if k < len(a.blocks) else None, b.blocks[k] if k < len(b.blocks) else None)
        for k in range(max(len(a.blocks), len(b.blocks)))
    )
    return Comparison(a=a, b=b, layers=tuple(rows), blocks=blocks)


# ------------------------------------------------------------------------------------------------
# Naming one side: a preset, an architecture file or a run folder
# ------------------------------------------------------------------------------------------------

def load_reference(ref: str) -> ArchSpec:
    """The architecture `ref` names: a run folder's, an architecture file's, or a preset's.

    Raises SpecError with the reason (a run folder's problem, as `runs` words it, included).
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        from .runs import RunError, load_setup

        try:
            return load_setup(path)[0]
        except RunError as exc:
            raise SpecError(str(exc)) from None
    if path.exists():
        return load(path)
    if ref.lower() in PRESET_NAMES:
        return preset(ref)
    if path.suffix.lower() == ".json":
        return load(path)  # says "No such architecture file"
    raise SpecError(f"{ref!r} is neither a preset ({', '.join(PRESET_NAMES)}) nor an existing architecture file "
                    f"or run folder.")
