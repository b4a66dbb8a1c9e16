"""The built model is d2l's net, layer for layer, and reproduces its printouts."""

import torch
from torch import nn

from vgg_studio.model import build_initialized, build_model, vgg_block
from vgg_studio.spec import preset


def d2l_vgg(conv_arch):
    """d2l's code, verbatim in structure, as an independent reference."""
    conv_blks, in_channels = [], 1
    for num_convs, out_channels in conv_arch:
        layers = []
        for _ in range(num_convs):
            layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
            in_channels = out_channels
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        conv_blks.append(nn.Sequential(*layers))
    return nn.Sequential(*conv_blks, nn.Flatten(),
                         nn.Linear(out_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 10))


def printout(net, x):
    lines = []
    for layer in net:
        x = layer(x)
        lines.append(f"{layer.__class__.__name__} output shape:\t{x.shape}")
    return lines


def test_vgg_block_printout_matches_the_seed():
    x = torch.empty(1, 256, 224, 224, device="meta")
    with torch.device("meta"):
        net = vgg_block(3, 256, 384)
    assert printout(net, x) == [
        "Conv2d output shape:\ttorch.Size([1, 384, 224, 224])",
        "ReLU output shape:\ttorch.Size([1, 384, 224, 224])",
    ] * 3 + ["MaxPool2d output shape:\ttorch.Size([1, 384, 112, 112])"]


def test_vgg11_printout_matches_the_seed():
    with torch.device("meta"):
        net = build_model(preset("vgg11"))
    lines = printout(net, torch.empty(1, 1, 224, 224, device="meta"))
    expected = [
        "Sequential output shape:\ttorch.Size([1, 64, 112, 112])",
        "Sequential output shape:\ttorch.Size([1, 128, 56, 56])",
        "Sequential output shape:\ttorch.Size([1, 256, 28, 28])",
        "Sequential output shape:\ttorch.Size([1, 512, 14, 14])",
        "Sequential output shape:\ttorch.Size([1, 512, 7, 7])",
        "Flatten output shape:\ttorch.Size([1, 25088])",
        "Linear output shape:\ttorch.Size([1, 4096])",
        "ReLU output shape:\ttorch.Size([1, 4096])",
        "Dropout output shape:\ttorch.Size([1, 4096])",
        "Linear output shape:\ttorch.Size([1, 4096])",
        "ReLU output shape:\ttorch.Size([1, 4096])",
        "Dropout output shape:\ttorch.Size([1, 4096])",
        "Linear output shape:\ttorch.Size([1, 10])",
    ]
    assert lines == expected


def test_layer_for_layer_the_seeds_net():
    conv_arch = preset("vgg11").conv_arch
    with torch.device("meta"):
        ours, theirs = build_model(preset("vgg11")), d2l_vgg(conv_arch)
    assert repr(ours) == repr(theirs)
    small = tuple((n, c // 4) for n, c in conv_arch)
    with torch.device("meta"):
        assert repr(build_model(preset("d2l-small"))) == repr(d2l_vgg(small))


def test_parameter_counts_from_the_seed():
    with torch.device("meta"):
        for name, total, first_share in (("vgg11", 128_806_154, 0.798), ("d2l-small", 43_093_322, 0.596)):
            net = build_model(preset(name))
            n = sum(p.numel() for p in net.parameters())
            first = next(m for m in net if isinstance(m, nn.Linear))
            assert n == total
            assert round(first.weight.numel() / n + first.bias.numel() / n, 3) == first_share


def test_real_forward_of_the_tiny_net():
    net = build_initialized(preset("tiny"))
    out = net(torch.randn(4, 1, 28, 28))
    assert out.shape == (4, 10) and torch.isfinite(out).all()


def test_xavier_init_bounds():
    torch.manual_seed(0)
    net = build_initialized(preset("tiny"))
    conv = net[0][0]
    fan_in, fan_out = 1 * 9, 32 * 9
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert conv.weight.abs().max() <= bound
    assert conv.weight.abs().max() > 0.9 * bound  # uniform fills the range, unlike the default kaiming bound


def test_no_hidden_layers_and_custom_head():
    spec = preset("tiny").replace(hidden=(), num_classes=3, in_channels=3)
    net = build_model(spec)
    assert isinstance(net[-1], nn.Linear) and net[-1].in_features == 64 * 7 * 7 and net[-1].out_features == 3
    assert net(torch.randn(2, 3, 28, 28)).shape == (2, 3)
