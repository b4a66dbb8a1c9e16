"""Spec -> torch module, exactly the d2l chapter's `vgg_block` / `vgg` with the spec's knobs.

The module is a flat nn.Sequential (blocks, then the head's layers), as in the chapter. A spec without the
version-2 knobs (3x3 kernels, no BatchNorm, the `fc` head) builds the very same module as before they
existed, so saved weights and checkpoints keep their keys. `named_layers` gives every leaf its readable
name ("block2.conv1", "fc1"); the summary and warm start both address layers by it.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .spec import ADAPTIVE_POOL_SIZE, ArchSpec, check


def vgg_block(num_convs: int, in_channels: int, out_channels: int, kernel_size: int = 3,
              batch_norm: bool = False) -> nn.Sequential:
    """`num_convs` x (k x k conv, padding k // 2, [BatchNorm2d,] ReLU), then a 2x2 max-pool with stride 2.

    With the defaults this is d2l 7.2.1's block; with `batch_norm` it is torchvision's `vgg*_bn` block.
    """
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size, padding=kernel_size // 2))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def build_model(spec: ArchSpec, make_block: Callable[..., nn.Sequential] = vgg_block) -> nn.Sequential:
    """Blocks -> the head, as d2l's `vgg(conv_arch)` for the `fc` head.

    fc:       Flatten -> (Linear, ReLU, Dropout) per hidden width -> Linear
    adaptive: AdaptiveAvgPool2d((7, 7)) -> the same as fc (torchvision's VGG; any input size builds)
    gap:      AdaptiveAvgPool2d(1) -> Flatten -> Linear to the classes (NiN's global average pooling)

    `make_block` takes `vgg_block`'s arguments; the summary passes a memoized one (see `summary`).
    Raises SpecError for an invalid spec rather than letting torch fail later with a shape error.
    """
    check(spec)
    layers: list[nn.Module] = []
    in_channels = spec.in_channels
    for i, block in enumerate(spec.blocks):
        out_channels = spec.effective_channels(i)
        layers.append(make_block(block.num_convs, in_channels, out_channels, block.kernel_size, spec.batch_norm))
        in_channels = out_channels
    side = spec.feature_sizes()[-1]
    if spec.head == "adaptive":
        layers.append(nn.AdaptiveAvgPool2d((ADAPTIVE_POOL_SIZE, ADAPTIVE_POOL_SIZE)))
        side = ADAPTIVE_POOL_SIZE
    elif spec.head == "gap":
        layers.append(nn.AdaptiveAvgPool2d(1))
        side = 1
    layers.append(nn.Flatten())
    width = in_channels * side * side
    for hidden in spec.classifier_widths:
        layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(spec.dropout)]
        width = hidden
    layers.append(nn.Linear(width, spec.num_classes))
    return nn.Sequential(*layers)


def named_layers(net: nn.Sequential, spec: ArchSpec) -> list[tuple[str, int | None, nn.Module]]:
    """(readable name, 0-based block or None for the head, module) for every leaf of `build_model(spec)`.

    Names: block{b}.conv{i}, block{b}.bn{i}, block{b}.relu{i}, block{b}.pool; then avgpool, flatten,
    fc{i}, fc{i}.relu, fc{i}.dropout. A layer keeps its name when blocks are appended after it, which is
    what warm start matches on.
    """
    out: list[tuple[str, int | None, nn.Module]] = []
    n_blocks = len(spec.blocks)
    for b in range(n_blocks):
        conv = 0
        for module in net[b]:
            if isinstance(module, nn.Conv2d):
                conv += 1
                out.append((f"block{b + 1}.conv{conv}", b, module))
            elif isinstance(module, nn.BatchNorm2d):
                out.append((f"block{b + 1}.bn{conv}", b, module))
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
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            out.append(("avgpool", None, module))
        elif isinstance(module, nn.Dropout):  # training swaps in a subclass (exact_rewrites.SameMaskDropout)
            out.append((f"fc{fc}.dropout", None, module))
        else:
            out.append((f"fc{fc}.{type(module).__name__.lower()}", None, module))
    return out


def init_weights(module: nn.Module) -> None:
    """d2l's `init_weights`: Xavier-uniform for every Conv2d and Linear weight, biases left as built.

    BatchNorm keeps torch's own start (scale 1, shift 0), as torchvision's vgg*_bn does.
    """
    if type(module) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight)


def build_initialized(spec: ArchSpec) -> nn.Sequential:
    net = build_model(spec)
    net.apply(init_weights)
    return net
