"""The training-time rewrites compute what the model computed: same outputs, gradients and generator state."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sample_subset import sample_subset
from vgg_studio import steps
from vgg_studio.exact_rewrites import (DeferredReLU, PoolThenReLU, SameMaskDropout, draws_agree,
                                      rewrite_for_training)
from vgg_studio.model import build_initialized, named_layers
from vgg_studio.spec import preset


def _through(layer: nn.Module, x: torch.Tensor, upstream: torch.Tensor):
    torch.manual_seed(7)
    x = x.clone().requires_grad_(True)
    out = layer(x)
    out.backward(upstream)
    return out.detach(), x.grad, torch.get_rng_state(), torch.rand(3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("p", [0.5, 0.3, 0.9])
def test_same_outputs_gradients_and_generator_state_as_nn_dropout(dtype, p):
    assert draws_agree()  # this torch: the fast path is the one under test, not the fallback
    x = torch.randn(64, 300).to(dtype)
    upstream = torch.randn(64, 300).to(dtype)
    want = _through(nn.Dropout(p), x, upstream)
    got = _through(SameMaskDropout(p), x, upstream)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and torch.equal(a, b)
    kept = (want[0] != 0).float().mean().item()
    assert abs(kept - (1 - p)) < 0.03  # it is dropout: about 1 - p of the elements survive


def test_evaluation_and_p_zero_leave_the_input_alone():
    x = torch.randn(8, 16)
    assert torch.equal(SameMaskDropout(0.5).eval()(x), x)
    assert torch.equal(SameMaskDropout(0.0)(x), x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_relu_after_the_pool_gives_the_same_outputs_and_gradients(dtype):
    # Small integers: many ties within a window, many zeros and negatives (where the gradient must not go).
    x = torch.randint(-3, 4, (16, 8, 12, 12)).to(dtype).contiguous(memory_format=torch.channels_last)
    upstream = torch.randn(16, 8, 6, 6).to(dtype)
    want = _through(nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, 2)), x, upstream)
    got = _through(nn.Sequential(DeferredReLU(), PoolThenReLU(2, 2)), x, upstream)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and torch.equal(a, b)
    assert (want[1] == 0).float().mean() > 0.75  # one element per window at most, and only where the max is > 0


def test_the_rewrite_keeps_layer_names_and_weights():
    spec = preset("vgg11").replace(batch_norm=True, ratio=16)
    model = build_initialized(spec)
    names = [name for name, _, _ in named_layers(model, spec)]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rewrite_for_training(model)
    layers = named_layers(model, spec)
    assert [name for name, _, _ in layers] == names
    assert {type(m) for _, _, m in layers if isinstance(m, nn.Dropout)} == {SameMaskDropout}
    assert {type(m) for _, _, m in layers if isinstance(m, nn.MaxPool2d)} == {PoolThenReLU}
    deferred = [name for name, _, m in layers if isinstance(m, DeferredReLU)]
    assert deferred == ["block1.relu1", "block2.relu1", "block3.relu2", "block4.relu2", "block5.relu2"]
    assert model.state_dict().keys() == state.keys()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


def _forward_loss(net, x, y):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
        return out, F.cross_entropy(out, y)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_the_engine_steps_train_as_a_plain_autocast_loop(batch_norm):
    """The engine's steps (kept bf16 weights, the rewrites, the allocator kept) against d2l's loop under
    autocast with the model as built: the same losses and float32 weights, bit for bit."""
    spec = preset("tiny").replace(ratio=4, in_channels=1, num_classes=10, batch_norm=batch_norm)
    data = sample_subset(64, 16)
    batches = [(data.train.images[16 * i:16 * (i + 1)].float().div(255).to(memory_format=torch.channels_last),
                data.train.labels[16 * i:16 * (i + 1)]) for i in range(4)]
    runs = []
    for engine_steps in (False, True):
        torch.manual_seed(0)
        model = build_initialized(spec).to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        losses = []
        if engine_steps:
            stepper = steps.Steps(model, optimizer, _forward_loss, lambda net, x: net(x), compile=False,
                                  kept_bf16=True, batch_size=16, eval_batch_size=16,
                                  on_compiling=lambda step: None, on_fallback=pytest.fail)
            assert {SameMaskDropout, PoolThenReLU} <= {type(m) for m in model.modules()}
            losses = [stepper.train_step(x, y)[1].item() for x, y in batches]
        else:
            for x, y in batches:
                optimizer.zero_grad(set_to_none=True)
                _, loss = _forward_loss(model, x, y)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
        runs.append((losses, [p.detach().clone() for p in model.parameters()]))
    (loss_a, weights_a), (loss_b, weights_b) = runs
    assert loss_a == loss_b
    assert all(torch.equal(a, b) for a, b in zip(weights_a, weights_b))
