"""Training-time rewrites of a model that compute the very same numbers in less time (no Qt).

A seeded run gives the same losses and weights, bit for bit, with or without them (tests/test_exact_rewrites.py);
they only change how the work is done. Steps applies them to an uncompiled model (a compiled graph does its own
fusing and draws its own dropout masks). Layer types stay what they were (subclasses), so names, weights and
checkpoints are untouched.

- Dropout's mask. On a CPU, nn.Dropout's mask is `empty_like(x).bernoulli_(1 - p)`: one float64 uniform per
  element from the global generator, kept where it is below 1 - p, drawn one element at a time at ~11 ns each.
  `torch.rand` draws the same uniforms from the same generator in the same order at ~4 ns. At the 4096-wide
  classifier with batch 128 that is 6 -> 2.5 ms per Dropout per step on a 2-core Xeon. Whether this torch's two
  draws agree is checked once per process (the generator's state put back); where they do not, nn.Dropout's own
  forward runs.
- ReLU after the pool. max-pool and ReLU commute: max(relu(a), relu(b)) = relu(max(a, b)), and the gradient
  reaches the same element either way (the window's first maximum when it is positive, nothing otherwise).
  Pooling first leaves the ReLU a quarter of the elements, forward and backward: a block's last ReLU is most
  of VGG's elementwise work at small inputs (64 px: 93 -> 87 ms a step).
"""

from __future__ import annotations

import functools
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn


class SameMaskDropout(nn.Dropout):
    """nn.Dropout with its CPU mask drawn by torch.rand; everything else is nn.Dropout's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and 0.0 < self.p < 1.0 and not self.inplace and x.device.type == "cpu"
                and x.is_contiguous() and draws_agree()):
            return super().forward(x)
        keep = 1.0 - self.p
        noise = (torch.rand(x.shape, dtype=torch.float64) < keep).to(x.dtype).div_(keep)
        return x * noise


class DeferredReLU(nn.ReLU):
    """A ReLU whose work the max-pool right after it does (PoolThenReLU)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class PoolThenReLU(nn.MaxPool2d):
    """The max-pool, then the ReLU that came before it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(super().forward(x))


def rewrite_for_training(model: nn.Module) -> None:
    """Every plain Dropout becomes a SameMaskDropout, every ReLU right before a max-pool moves after it (in place)."""
    for parent in list(model.modules()):
        children = list(parent.named_children())
        for name, child in children:
            if type(child) is nn.Dropout:
                setattr(parent, name, SameMaskDropout(child.p, child.inplace).train(child.training))
        if not isinstance(parent, nn.Sequential):
            continue  # only a Sequential says that one layer's output is the next one's only input
        for (relu_name, relu), (pool_name, pool) in pairwise(children):
            if type(relu) is nn.ReLU and type(pool) is nn.MaxPool2d and not pool.return_indices:
                setattr(parent, relu_name, DeferredReLU().train(relu.training))
                setattr(parent, pool_name, PoolThenReLU(pool.kernel_size, pool.stride, pool.padding, pool.dilation,
                                                        ceil_mode=pool.ceil_mode).train(pool.training))


@functools.cache
def draws_agree() -> bool:
    """Whether bernoulli_(q) and rand() < q draw the same mask and use the generator alike, in this torch."""
    with torch.random.fork_rng(devices=[]):
        masks, states = [], []
        for draw in (lambda q: torch.empty(8192, dtype=torch.bfloat16).bernoulli_(q).bool(),
                     lambda q: torch.rand(8192, dtype=torch.float64) < q):
            torch.manual_seed(20261130)
            masks.append(torch.cat([draw(0.5), draw(0.3)]))
            states.append(torch.get_rng_state())
    return torch.equal(*masks) and torch.equal(*states)
