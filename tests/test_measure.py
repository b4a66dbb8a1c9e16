"""Measuring without training: throughput, memory counted against independent sums, storage, the probe, the CLI."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest
import torch

from vgg_studio import cli, measure
from vgg_studio.measure import MeasureCancelled, Measurement, find_measurement, load_measurements
from vgg_studio.spec import preset
from vgg_studio.summary import summarize
from vgg_studio.train_config import TrainConfig

TINY = preset("tiny").replace(input_size=16)  # two blocks: 16 -> 8 -> 4
CPU = TrainConfig(device="cpu", batch_size=8)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("VGG_STUDIO_MEASUREMENTS", str(tmp_path / "measurements.json"))


@pytest.fixture(scope="module")
def tiny_fp32() -> Measurement:
    return measure.measure(TINY, CPU.replace(amp=False), budget_s=0.3, store=False)


def test_fields_and_shares(tiny_fp32):
    m = tiny_fp32
    assert m.device == "cpu" and m.dtype == "float32" and m.batch_size == 8 and m.optimizer == "sgd"
    assert m.inference_examples_per_sec > m.train_examples_per_sec > 0
    assert [b.name for b in m.blocks] == ["block1", "block2", "classifier"]
    assert sum(b.time_share for b in m.blocks) == pytest.approx(1, abs=1e-9)
    assert all(b.seconds_per_batch > 0 for b in m.blocks)
    s = summarize(TINY)
    assert [b.flop_share for b in m.blocks[:2]] == pytest.approx([b.flops / s.total_flops for b in s.blocks])
    assert sum(b.flop_share for b in m.blocks) == pytest.approx(1)
    doc = m.to_dict()
    assert Measurement.from_dict(json.loads(json.dumps(doc))) == m


def test_cpu_memory_is_counted_parts(tiny_fp32):
    """Parameters and gradients are exact; the saved activations match a hand count for this small net."""
    m = tiny_fp32
    s = summarize(TINY)
    assert m.memory_parts["params"] == m.memory_parts["grads"] == 4 * s.total_params
    assert m.memory_parts["optimizer"] == 0  # plain SGD keeps no state
    assert m.peak_memory_bytes == sum(m.memory_parts.values())
    # What autograd keeps for backward at batch 8 in float32, each storage once (channels_last changes no size):
    f32, i64, b = 4, 8, 8
    saved = [
        (1 * 16 * 16, f32),  # the input, for block1.conv1
        (32 * 16 * 16, f32),  # block1's ReLU output, also the pool's input
        (32 * 8 * 8, f32 + i64),  # block1's pool output (block2.conv1's input) and the pool's indices
        (64 * 8 * 8 * 2, f32),  # block2's two ReLU outputs (conv2's input, the pool's input)
        (64 * 4 * 4, f32 + i64),  # block2's pool output (fc1's input through a Flatten view) and indices
        (256 * 2, f32),  # fc1's ReLU output (the dropout's input) and the dropout's output (fc2's input)
        (256, 1),  # the dropout mask (bool; some builds keep it as float: within the tolerance)
        (10, f32), (1, i64),  # cross-entropy: log-softmax output and the targets
    ]
    expected = sum(n * size for n, size in saved) * b
    assert m.memory_parts["saved_for_backward"] == pytest.approx(expected, rel=0.02)
    assert 0.5 < m.peak_memory_bytes / m.predicted_memory_bytes < 2


def test_adam_state_is_two_copies():
    m = measure.measure(TINY, CPU.replace(optimizer="adam", amp=False), budget_s=0.1, store=False)
    assert m.memory_parts["optimizer"] >= 2 * m.memory_parts["params"]  # exp_avg, exp_avg_sq (+ step counters)
    assert m.memory_parts["optimizer"] < 2 * m.memory_parts["params"] + 1024


def test_stored_by_key_and_found(tiny_fp32):
    m = tiny_fp32
    measure.save_measurement(m)
    assert find_measurement(TINY, "cpu", 8, "float32") == m
    assert find_measurement(TINY.replace(name="renamed"), "cpu", 8, "float32") == m  # same layers, same key
    assert find_measurement(TINY, "cpu", 16, "float32") is None
    assert find_measurement(TINY, "cpu", 8, "bfloat16") is None
    assert find_measurement(TINY.replace(ratio=2), "cpu", 8, "float32") is None
    m2 = dataclasses.replace(m, batch_size=4, train_examples_per_sec=1.0)
    measure.save_measurement(m2)
    measure.save_measurement(dataclasses.replace(m2, train_examples_per_sec=2.0))  # replaces the same key
    assert sorted(x.batch_size for x in load_measurements()) == [4, 8]
    assert find_measurement(TINY, "cpu", 4, "float32").train_examples_per_sec == 2.0


def test_damaged_file_reads_as_empty_and_is_replaced(tmp_path, tiny_fp32):
    (tmp_path / "measurements.json").write_text("{ not json")
    assert load_measurements() == []
    measure.save_measurement(tiny_fp32)
    assert load_measurements() == [tiny_fp32]


def test_cancel_stores_nothing():
    cancel = threading.Event()
    seen = []

    def progress(fraction, text):
        seen.append(text)
        if fraction >= 0.4:
            cancel.set()

    with pytest.raises(MeasureCancelled):
        measure.measure(TINY, CPU, budget_s=0.2, on_progress=progress, cancel=cancel)
    assert seen[0] == "setting up" and load_measurements() == []


def test_cli_json(capsys):
    code = cli.main(["measure", "--preset", "tiny", "--input-size", "16", "--batch-size", "8", "--device", "cpu",
                     "--seconds", "0.2", "--format", "json", "--no-save", "--no-amp"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    for key in ("train_examples_per_sec", "inference_examples_per_sec", "peak_memory_bytes",
                "predicted_memory_bytes", "device", "dtype"):
        assert key in doc
    assert abs(sum(b["time_share"] for b in doc["blocks"]) - 1) < 0.01
    assert all("flop_share" in b for b in doc["blocks"])
    assert load_measurements() == []  # --no-save


def test_cli_table_and_store(capsys):
    """Without --no-amp the step autocasts to bf16 where the CPU computes it natively, as training does."""
    from vgg_studio.engine import cpu_has_bf16

    code = cli.main(["measure", "--preset", "tiny", "--input-size", "16", "--batch-size", "8", "--device", "cpu",
                     "--seconds", "0.1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    dtype = "bfloat16" if cpu_has_bf16() else "float32"
    assert out.startswith("tiny on cpu (") and f"batch 8, {dtype}, sgd" in out.splitlines()[0]
    assert "predicted by the summary" in out and "classifier" in out
    assert len(load_measurements()) == 1


@pytest.mark.parametrize("args, words", [
    (["--preset", "tiny", "--batch-size", "0"], "Batch size"),
    (["--preset", "tiny", "--input-size", "2"], "0x0"),
    (["--preset", "tiny", "--seconds", "0"], "--seconds"),
    (["--arch", "missing.json"], "No such architecture file"),
])
def test_cli_bad_input_exits_2(capsys, args, words):
    assert cli.main(["measure", *args]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cli_missing_device_exits_2(capsys):
    assert cli.main(["measure", "--preset", "tiny", "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
