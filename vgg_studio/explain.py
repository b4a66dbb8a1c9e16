"""Why a layer has the numbers it has, in the chapter's arithmetic: "fc1: 25,088 × 4,096 + 4,096 = 102,764,544
weights and biases, where 25,088 = 512 × 7 × 7 is block 5's output".

Every formula is derived from the summary's shapes and checked against the measured count before it is
shown, so a layer the formulas do not cover (or a future layer type) gets no explanation rather than a
wrong one. No Qt: the window's tooltips and diagram use it, and so could the command line.
"""

from __future__ import annotations

import math

from .summary import LayerRow, Summary


def input_shape(summary: Summary, layer: LayerRow) -> tuple[int, ...]:
    """The shape `layer` receives: the previous layer's output, or the network's input for the first."""
    if layer.index == 0:
        spec = summary.spec
        return (1, spec.in_channels, spec.input_size, spec.input_size)
    return summary.layers[layer.index - 1].output_shape


def _numel(dims: tuple[int, ...]) -> int:
    return math.prod(dims[1:])


def _block_output(layer: LayerRow) -> str:
    return f"block {layer.block + 1}'s output" if layer.block is not None else f"{layer.name}'s output"


def _square_root(value: float) -> int:
    """The whole number k with k × k == value (a kernel's side), or 0."""
    k = math.isqrt(int(value)) if value >= 1 and value == int(value) else 0
    return k if k * k == value else 0


def _source(summary: Summary, layer: LayerRow) -> str:
    """Where `layer`'s input comes from, in words: 'the input image', "block 2's output", "fc1's output"."""
    if layer.index == 0:
        return "the input image"
    prev = summary.layers[layer.index - 1]
    # ReLU, Dropout, Flatten and BatchNorm keep the size: name the layer that made it.
    while prev.index > 0 and prev.type not in ("Conv2d", "Linear", "MaxPool2d"):
        prev = summary.layers[prev.index - 1]
    if prev.type == "MaxPool2d":
        return _block_output(prev)
    if prev.type in ("Conv2d", "Linear"):
        return f"{prev.name}'s output"
    return "the input image"


def params_formula(summary: Summary, layer: LayerRow) -> str | None:
    """'25,088 × 4,096 + 4,096 = 102,764,544 weights and biases, where 25,088 = 512 × 7 × 7 is block 5's
    output' for a Linear; '3 × 3 × 64 × 128 + 128 = …' for a Conv2d; None when no formula matches."""
    inp = input_shape(summary, layer)
    if layer.type == "Linear":
        n_in, n_out = _numel(inp), layer.output_shape[-1]
        if n_in * n_out + n_out != layer.params:
            return None
        text = f"{n_in:,} × {n_out:,} + {n_out:,} = {layer.params:,} weights and biases"
        pre = summary.layers[layer.index - 1] if layer.index else None
        if pre is not None and pre.type == "Flatten" and len(input_shape(summary, pre)) == 4:
            c, h, w = input_shape(summary, pre)[1:]
            return text + f", where {n_in:,} = {c:,} × {h} × {w} is {_source(summary, pre)}, flattened"
        return text + f", where {n_in:,} is {_source(summary, layer)}"
    if layer.type == "Conv2d" and len(inp) == 4:
        c_in, c_out = inp[1], layer.output_shape[1]
        for bias in (c_out, 0):  # with a bias per output channel, or without (a conv before BatchNorm)
            k = _square_root((layer.params - bias) / (c_in * c_out) if c_in * c_out else 0)
            if k:
                plus = f" + {c_out:,}" if bias else ""
                biases = ", plus one bias per output channel" if bias else ""
                return (f"{k} × {k} × {c_in:,} × {c_out:,}{plus} = {layer.params:,} "
                        f"{'weights and biases' if bias else 'weights'}: a {k}×{k} kernel for every pair of "
                        f"{c_in:,} input channels ({_source(summary, layer)}) and {c_out:,} output "
                        f"channels{biases}")
    return None


def flops_formula(summary: Summary, layer: LayerRow) -> str | None:
    """'2 × 3 × 3 × 1 × 64 × 224 × 224 = 57,802,752 FLOPs': 2 per multiply-add, each output value needing
    one per weight of its kernel; None when no formula matches."""
    inp = input_shape(summary, layer)
    if layer.type == "Linear":
        n_in, n_out = _numel(inp), layer.output_shape[-1]
        if 2 * n_in * n_out == layer.flops:
            return f"2 × {n_in:,} × {n_out:,} = {layer.flops:,} FLOPs (one multiply-add per weight)"
        return None
    if layer.type == "Conv2d" and len(inp) == 4 and len(layer.output_shape) == 4:
        c_in = inp[1]
        c_out, h, w = layer.output_shape[1:]
        if not c_in * c_out * h * w:
            return None
        k = _square_root(layer.flops / (2 * c_in * c_out * h * w))
        if not k:
            return None
        return (f"2 × {k} × {k} × {c_in:,} × {c_out:,} × {h} × {w} = {layer.flops:,} FLOPs: a {k}×{k}×{c_in:,} "
                f"multiply-add for each of the {c_out:,} × {h} × {w} output values")
    return None


def shape_reason(summary: Summary, layer: LayerRow) -> str | None:
    """Why the output has its size: convolutions keep it (padding), pools halve it, Flatten multiplies it out."""
    inp, out = input_shape(summary, layer), layer.output_shape
    if layer.type == "MaxPool2d" and len(inp) == 4:
        odd = " (an odd size is floored)" if inp[2] % 2 else ""
        return f"the 2×2 max-pool with stride 2 halves {inp[2]} × {inp[3]} to {out[2]} × {out[3]}{odd}"
    if layer.type == "Conv2d" and len(inp) == 4 and inp[2:] == out[2:]:
        return f"padding keeps {out[2]} × {out[3]}; {inp[1]:,} → {out[1]:,} channels"
    if layer.type == "Flatten" and len(inp) == 4:
        return f"{inp[1]:,} × {inp[2]} × {inp[3]} = {_numel(inp):,} values in one row"
    return None
