"""Warm start copies exactly the layers whose place and shapes still fit, BatchNorm statistics included."""

import json

import pytest
import torch

from vgg_studio.model import build_initialized, named_layers
from vgg_studio.runs import RunError
from vgg_studio.spec import Block, preset, save
from vgg_studio.warm_start import load_run_weights, transfer, warm_start

TINY = preset("tiny")
TINY3 = TINY.inserting(2, Block(2, 128))  # a third block: 28 -> 14 -> 7 -> 3


def _layers(net, spec):
    return {name: module for name, _, module in named_layers(net, spec)}


def test_adding_a_block_reuses_the_blocks_before_it_and_the_last_linear():
    torch.manual_seed(0)
    old = build_initialized(TINY)
    new = build_initialized(TINY3)
    before = {k: v.clone() for k, v in new.state_dict().items()}
    result = transfer(new, TINY3, TINY, old.state_dict(), source="run")
    assert result.reused == ("block1.conv1", "block2.conv1", "block2.conv2", "fc2")
    assert result.new == ("block3.conv1", "block3.conv2", "fc1")
    assert result.why_new["fc1"] == "256x3136 in the run, 256x1152 now"
    assert result.why_new["block3.conv1"] == "not in the run"
    o, n = _layers(old, TINY), _layers(new, TINY3)
    for name in result.reused:
        for key, value in n[name].state_dict().items():
            assert torch.equal(value, o[name].state_dict()[key]), (name, key)
    for name in result.new:  # untouched: still the fresh Xavier init
        prefix = next(p for p, m in new.named_modules() if m is n[name])
        assert torch.equal(n[name].weight, before[prefix + ".weight"])
    assert result.to_dict() == {"from": "run", "reused": list(result.reused), "new": list(result.new),
                                "dropped": [], "why_new": result.why_new}


def test_batch_norm_running_statistics_come_along():
    spec = TINY.replace(batch_norm=True)
    old = build_initialized(spec)
    old.train()
    with torch.no_grad():
        old(torch.randn(16, 1, 28, 28) * 3 + 1)  # moves running_mean/var and num_batches_tracked
    new = build_initialized(TINY3.replace(batch_norm=True))
    result = transfer(new, TINY3.replace(batch_norm=True), spec, old.state_dict())
    assert "block1.bn1" in result.reused and "block3.bn1" in result.new
    o, n = _layers(old, spec)["block2.bn2"], _layers(new, TINY3)["block2.bn2"]
    assert torch.equal(n.running_mean, o.running_mean) and torch.equal(n.running_var, o.running_var)
    assert n.num_batches_tracked.item() == 1 and n.running_mean.abs().sum() > 0


def test_a_changed_kernel_or_width_starts_fresh_and_removed_layers_are_named():
    wide = TINY.with_block(1, Block(1, 64, 5))  # one 5x5 instead of two 3x3
    result = transfer(build_initialized(wide), wide, TINY, build_initialized(TINY).state_dict())
    assert result.reused == ("block1.conv1", "fc1", "fc2")
    assert result.new == ("block2.conv1",) and result.why_new["block2.conv1"] == "64x32x3x3 in the run, 64x32x5x5 now"
    assert result.dropped == ("block2.conv2",)


def test_from_a_bn_run_to_a_plain_net_keeps_the_convs():
    bn = TINY.replace(batch_norm=True)
    result = transfer(build_initialized(TINY), TINY, bn, build_initialized(bn).state_dict())
    assert result.reused == ("block1.conv1", "block2.conv1", "block2.conv2", "fc1", "fc2")
    assert result.dropped == ("block1.bn1", "block2.bn1", "block2.bn2")


def _fake_run(folder, spec, weights=None, name="final.pt"):
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"format": "vgg-studio.run"}))
    save(spec, folder / "arch.json")
    if weights is not None:
        torch.save(weights, folder / name)
    return folder


def test_reads_final_weights_or_the_last_checkpoint(tmp_path):
    state = build_initialized(TINY).state_dict()
    spec, weights = load_run_weights(_fake_run(tmp_path / "a", TINY, state))
    assert spec == TINY and weights.keys() == state.keys()
    _, weights = load_run_weights(_fake_run(tmp_path / "b", TINY, {"epoch": 1, "model": state}, "checkpoint.pt"))
    assert torch.equal(weights["0.0.weight"], state["0.0.weight"])


def _garbage(folder):
    (folder / "final.pt").write_bytes(b"not a torch file")
    return folder


@pytest.mark.parametrize("setup, words", [
    (lambda p: p, "is not a vgg-studio run"),
    (lambda p: _fake_run(p / "r", TINY), "has no weights yet"),
    (lambda p: _fake_run(p / "r", TINY, {"x": 1}), "does not hold a model's weights"),
    (lambda p: _garbage(_fake_run(p / "r", TINY)), "Cannot read"),
    (lambda p: _fake_run(p / "r", TINY, build_initialized(TINY3).state_dict()), "do not match its arch.json"),
])
def test_bad_run_folders_give_a_clear_error(tmp_path, setup, words):
    net = build_initialized(TINY)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(RunError, match=words):
        warm_start(net, TINY, setup(tmp_path))
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())  # the net is left as it was
