"""Spec -> torch module, exactly the d2l chapter's `vgg_block` / `vgg` with the spec's knobs."""

from __future__ import annotations

from torch import nn

from .spec import ArchSpec, check


def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
    """`num_convs` x (3x3 conv, padding 1, ReLU), then a 2x2 max-pool with stride 2 (d2l 7.2.1)."""
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def build_model(spec: ArchSpec) -> nn.Sequential:
    """Blocks -> Flatten -> (Linear, ReLU, Dropout) per hidden width -> Linear, as d2l's `vgg(conv_arch)`.

    Raises SpecError for an invalid spec rather than letting torch fail later with a shape error.
    """
    check(spec)
    layers: list[nn.Module] = []
    in_channels = spec.in_channels
    for i, block in enumerate(spec.blocks):
        out_channels = spec.effective_channels(i)
        layers.append(vgg_block(block.num_convs, in_channels, out_channels))
        in_channels = out_channels
    side = spec.feature_sizes()[-1]
    layers.append(nn.Flatten())
    width = in_channels * side * side
    for hidden in spec.hidden:
        layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(spec.dropout)]
        width = hidden
    layers.append(nn.Linear(width, spec.num_classes))
    return nn.Sequential(*layers)


def init_weights(module: nn.Module) -> None:
    """d2l's `init_weights`: Xavier-uniform for every Conv2d and Linear weight, biases left as built."""
    if type(module) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight)


def build_initialized(spec: ArchSpec) -> nn.Sequential:
    net = build_model(spec)
    net.apply(init_weights)
    return net
