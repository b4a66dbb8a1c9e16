"""The built model is d2l's net, layer for layer, and reproduces its printouts."""

import pytest
import torch
import torchvision
from torch import nn

from vgg_studio.model import build_initialized, build_model, named_layers, vgg_block
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


# --- version 2: kernel size, BatchNorm, head -----------------------------------------------------------

def _count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _tensor_layout(net: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    """(layer type, shape) of every parameter and buffer, in forward order: the same list means the same
    net up to names, which differ (torchvision nests features/classifier, the chapter is flat)."""
    out = []
    for m in net.modules():
        if not list(m.children()):
            out += [(type(m).__name__, tuple(t.shape)) for t in [*m.parameters(), *m.buffers()]]
    return out


@pytest.mark.parametrize("name, reference, expected", [
    ("vgg11-bn", "vgg11_bn", 132_868_840), ("vgg16-bn", "vgg16_bn", 138_365_992),
    ("vgg11", "vgg11", 132_863_336), ("vgg13", "vgg13", 133_047_848), ("vgg16", "vgg16", 138_357_544),
    ("vgg19", "vgg19", 143_667_240),
])
@pytest.mark.parametrize("head", ["adaptive", "fc"])
def test_torchvision_parity_at_3_channels_and_1000_classes(name, reference, expected, head):
    """torchvision's VGGs (weights=None), counted independently; at 224 the fc head equals adaptive."""
    spec = preset(name).replace(in_channels=3, num_classes=1000, head=head)
    with torch.device("meta"):
        ours = build_model(spec)
        theirs = getattr(torchvision.models, reference)(weights=None)
    assert _count(theirs) == expected
    assert _count(ours) == expected
    assert [t for t in _tensor_layout(ours) if t[0] != "AdaptiveAvgPool2d"] == _tensor_layout(theirs)
    if head == "adaptive":  # torchvision's order, module for module (it flattens in forward, not as a module)
        assert [type(m).__name__ for m in ours.modules() if not list(m.children()) and type(m) is not nn.Flatten] \
            == [type(m).__name__ for m in theirs.modules() if not list(m.children())]


def test_batch_norm_block_is_torchvisions_order():
    block = vgg_block(2, 3, 8, batch_norm=True)
    assert [type(m).__name__ for m in block] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU",
                                               "MaxPool2d"]


@pytest.mark.parametrize("k", [1, 3, 5, 7, 11])
def test_kernel_keeps_the_size_with_padding_k_over_2(k):
    block = vgg_block(1, 2, 4, kernel_size=k)
    assert block[0].kernel_size == (k, k) and block[0].padding == (k // 2, k // 2)
    assert block(torch.zeros(1, 2, 12, 12)).shape == (1, 4, 6, 6)


def test_version_1_specs_build_the_same_modules_so_old_weights_load():
    """A spec without the new knobs must give the exact module (and state_dict keys) of before."""
    spec = preset("tiny")
    net = build_model(spec)
    assert list(net.state_dict()) == ["0.0.weight", "0.0.bias", "1.0.weight", "1.0.bias", "1.2.weight",
                                             "1.2.bias", "3.weight", "3.bias", "6.weight", "6.bias"]


@pytest.mark.parametrize("head, input_size", [("adaptive", 100), ("gap", 100), ("adaptive", 32), ("gap", 37)])
def test_any_input_size_builds_with_adaptive_and_gap(head, input_size):
    spec = preset("vgg11").replace(head=head, input_size=input_size, ratio=16, hidden=(64, 64))
    net = build_model(spec).eval()
    assert net(torch.zeros(2, 1, input_size, input_size)).shape == (2, 10)
    first = next(m for m in net if isinstance(m, nn.Linear))
    assert first.in_features == (512 // 16) * (49 if head == "adaptive" else 1)


def test_gap_head_is_pool_flatten_one_linear():
    net = build_model(preset("tiny").replace(head="gap"))
    assert [type(m).__name__ for m in list(net)[2:]] == ["AdaptiveAvgPool2d", "Flatten", "Linear"]
    assert net[-1].in_features == 64 and net[-1].out_features == 10


def test_named_layers_name_batch_norm_and_the_pool():
    spec = preset("tiny").replace(batch_norm=True, head="adaptive")
    names = [name for name, _, _ in named_layers(build_model(spec), spec)]
    assert names[:4] == ["block1.conv1", "block1.bn1", "block1.relu1", "block1.pool"]
    assert names[-6:] == ["avgpool", "flatten", "fc1", "fc1.relu", "fc1.dropout", "fc2"]


def test_batch_norm_starts_at_scale_1_shift_0():
    net = build_initialized(preset("tiny").replace(batch_norm=True))
    bn = net[0][1]
    assert isinstance(bn, nn.BatchNorm2d) and torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
