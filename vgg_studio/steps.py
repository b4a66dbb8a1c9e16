"""How the engine runs a training step and an evaluation step: compiled or not, bf16 weights kept or not (no Qt).

- `compile`: through torch.compile. Compiling happens on a step's first full batch and takes a while (tens
  of seconds on a CPU), so the caller is told before it starts. Partial batches (the last of an epoch or
  of the test set) run the plain step: one compiled shape per step, never a second compile for a size that
  occurs once per pass. When compiling fails (no C++ compiler, an unsupported platform or op), both steps
  run uncompiled for the rest of the run and the caller gets one message saying so; a failure after a
  successful compile is a real error and is not hidden.
- `kept_bf16`: bf16 on the CPU without autocast's per-step weight casts (see `precision.py`); the same
  numbers as autocast. Not combined with compile, which fuses those casts itself.
- Uncompiled, the model is rewritten to compute the same numbers sooner (`exact_rewrites.py`: dropout's
  masks drawn faster, each block's ReLU after its pool), and on glibc freed memory stays in the process for
  the next step (`allocator.py`); neither changes a number.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from .allocator import keep_freed_memory
from .exact_rewrites import rewrite_for_training
from .precision import KeptBf16Weights

BACKEND = "inductor"  # torch.compile's default; tests substitute a failing backend

# forward_loss(net, x, y) -> (logits, loss) and predict(net, x) -> logits, where net(x) runs the model
ForwardLoss = Callable[[Callable, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
Predict = Callable[[Callable, torch.Tensor], torch.Tensor]


class Steps:
    """train_step(x, y) -> (out, loss), the optimizer stepped; predict(x) -> logits."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, forward_loss: ForwardLoss,
                 predict: Predict, *, compile: bool, kept_bf16: bool, batch_size: int, eval_batch_size: int,
                 on_compiling: Callable[[str], None], on_fallback: Callable[[str], None],
                 eval_model: nn.Module | None = None) -> None:
        """`eval_model`: what evaluation runs when it is not `model` itself (the module inside DDP's wrapper)."""
        self.model, self.optimizer = model, optimizer
        keep_freed_memory()
        if not compile:  # a compiled graph fuses its own way and draws its own dropout masks
            rewrite_for_training(model)
        self._kept = KeptBf16Weights(model) if kept_bf16 and not compile else None
        net, eval_net = self._kept or model, self._kept or eval_model or model
        self._eager = {"training": lambda x, y: forward_loss(net, x, y), "evaluation": lambda x: predict(eval_net, x)}
        self._sizes = {"training": batch_size, "evaluation": eval_batch_size}
        self._on_compiling, self._on_fallback = on_compiling, on_fallback
        self._compiled: dict[str, Callable] = {}
        self._ready: set[str] = set()
        self.compile_seconds = 0.0  # spent compiling, so examples/sec can leave it out
        self.status = "off"  # off | compiled | failed: <reason>
        if compile:
            try:
                self._compiled = {name: torch.compile(fn, backend=BACKEND) for name, fn in self._eager.items()}
                self.status = "compiled"
            except Exception as exc:  # noqa: BLE001 - e.g. a Python or platform that torch.compile does not support
                self._fail(exc)

    def train_step(self, x: torch.Tensor, y: torch.Tensor,
                   loss_scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero the gradients, forward, backward of loss × loss_scale, optimizer step; returns the unscaled loss."""
        self._zero_grad()
        out, loss = self._forward_backward(x, y, loss_scale)
        if self._kept is not None:
            self._kept.grads_to_float32()
        self.optimizer.step()
        if self._kept is not None:
            self._kept.refresh()
        return out, loss

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        fn = self._choose("evaluation", x)
        if fn is not None:
            try:
                return self._first_call("evaluation", lambda: fn(x))
            except _CompileFailed:
                pass
        return self._eager["evaluation"](x)

    def _zero_grad(self) -> None:
        if self._kept is not None:
            self._kept.zero_grad()  # keeps the float32 gradient buffers, which the next step overwrites
        else:
            self.optimizer.zero_grad(set_to_none=True)

    def _forward_backward(self, x: torch.Tensor, y: torch.Tensor,
                          scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        def backward(loss: torch.Tensor) -> None:
            (loss if scale == 1.0 else loss * scale).backward()
        fn = self._choose("training", x)
        if fn is not None:
            try:
                return self._first_call("training", lambda: fn(x, y), then=lambda r: backward(r[1]))
            except _CompileFailed:
                self._zero_grad()  # a backward that failed half-way may have left gradients behind
        out, loss = self._eager["training"](x, y)
        backward(loss)
        return out, loss

    def _choose(self, name: str, x: torch.Tensor) -> Callable | None:
        fn = self._compiled.get(name)
        return fn if fn is not None and x.shape[0] == self._sizes[name] else None

    def _first_call(self, name: str, call: Callable, then: Callable = lambda result: None):
        if name in self._ready:
            result = call()
            then(result)
            return result
        self._on_compiling(name)
        start = time.perf_counter()
        try:
            result = call()
            then(result)
        except Exception as exc:  # whatever the compiler raised: run uncompiled, say so once
            self._fail(exc)
            raise _CompileFailed from exc
        finally:
            self.compile_seconds += time.perf_counter() - start
        self._ready.add(name)
        return result

    def _fail(self, exc: BaseException) -> None:
        self._compiled = {}
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        self.status = f"failed: {reason}"
        self._on_fallback(f"torch.compile could not compile this network here ({type(exc).__name__}: {reason}); "
                          f"the run goes on uncompiled.")


class _CompileFailed(Exception):
    pass
