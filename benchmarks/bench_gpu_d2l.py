"""d2l's own configuration on a CUDA GPU: d2l-small (VGG-11 widths / 4), 224x224 Fashion-MNIST, batch 128.

d2l prints `2463.7 examples/sec on cuda:0` for this configuration (its timer counts training steps only).
This runs `vgg_studio.engine.train` (bf16 autocast, channels_last, cudnn.benchmark, data on the GPU) for a
fixed number of batches on the full Fashion-MNIST and prints the wall-clock examples/sec and the ratio to
d2l's number; with --reference it also runs the d2l-style pipeline (per-image PIL Resize(224) + ToTensor in a
DataLoader, fp32 train_ch6 loop) on the same GPU for a same-machine ratio.

    python benchmarks/bench_gpu_d2l.py [--batches 200] [--warmup 20] [--repeats 3] [--reference]
        [--raw DIR_WITH_THE_FOUR_GZ_FILES]   # default: ../shared/data/FashionMNIST/raw
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import SHARED_RAW, d2l_workers, engine_rate, prepare_data, reference_rate

from vgg_studio.spec import preset

D2L_EXAMPLES_PER_SEC = 2463.7


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20, help="batches before the clock starts (cudnn autotuning)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--no-amp", dest="amp", action="store_false", help="float32 instead of bf16 autocast")
    parser.add_argument("--reference", action="store_true", help="also time the d2l-style pipeline on this GPU")
    parser.add_argument("--raw", type=Path, default=SHARED_RAW, help="folder with the four Fashion-MNIST .gz files")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench_gpu_d2l: no CUDA GPU visible to torch; nothing to measure.", file=sys.stderr)
        return 2
    spec = preset("d2l-small")  # 224x224, 1 channel, 10 classes
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}")
    print(f"network: d2l-small at {spec.input_size}x{spec.input_size}, batch {args.batch_size}, SGD lr 0.05, "
          f"{'bf16 autocast' if args.amp else 'float32'}, channels_last, cudnn.benchmark")
    with tempfile.TemporaryDirectory(prefix="vgg-bench-gpu-") as tmp:
        root = prepare_data(args.raw, Path(tmp) / "data")
        runs = Path(tmp) / "runs"
        rates, refs = [], []
        for r in range(args.repeats):
            rates.append(engine_rate(spec.input_size, root, runs, args.batch_size, args.warmup, args.batches, seed=r,
                                     device="cuda", spec=spec, amp=args.amp))
            line = f"  repeat {r + 1}: engine {rates[-1]:.1f} examples/sec"
            if args.reference:
                refs.append(reference_rate(spec.input_size, root, args.batch_size, min(args.warmup, 5),
                                           min(args.batches, 50), seed=r, device="cuda", spec=spec))
                line += f", d2l-style reference ({d2l_workers()} workers) {refs[-1]:.1f}"
            print(line, flush=True)
    rate = statistics.median(rates)
    print(f"\n{rate:.1f} examples/sec on cuda:0 (median of {args.repeats} x {args.batches} batches) = "
          f"{rate / D2L_EXAMPLES_PER_SEC:.1f}x d2l's {D2L_EXAMPLES_PER_SEC}")
    if refs:
        ref = statistics.median(refs)
        print(f"d2l-style reference on this GPU: {ref:.1f} examples/sec; engine / reference = {rate / ref:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
