"""Summary rows agree with independent computations: real forward shapes, numel, and conv FLOP formulas."""

import subprocess
import sys

import pytest
import torch

from vgg_studio.model import build_model
from vgg_studio.spec import PRESET_NAMES, Block, SpecError, preset
from vgg_studio.summary import summarize


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_params_per_layer_equal_numel_of_the_built_module(name):
    spec = preset(name)
    with torch.device("meta"):
        net = build_model(spec)
    leaves = [m for m in net.modules() if not list(m.children())]
    summary = summarize(spec)
    assert [r.type for r in summary.layers] == [type(m).__name__ for m in leaves]
    assert [r.params for r in summary.layers] == [sum(p.numel() for p in m.parameters()) for m in leaves]
    assert summary.total_params == sum(p.numel() for p in net.parameters())


def test_shapes_equal_a_real_forward():
    spec = preset("tiny")
    net = build_model(spec).eval()
    x, shapes = torch.zeros(1, 1, 28, 28), []
    for m in [m for m in net.modules() if not list(m.children())]:
        x = m(x)
        shapes.append(tuple(x.shape))
    assert [r.output_shape for r in summarize(spec).layers] == shapes


def test_conv_and_linear_flops_match_the_textbook_formula():
    summary = summarize(preset("vgg11"))
    for row in summary.layers:
        if row.type == "Conv2d":
            _, c_out, h, w = row.output_shape
            c_in = (row.params - c_out) // (9 * c_out)
            assert row.flops == 2 * h * w * c_out * c_in * 9
        elif row.type == "Linear":
            assert row.flops == 2 * (row.params - row.output_shape[1])
        else:
            assert row.flops == 0


def test_seed_figures():
    vgg11, small = summarize(preset("vgg11")), summarize(preset("d2l-small"))
    assert vgg11.total_params == 128_806_154 and vgg11.first_linear.params == 102_764_544
    assert f"{vgg11.first_linear.param_share:.1%}" == "79.8%"
    assert small.total_params == 43_093_322 and f"{small.first_linear.param_share:.1%}" == "59.6%"
    assert small.total_flops / 1e9 == pytest.approx(1.02, abs=0.01)  # "about 1.02 GFLOP per image"


def test_the_chapters_point_params_in_fc1_compute_in_convs():
    summary = summarize(preset("vgg16"))
    assert max(summary.layers, key=lambda r: r.params).name == "fc1"
    conv_flops = sum(r.flops for r in summary.layers if r.type == "Conv2d")
    assert conv_flops / summary.total_flops > 0.95


def test_block_subtotals_and_shares():
    summary = summarize(preset("vgg19"))
    assert len(summary.blocks) == 5
    assert sum(b.params for b in summary.blocks) + sum(r.params for r in summary.head) == summary.total_params
    assert [b.output_shape for b in summary.blocks][-1] == (1, 512, 7, 7)
    assert sum(r.param_share for r in summary.layers) == pytest.approx(1)
    assert sum(r.flop_share for r in summary.layers) == pytest.approx(1)


def test_activation_bytes_and_training_memory():
    summary = summarize(preset("tiny"))
    for r in summary.layers:
        n = 1
        for d in r.output_shape:
            n *= d
        assert r.activation_bytes == 4 * n
    m1, m2 = summary.training_memory(1), summary.training_memory(64, optimizer="adam")
    assert m1.params_bytes == m1.grads_bytes == 4 * summary.total_params
    assert m2.optimizer_bytes == 2 * m2.params_bytes
    assert m2.activations_bytes == 64 * m1.activations_bytes
    assert summary.training_memory(8, activation_dtype_bytes=2).activations_bytes * 2 == \
        summary.training_memory(8).activations_bytes


def test_warnings_travel_with_the_summary_and_errors_raise():
    assert summarize(preset("vgg11").replace(input_size=100)).problems[0].severity == "warning"
    with pytest.raises(SpecError, match="0x0"):
        summarize(preset("vgg11").replace(input_size=16))


def test_summary_never_touches_real_memory():
    """VGG-19 at 448x448 would need over 1 GiB of real weights and activations; on meta it needs none."""
    code = (
        "import resource, torch\n"
        "from vgg_studio.spec import preset\n"
        "from vgg_studio.summary import summarize\n"
        "summarize(preset('tiny'))\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "s = summarize(preset('vgg19').replace(input_size=448))\n"
        "assert s.layers[0].output_shape == (1, 64, 448, 448)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    grown_kib = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   check=True).stdout)
    assert grown_kib < 100 * 1024


# --- receptive field -----------------------------------------------------------------------------------

def _measured_field(spec, layer_name):
    """The receptive field measured, not computed: back-propagate from one output cell of `layer_name` to the
    input through the spec's features with every weight 1, max-pools as average pools (same window, but
    every input of it gets gradient) and no ReLU, and measure the span of input pixels that get gradient.
    Also returns the shift of that span between two neighbouring cells, the effective stride."""
    from torch import nn

    from vgg_studio.model import named_layers

    net = build_model(spec.replace(ratio=min(b.out_channels for b in spec.blocks))).double()  # channels do not matter
    layers = []
    for name, _block, module in named_layers(net, spec):
        if isinstance(module, nn.Conv2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
            layers.append(module)
        elif isinstance(module, nn.MaxPool2d):
            layers.append(nn.AvgPool2d(module.kernel_size, module.stride))
        if name == layer_name:
            break
    features = nn.Sequential(*layers)

    def span(cell):
        x = torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size, dtype=torch.float64,
                        requires_grad=True)
        out = features(x)
        out[0, 0, out.shape[2] // 2, cell].backward()
        cols = torch.nonzero(x.grad[0, 0].abs().sum(0)).flatten()
        return cols.min().item(), cols.max().item()

    mid = features(torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size,
                                dtype=torch.float64)).shape[3] // 2
    (lo, hi), (lo2, _) = span(mid), span(mid + 1)
    assert lo > 0 and hi < spec.input_size - 1, "the window must lie inside the input to be measured"
    return hi - lo + 1, lo2 - lo


def test_receptive_field_of_the_last_pool_is_the_standard_value():
    assert summarize(preset("vgg11")).blocks[-1].receptive_field == 150
    assert summarize(preset("vgg16")).blocks[-1].receptive_field == 212
    assert summarize(preset("vgg11")).blocks[-1].effective_stride == 32


@pytest.mark.parametrize("spec, layer", [
    (preset("vgg11"), "block5.pool"),
    (preset("vgg16"), "block4.conv2"),
    (preset("vgg11").with_block(2, Block(2, 256, 5)), "block5.pool"),  # kernel 5 in block 3
    (preset("tiny").replace(input_size=64).with_block(0, Block(1, 32, 7)), "block2.conv2"),
])
def test_receptive_field_equals_a_measured_one(spec, layer):
    row = next(r for r in summarize(spec).layers if r.name == layer)
    assert (row.receptive_field, row.effective_stride) == _measured_field(spec, layer)


def test_kernel_5_in_a_block_widens_the_field_by_its_stride():
    # two 5x5 convs instead of two 3x3 in block 3 (stride 4 there) add 2 x (5 - 3) x 4 = 16 pixels
    wide = preset("vgg11").with_block(2, Block(2, 256, 5))
    assert summarize(wide).blocks[-1].receptive_field == 150 + 16
    # one 5x5 sees what two 3x3 see: the "why 3x3" preset keeps VGG-11's field
    assert summarize(preset("vgg11-5x5")).blocks[-1].receptive_field == 150


def test_head_rows_have_no_receptive_field_and_bn_relu_keep_it():
    s = summarize(preset("tiny").replace(batch_norm=True, head="adaptive"))
    rows = {r.name: r for r in s.layers}
    assert rows["block1.conv1"].receptive_field == rows["block1.bn1"].receptive_field == \
        rows["block1.relu1"].receptive_field == 3
    assert all(r.receptive_field is None and r.effective_stride is None for r in s.head)


def test_receptive_field_note_only_when_the_last_conv_sees_less_than_the_input():
    assert summarize(preset("vgg11")).receptive_field_note() == (
        "The last conv (block5.conv2) sees 134×134 of the 224×224 input; after its pool each cell sees 150×150.")
    assert summarize(preset("vgg11").replace(input_size=64)).receptive_field_note() is None


def test_gap_moves_the_parameters_out_of_the_first_linear():
    fc, gap = summarize(preset("vgg11")), summarize(preset("vgg11").replace(head="gap"))
    assert fc.first_linear.param_share > 0.79
    assert gap.first_linear.params == 512 * 10 + 10 and gap.first_linear.param_share < 0.001
    assert gap.parameter_note().startswith("The classifier (fc1, no hidden layers) holds 5,130 parameters")
    assert "the most in block 5" in gap.parameter_note()
    assert fc.parameter_note() == "First Linear (fc1) holds 102,764,544 parameters, 79.8% of the total"


def test_batch_norm_adds_two_parameters_per_channel_and_its_activations():
    plain, bn = summarize(preset("vgg11")), summarize(preset("vgg11-bn"))
    channels = sum(b.num_convs * b.channels for b in plain.blocks)
    assert bn.total_params - plain.total_params == 2 * channels
    conv_acts = sum(r.activation_bytes for r in plain.layers if r.type == "Conv2d")
    assert bn.total_activation_bytes - plain.total_activation_bytes == conv_acts
