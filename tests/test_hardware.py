"""The hardware share: the matmul peak probe, its cache, and the share's arithmetic."""

from __future__ import annotations

import json
import time

import torch

from vgg_studio import hardware


def test_probe_measures_a_matmul_rate_close_to_an_independent_timing():
    torch.manual_seed(0)
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(20))
    independent = 2 * 512**3 / best
    # Both are best-of timings on a shared CPU, where one short probe can be preempted throughout: best of three.
    # The probe also tries 1024, which can only be faster.
    measured = max(hardware.probe(torch.device("cpu"), torch.float32, seconds=0.2) for _ in range(3))
    assert measured > 0.3 * independent


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_peak_is_measured_once_and_cached_per_device_and_dtype(tmp_path, monkeypatch):
    tmp_path = tmp_path / "new" / "cache"  # a first run: the cache folder is made
    monkeypatch.setenv("VGG_STUDIO_CACHE", str(tmp_path))
    calls = []
    monkeypatch.setattr(hardware, "probe", lambda device, dtype, seconds=0.3: calls.append(dtype) or 1e12)
    cpu = torch.device("cpu")
    first = hardware.peak(cpu, torch.bfloat16)
    again = hardware.peak(cpu, torch.bfloat16)
    fp32 = hardware.peak(cpu, torch.float32)
    assert calls == [torch.bfloat16, torch.float32]
    assert first == again and first.flops == 1e12 and first.dtype == "bf16" and fp32.dtype == "fp32"
    assert first.label == "this CPU's bf16 peak"
    saved = json.loads((tmp_path / "peak-flops.json").read_text())
    assert len(saved) == 2 and all(key.startswith("cpu:") for key in saved)
    assert any(f"{torch.get_num_threads()} threads | bf16" in key for key in saved)


def test_a_damaged_cache_is_measured_again_and_rewritten(tmp_path, monkeypatch):
    monkeypatch.setenv("VGG_STUDIO_CACHE", str(tmp_path))
    (tmp_path / "peak-flops.json").write_text("{not json")
    monkeypatch.setattr(hardware, "probe", lambda device, dtype, seconds=0.3: 5e11)
    assert hardware.peak(torch.device("cpu"), torch.float32).flops == 5e11
    assert list(json.loads((tmp_path / "peak-flops.json").read_text()).values()) == [5e11]


def test_share_is_three_forward_passes_over_the_peak_and_stays_between_0_and_1():
    achieved = hardware.achieved_flops(forward_flops=2_000_000, examples_per_sec=1000.0)
    assert achieved == 6e9
    assert hardware.share(achieved, 6e10) == 0.1
    assert hardware.share(achieved, 1e9) == 1.0  # a peak probed low on a busy machine: capped
    assert hardware.share(0.0, 1e9) == 0.0 and hardware.share(1e9, 0.0) == 0.0
