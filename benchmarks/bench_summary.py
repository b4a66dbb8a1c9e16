"""Summary latency: `summarize` (meta device + FlopCounterMode) vs d2l's way (a real forward on CPU).

Run: python benchmarks/bench_summary.py [--repeats N]
Prints the median of N cold runs per preset (nothing cached: no summary, layer measurement or built block)
and the ratio to a real forward pass of one image, which is what printing shapes the d2l way costs.
Target: vgg19 at 224x224 well under 50 ms.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from vgg_studio.model import build_model
from vgg_studio.spec import PRESET_NAMES, preset
from vgg_studio.summary import clear_caches, summarize


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up (imports, kernels)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def cold_summary(name: str):
    def run():
        clear_caches()  # the summaries, every layer's measurement and the built blocks
        summarize(preset(name))
    return run


def real_forward(name: str):
    spec = preset(name)
    net = build_model(spec).eval()
    x = torch.randn(1, spec.in_channels, spec.input_size, spec.input_size)

    def run():
        y = x
        with torch.no_grad():
            for layer in net:  # d2l's `for blk in net: X = blk(X); print(...)` loop
                y = layer(y)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--forward-repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    print(f"{'preset':<10} {'summarize (ms)':>15} {'real forward (ms)':>18} {'speed-up':>9}")
    for name in PRESET_NAMES:
        fast = median_ms(cold_summary(name), args.repeats)
        slow = median_ms(real_forward(name), args.forward_repeats)
        print(f"{name:<10} {fast:>15.1f} {slow:>18.1f} {slow / fast:>8.1f}x")
    cached = median_ms(lambda: summarize(preset("vgg19")), args.repeats)
    print(f"vgg19 cached (an undo back to a seen architecture): {cached:.3f} ms")


if __name__ == "__main__":
    main()
