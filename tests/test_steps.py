"""The engine's steps: --compile with a clean fallback where compiling fails, and bf16 weights kept between steps.

Inductor itself takes minutes on a shared 2-core CPU, so these tests use dynamo's own "eager" backend (traced,
not code-generated) and a backend that fails; the benchmarks run inductor (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sample_subset import sample_subset
from vgg_studio import engine, steps, training_data
from vgg_studio.events import Compiling, EpochEnd, Finished, Notice
from vgg_studio.model import build_initialized
from vgg_studio.spec import preset
from vgg_studio.train_config import TrainConfig


@pytest.fixture
def sample_300(monkeypatch):
    monkeypatch.setattr(training_data, "load_dataset", lambda name, data_dir=None, device="cpu", download=True:
                        sample_subset(300, 100).to(device))


def _broken_backend(graph_module, example_inputs):
    raise RuntimeError("no C++ compiler here (a test's stand-in for a failing compiler)")


def _run(tmp_path, **config):
    events: list = []
    config = TrainConfig(**{"dataset": "sample", "device": "cpu", "epochs": 2, "batch_size": 50,
                            "points_per_epoch": 2, **config})
    result = engine.train(preset("tiny"), config, on_event=events.append, runs_root=tmp_path)
    return result, events


def test_a_failing_compiler_trains_uncompiled_with_one_warning(tmp_path, sample_300, monkeypatch):
    plain, plain_events = _run(tmp_path / "plain")
    monkeypatch.setattr(steps, "BACKEND", _broken_backend)
    torch._dynamo.reset()
    result, events = _run(tmp_path / "compiled", compile=True)
    assert isinstance(result, Finished) and not result.cancelled and result.epochs_done == 2, result
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 1
    assert notices[0].message.startswith("torch.compile could not compile this network here (BackendCompilerFailed")
    assert "no C++ compiler here" in notices[0].message and "the run goes on uncompiled" in notices[0].message
    assert [e.step for e in events if isinstance(e, Compiling)] == ["training"]  # never tried again
    # Uncompiled, it is the plain run: same seed, same numbers.
    ends = [(e.train_loss, e.test_acc) for e in events if isinstance(e, EpochEnd)]
    assert ends == [(e.train_loss, e.test_acc) for e in plain_events if isinstance(e, EpochEnd)]
    assert result.test_acc == plain.test_acc
    meta = json.loads((Path(result.run_dir) / "run.json").read_text())
    assert meta["compile"].startswith("failed: ") and "no C++ compiler here" in meta["compile"]


def test_compiled_steps_serve_full_batches_and_say_when_they_compile(sample_300, tmp_path, monkeypatch):
    monkeypatch.setattr(steps, "BACKEND", "eager")  # dynamo traces, nothing is code-generated
    torch._dynamo.reset()
    result, events = _run(tmp_path, compile=True, batch_size=40)  # 300 = 7 x 40 + 20: a partial batch
    assert isinstance(result, Finished) and result.test_acc > 0.3, result
    assert [e.step for e in events if isinstance(e, Compiling)] == ["training", "evaluation"]
    assert not any(isinstance(e, Notice) for e in events)
    meta = json.loads((Path(result.run_dir) / "run.json").read_text())
    assert meta["compile"] == "compiled" and meta["compile_s"] > 0


def _forward_loss(net, x, y):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
        return out, torch.nn.functional.cross_entropy(out, y)


def _predict(net, x):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return net(x)


def _steps(model, optimizer, **options) -> steps.Steps:
    options = {"compile": False, "kept_bf16": False, "batch_size": 4, "eval_batch_size": 8,
               "on_compiling": lambda step: None, "on_fallback": pytest.fail, **options}
    return steps.Steps(model, optimizer, _forward_loss, _predict, **options)


def test_steps_use_the_compiled_function_for_full_batches_only(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "compile", lambda fn, backend: lambda *a: calls.append(a[0].shape[0]) or fn(*a))
    model = torch.nn.Linear(3, 2)
    compiling: list[str] = []
    stepper = _steps(model, torch.optim.SGD(model.parameters(), lr=0.1), compile=True,
                     on_compiling=compiling.append)
    for n in (4, 4, 3):
        stepper.train_step(torch.randn(n, 3), torch.zeros(n, dtype=torch.long))
    for n in (8, 5):
        stepper.predict(torch.randn(n, 3))
    assert calls == [4, 4, 8] and compiling == ["training", "evaluation"] and stepper.status == "compiled"


def test_kept_bf16_weights_train_exactly_as_autocast_does():
    """Same roundings in the same places: the losses and the float32 weights agree bit for bit."""
    spec = preset("tiny").replace(ratio=4, in_channels=1, num_classes=10)
    data = sample_subset(64, 16)
    runs = []
    for kept in (False, True):
        torch.manual_seed(0)
        model = build_initialized(spec).to(memory_format=torch.channels_last)
        initial = [p.detach().clone() for p in model.parameters()]
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        stepper = _steps(model, optimizer, kept_bf16=kept, batch_size=16, eval_batch_size=16)
        losses = []
        for i in range(4):
            x = data.train.images[16 * i:16 * (i + 1)].float().div(255).to(memory_format=torch.channels_last)
            _, loss = stepper.train_step(x, data.train.labels[16 * i:16 * (i + 1)])
            losses.append(loss.item())
        with torch.inference_mode():
            logits = stepper.predict(data.test.images.float().div(255))
        runs.append((losses, [p.detach().clone() for p in model.parameters()], logits.float()))
    (loss_a, weights_a, logits_a), (loss_b, weights_b, logits_b) = runs
    assert loss_a == loss_b
    assert all(not torch.equal(a, b) for a, b in zip(weights_a, initial))  # every parameter was stepped
    assert all(torch.equal(a, b) and a.dtype == torch.float32 for a, b in zip(weights_a, weights_b))
    assert torch.equal(logits_a, logits_b)
