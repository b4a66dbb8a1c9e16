"""The arithmetic behind the numbers: each formula multiplies out to the measured count, for every preset."""

from __future__ import annotations

import re

import pytest

from vgg_studio.explain import flops_formula, params_formula, shape_reason
from vgg_studio.spec import PRESET_NAMES, preset
from vgg_studio.summary import summarize


def _value(formula: str) -> tuple[int, int]:
    """'3 × 3 × 64 × 128 + 128 = 73,856 …' -> (the left side worked out, the number after '=')."""
    left, right = formula.split(" = ", 1)
    total = 0
    for term in left.split(" + "):
        product = 1
        for factor in term.split(" × "):
            product *= int(factor.replace(",", ""))
        total += product
    return total, int(re.match(r"[\d,]+", right).group().replace(",", ""))


def test_fc1_of_vgg11_is_explained_as_in_the_chapter():
    s = summarize(preset("vgg11"))
    fc1 = s.first_linear
    assert params_formula(s, fc1) == ("25,088 × 4,096 + 4,096 = 102,764,544 weights and biases, where "
                                      "25,088 = 512 × 7 × 7 is block 5's output, flattened")
    assert flops_formula(s, fc1).startswith("2 × 25,088 × 4,096 = 205,520,896 FLOPs")
    pool = next(r for r in s.layers if r.name == "block5.pool")
    assert shape_reason(s, pool) == "the 2×2 max-pool with stride 2 halves 14 × 14 to 7 × 7"


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_every_weighted_layer_has_a_formula_that_multiplies_out(name):
    s = summarize(preset(name))
    for layer in s.layers:
        if layer.type not in ("Conv2d", "Linear"):
            assert params_formula(s, layer) is None and flops_formula(s, layer) is None
            continue
        assert _value(params_formula(s, layer)) == (layer.params, layer.params), layer.name
        assert _value(flops_formula(s, layer)) == (layer.flops, layer.flops), layer.name


def test_a_count_no_formula_matches_gets_no_explanation():
    s = summarize(preset("tiny"))
    conv = s.layers[0]
    wrong = type(conv)(**{**conv.__dict__, "params": conv.params + 1, "flops": conv.flops + 2})
    assert params_formula(s, wrong) is None and flops_formula(s, wrong) is None


def test_an_odd_size_is_said_to_be_floored():
    s = summarize(preset("tiny").replace(input_size=30))
    pool = next(r for r in s.layers if r.name == "block2.pool")
    assert shape_reason(s, pool) == "the 2×2 max-pool with stride 2 halves 15 × 15 to 7 × 7 (an odd size is floored)"
