"""Per-layer shapes, parameters, FLOPs and memory of a spec, computed on torch's meta device.

Nothing here allocates real activations: the net is built on the meta device and each layer is run there
once per input shape (`LeafMeasures`), shapes from its output and FLOPs from torch's FlopCounterMode, so
VGG-19 at 224x224 summarises in milliseconds and an edit re-measures only the layers it changed.
FLOPs follow FlopCounterMode's convention (2 per multiply-accumulate; ReLU and pooling count 0).
Receptive fields are the textbook recurrence over the feature layers (r += (k - 1) * j, j *= stride), the
theoretical window of input pixels one output cell depends on, not clipped to the input.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .model import build_model, named_layers, vgg_block
from .spec import ArchSpec, Problem, validate
from .train_config import OPTIMIZER_STATE_COPIES

FLOAT32_BYTES = 4


@dataclass(frozen=True)
class LayerRow:
    """One leaf layer, as d2l's `print(layer.__class__.__name__, 'output shape:', X.shape)` loop sees it."""

    index: int
    name: str  # readable path: "block1.conv1", "block1.pool", "flatten", "fc1", "fc1.relu", ...
    block: int | None  # 0-based VGG block, None for Flatten and the classifier
    type: str  # module class name, as d2l prints it
    output_shape: tuple[int, ...]  # including the batch dimension 1
    params: int
    flops: int
    activation_bytes: int  # this layer's output at batch 1 in float32
    param_share: float  # of the whole net, 0..1
    flop_share: float
    # Side of the square input window one output cell sees, and the input pixels between neighbouring
    # cells; None for the head (after the features every output depends on the whole map).
    receptive_field: int | None = None
    effective_stride: int | None = None


@dataclass(frozen=True)
class BlockTotal:
    block: int  # 0-based
    num_convs: int
    channels: int  # effective channels, after the ratio
    output_shape: tuple[int, ...]
    params: int
    flops: int
    activation_bytes: int
    kernel_size: int = 3
    receptive_field: int | None = None  # of the block's pool, its output
    effective_stride: int | None = None


@dataclass(frozen=True)
class MemoryEstimate:
    """Rough training footprint: weights, gradients, optimizer state and the activations kept for backward."""

    batch_size: int
    params_bytes: int
    grads_bytes: int
    optimizer_bytes: int
    activations_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.params_bytes + self.grads_bytes + self.optimizer_bytes + self.activations_bytes


@dataclass(frozen=True)
class Summary:
    spec: ArchSpec
    layers: tuple[LayerRow, ...]
    blocks: tuple[BlockTotal, ...]
    problems: tuple[Problem, ...] = field(default=())  # warnings only: errors raise before we get here

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.layers)

    @property
    def total_flops(self) -> int:
        return sum(r.flops for r in self.layers)

    @property
    def total_activation_bytes(self) -> int:
        return sum(r.activation_bytes for r in self.layers)

    @property
    def head(self) -> tuple[LayerRow, ...]:
        """Flatten and the classifier."""
        return tuple(r for r in self.layers if r.block is None)

    def rows_of_block(self, block: int) -> tuple[LayerRow, ...]:
        return tuple(r for r in self.layers if r.block == block)

    @property
    def first_linear(self) -> LayerRow:
        return next(r for r in self.layers if r.type == "Linear")

    @property
    def last_conv(self) -> LayerRow:
        return [r for r in self.layers if r.type == "Conv2d"][-1]

    def receptive_field_note(self) -> str | None:
        """A sentence when the last conv sees less than the whole input (None when it sees all of it)."""
        conv, size = self.last_conv, self.spec.input_size
        if conv.receptive_field is None or conv.receptive_field >= size:
            return None
        pool = self.rows_of_block(conv.block)[-1]
        return (f"The last conv ({conv.name}) sees {conv.receptive_field}×{conv.receptive_field} of the "
                f"{size}×{size} input; after its pool each cell sees {pool.receptive_field}×{pool.receptive_field}.")

    def parameter_note(self) -> str:
        """Where the parameters sit: the chapter's first-Linear sentence, or, when the head has no hidden
        layers (gap), how little the classifier keeps and which block holds the most."""
        first = self.first_linear
        if self.spec.classifier_widths:
            return (f"First Linear ({first.name}) holds {first.params:,} parameters, {first.param_share:.1%} "
                    f"of the total")
        total = self.total_params or 1
        conv_share = sum(r.params for r in self.layers if r.block is not None) / total
        top = max(self.blocks, key=lambda b: b.params)
        return (f"The classifier ({first.name}, no hidden layers) holds {first.params:,} parameters, "
                f"{first.param_share:.1%}; the blocks hold {conv_share:.1%}, the most in block {top.block + 1} "
                f"({top.params:,}, {top.params / total:.1%})")

    def training_memory(self, batch_size: int, activation_dtype_bytes: int = FLOAT32_BYTES,
                        optimizer: str = "sgd") -> MemoryEstimate:
        """Estimate for one training step; activations scale with the batch, weights do not."""
        params_bytes = self.total_params * FLOAT32_BYTES
        input_bytes = _numel((1, self.spec.in_channels, self.spec.input_size, self.spec.input_size))
        activations = (self.total_activation_bytes // FLOAT32_BYTES + input_bytes) * activation_dtype_bytes
        return MemoryEstimate(
            batch_size=batch_size,
            params_bytes=params_bytes,
            grads_bytes=params_bytes,
            optimizer_bytes=params_bytes * OPTIMIZER_STATE_COPIES[optimizer],
            activations_bytes=activations * batch_size,
        )


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _as_int(value: int | tuple[int, ...]) -> int:
    return value if isinstance(value, int) else value[0]


def _receptive_fields(leaves: list[tuple[str, int | None, nn.Module]]) -> list[tuple[int, int] | tuple[None, None]]:
    """(receptive field, effective stride) after each leaf: convs and pools widen it, the rest keep it."""
    out: list[tuple[int, int] | tuple[None, None]] = []
    field_, jump = 1, 1
    for _, block, module in leaves:
        if block is None:
            out.append((None, None))
            continue
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d)):
            field_ += (_as_int(module.kernel_size) - 1) * jump
            jump *= _as_int(module.stride)
        out.append((field_, jump))
    return out


class LeafMeasures:
    """Output shape and FLOPs of one leaf layer at one input shape, measured once on the meta device.

    The key is the layer's class, torch's repr of it (every constructor argument that is not a default:
    channels, kernel, stride, padding, features, ...) and the input shape; together they fix both numbers.
    So a summary after an edit measures only the layers it has never seen at their input shape (a block's
    new conv of a new width, the layers after a changed output shape); the rest, including a conv added to
    a block next to identical ones, are lookups. Entries never go stale: the key is the whole question.
    Thread-safe (the training panel's estimates summarize off the GUI thread). `summarize` owns the one
    instance, `LEAF_MEASURES`.
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self._known: OrderedDict[tuple, tuple[tuple[int, ...], int]] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self.misses = 0  # layers measured (for tests and benchmarks)

    def measure(self, module: nn.Module, input_shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
        """(output shape, FLOPs) of `module` applied to a float32 tensor of `input_shape`."""
        key = (type(module), repr(module), input_shape)
        with self._lock:
            known = self._known.get(key)
            if known is not None:
                self._known.move_to_end(key)
                return known
        with FlopCounterMode(display=False) as counter:
            output = module(torch.empty(input_shape, device="meta"))
        known = (tuple(output.shape), int(counter.get_total_flops()))
        with self._lock:
            self.misses += 1
            self._known[key] = known
            if len(self._known) > self._maxsize:
                self._known.popitem(last=False)
        return known

    def clear(self) -> None:
        with self._lock:
            self._known.clear()

    @property
    def size(self) -> int:
        return len(self._known)


LEAF_MEASURES = LeafMeasures()

# A block built on the meta device holds no data and is never changed here, so one serves every summary
# with an equal block, and equal blocks within one net (parameter init is most of a build's time). Only
# `summarize` calls it, always under the meta device. Shared modules: nothing here may key on id(module).
_meta_block = functools.lru_cache(maxsize=256)(vgg_block)


def clear_caches() -> None:
    """Forget every summary, leaf measurement and built block (benchmarks of a cold start; cache tests)."""
    summarize.cache_clear()
    LEAF_MEASURES.clear()
    _meta_block.cache_clear()


@functools.lru_cache(maxsize=128)
def summarize(spec: ArchSpec) -> Summary:
    """Summary of a valid spec (raises SpecError otherwise). Cached: specs are immutable and hashable.

    The net is built on the meta device (no memory; blocks shared, see `_meta_block`) and walked leaf by
    leaf: it is d2l's chain of layers, so each leaf's input is the previous leaf's output. Each leaf's shape
    and FLOPs come from `LEAF_MEASURES`, which runs a leaf only at an input shape it has not seen.
    """
    with torch.device("meta"):
        net = build_model(spec, _meta_block)
    leaves = named_layers(net, spec)
    measured = []
    shape_in: tuple[int, ...] = (1, spec.in_channels, spec.input_size, spec.input_size)
    for _, _, module in leaves:
        shape_out, flops = LEAF_MEASURES.measure(module, shape_in)
        measured.append((shape_out, flops))
        shape_in = shape_out

    raw = []
    for (name, block, module), (shape, flops) in zip(leaves, measured):
        params = sum(p.numel() for p in module.parameters())
        raw.append((name, block, type(module).__name__, shape, params, flops, _numel(shape) * FLOAT32_BYTES))
    total_params = sum(r[4] for r in raw) or 1
    total_flops = sum(r[5] for r in raw) or 1
    layers = tuple(
        LayerRow(i, name, block, typ, shape, params, flops, act, params / total_params, flops / total_flops,
                 field_, jump)
        for i, ((name, block, typ, shape, params, flops, act), (field_, jump))
        in enumerate(zip(raw, _receptive_fields(leaves)))
    )
    blocks = tuple(
        BlockTotal(
            block=b,
            num_convs=spec.blocks[b].num_convs,
            channels=spec.effective_channels(b),
            output_shape=rows[-1].output_shape,
            params=sum(r.params for r in rows),
            flops=sum(r.flops for r in rows),
            activation_bytes=sum(r.activation_bytes for r in rows),
            kernel_size=spec.blocks[b].kernel_size,
            receptive_field=rows[-1].receptive_field,
            effective_stride=rows[-1].effective_stride,
        )
        for b in range(len(spec.blocks))
        for rows in [[r for r in layers if r.block == b]]
    )
    warnings = tuple(p for p in validate(spec) if not p.is_error)
    return Summary(spec=spec, layers=layers, blocks=blocks, problems=warnings)
