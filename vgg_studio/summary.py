"""Per-layer shapes, parameters, FLOPs and memory of a spec, computed on torch's meta device.

Nothing here allocates real activations: the net is built and run on the meta device, shapes come from
forward hooks and FLOPs from torch's FlopCounterMode, so VGG-19 at 224x224 summarises in milliseconds.
FLOPs follow FlopCounterMode's convention (2 per multiply-accumulate; ReLU and pooling count 0).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .model import build_model
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


@dataclass(frozen=True)
class BlockTotal:
    block: int  # 0-based
    num_convs: int
    channels: int  # effective channels, after the ratio
    output_shape: tuple[int, ...]
    params: int
    flops: int
    activation_bytes: int


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


def _leaf_names(net: nn.Sequential, spec: ArchSpec) -> list[tuple[str, int | None, nn.Module]]:
    """(readable name, block, module) for every leaf, in forward order."""
    out: list[tuple[str, int | None, nn.Module]] = []
    n_blocks = len(spec.blocks)
    for b in range(n_blocks):
        conv = 0
        for module in net[b]:
            if isinstance(module, nn.Conv2d):
                conv += 1
                out.append((f"block{b + 1}.conv{conv}", b, module))
            elif isinstance(module, nn.ReLU):
                out.append((f"block{b + 1}.relu{conv}", b, module))
            else:
                out.append((f"block{b + 1}.pool", b, module))
    fc = 0
    for module in list(net)[n_blocks:]:
        if isinstance(module, nn.Linear):
            fc += 1
            out.append((f"fc{fc}", None, module))
        elif isinstance(module, nn.Flatten):
            out.append(("flatten", None, module))
        else:
            out.append((f"fc{fc}.{type(module).__name__.lower()}", None, module))
    return out


@functools.lru_cache(maxsize=128)
def summarize(spec: ArchSpec) -> Summary:
    """Summary of a valid spec (raises SpecError otherwise). Cached: specs are immutable and hashable."""
    with torch.device("meta"):
        net = build_model(spec)
    leaves = _leaf_names(net, spec)
    module_key = {id(m): "Sequential." + name for name, m in net.named_modules() if name}
    shapes: dict[int, tuple[int, ...]] = {}

    def record(module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        shapes[id(module)] = tuple(output.shape)

    handles = [m.register_forward_hook(record) for _, _, m in leaves]
    try:
        x = torch.empty(1, spec.in_channels, spec.input_size, spec.input_size, device="meta")
        with FlopCounterMode(display=False) as counter:
            net(x)
    finally:
        for h in handles:
            h.remove()
    flop_counts = counter.get_flop_counts()

    raw = []
    for name, block, module in leaves:
        shape = shapes[id(module)]
        params = sum(p.numel() for p in module.parameters())
        flops = int(sum(flop_counts.get(module_key[id(module)], {}).values()))
        raw.append((name, block, type(module).__name__, shape, params, flops, _numel(shape) * FLOAT32_BYTES))
    total_params = sum(r[4] for r in raw) or 1
    total_flops = sum(r[5] for r in raw) or 1
    layers = tuple(
        LayerRow(i, name, block, typ, shape, params, flops, act, params / total_params, flops / total_flops)
        for i, (name, block, typ, shape, params, flops, act) in enumerate(raw)
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
        )
        for b in range(len(spec.blocks))
        for rows in [[r for r in layers if r.block == b]]
    )
    warnings = tuple(p for p in validate(spec) if not p.is_error)
    return Summary(spec=spec, layers=layers, blocks=blocks, problems=warnings)
