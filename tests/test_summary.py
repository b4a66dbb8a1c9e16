"""Summary rows agree with independent computations: real forward shapes, numel, and conv FLOP formulas."""

import subprocess
import sys

import pytest
import torch

from vgg_studio.model import build_model
from vgg_studio.spec import PRESET_NAMES, SpecError, preset
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
