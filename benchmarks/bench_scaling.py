"""Scaling of DistributedDataParallel training: examples/sec and epoch time for 1, 2, 4, 8 processes.

On GPUs one process per GPU (NCCL); without GPUs CPU processes with one thread each (Gloo, torchrun's
default OMP_NUM_THREADS=1). Each count runs the real CLI (`vgg-studio train --nproc-per-node N`) in a fresh
process tree and reads the run's own epochs.csv; efficiency = rate(N) / (N * rate(1)).

    python benchmarks/bench_scaling.py [--preset tiny] [--dataset sample] [--epochs 1] [--max-procs 8]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--dataset", default="sample")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--max-procs", type=int, default=8)
    args = ap.parse_args()
    gpus = torch.cuda.device_count()
    device, limit = ("cuda", gpus) if gpus else ("cpu", os.cpu_count() or 1)
    counts = [n for n in (1, 2, 4, 8) if n <= min(limit, args.max_procs) and args.batch_size % n == 0]
    print(f"# {device}: {gpus or os.cpu_count()} {'GPUs' if gpus else 'CPU cores'}, load {os.getloadavg()[0]:.1f}")
    print("processes  examples/sec  epoch s  efficiency")
    base = None
    for n in counts:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "run")
            cmd = [sys.executable, "-m", "vgg_studio", "train", "--preset", args.preset, "--dataset", args.dataset,
                   "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--device", device,
                   "--out", out] + (["--nproc-per-node", str(n)] if n > 1 else [])
            subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
            with open(os.path.join(out, "epochs.csv"), newline="") as fh:
                last = list(csv.DictReader(fh))[-1]
        rate = float(last["examples_per_sec"])
        epoch_s = float(last["elapsed_s"]) / args.epochs
        base = base or rate
        print(f"{n:9d}  {rate:12.1f}  {epoch_s:7.1f}  {rate / (n * base):9.0%}")
    print("command:", " ".join(sys.argv))


if __name__ == "__main__":
    main()
