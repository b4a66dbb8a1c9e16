"""bf16 training on the CPU with the weights' bf16 copies kept between steps (no Qt).

Under autocast every step casts every float32 weight to bf16 afresh, and backward casts every bf16 weight
gradient back to a fresh float32 tensor. On a CPU that is memory traffic plus fresh allocations: blocks of
32 MB and more come straight from the kernel (glibc hands them back on free), so each step also pays for
page faults and the kernel zeroing those pages. For nets whose weights are large next to their activations
(VGG's 4096-wide classifier at small inputs: 16.8 M weights in one Linear) that is most of a step.

Here the float32 weights stay the model's (the optimizer, checkpoints and final.pt see nothing new); a bf16
copy of each conv and linear weight and bias is kept and refreshed in place after each optimizer step, the
forward runs on those copies (under autocast, which then has nothing left to cast but the activations),
and their gradients are copied into float32 gradient buffers that live for the whole run. The values are
the ones autocast computes (the same roundings, in the same places), without the allocations.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call


class KeptBf16Weights:
    """bf16 copies of a model's conv and linear parameters, kept in step with the float32 ones."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._pairs: list[tuple[torch.Tensor, torch.Tensor]] = []  # (float32 parameter, its bf16 copy)
        self._copies: dict[str, torch.Tensor] = {}
        kept: set[int] = set()
        for module_name, module in model.named_modules():
            if not isinstance(module, (nn.Conv2d, nn.Linear)):
                continue  # autocast leaves the others in float32 (e.g. BatchNorm), and so do we
            for name, param in module.named_parameters(recurse=False):
                copy = param.detach().to(torch.bfloat16).requires_grad_(param.requires_grad)
                self._pairs.append((param, copy))
                kept.add(id(param))
                self._copies[f"{module_name}.{name}" if module_name else name] = copy
        # The others (BatchNorm's scale and shift) train as they are: their gradients land on them directly
        self._others = [p for p in model.parameters() if id(p) not in kept]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.model, self._copies, (x,), strict=False)

    def zero_grad(self) -> None:
        for _, copy in self._pairs:
            copy.grad = None
        for param in self._others:
            param.grad = None

    def grads_to_float32(self) -> None:
        """Each bf16 gradient into its parameter's float32 gradient buffer (made once, then reused)."""
        for param, copy in self._pairs:
            if copy.grad is None:
                param.grad = None
                continue
            if param.grad is None:
                param.grad = torch.empty_like(param)
            param.grad.copy_(copy.grad)
            copy.grad = None

    @torch.no_grad()
    def refresh(self) -> None:
        """After the optimizer step: the bf16 copies take the updated float32 values (rounded as autocast does)."""
        for param, copy in self._pairs:
            copy.copy_(param)
