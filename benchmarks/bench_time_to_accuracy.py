"""Time to accuracy on the full Fashion-MNIST: d2l's loop against the engine's recipes, whole processes (issue 16).

What a learner waits for is the moment the test accuracy says "good", so each run here is a whole process,
started by this script: imports, data loading, every training step and every epoch's test pass count. The
script reads the run's epoch lines as they are printed and notes the wall-clock time of the first one whose
test accuracy reaches the target; a run that needs no more epochs is then stopped (Ctrl-C, as a user would).

- reference: d2l's `train_ch6` as `bench_training.D2LLoop` runs it (per-image PIL transforms in a DataLoader,
  float32, SGD lr 0.05, batch 128), with d2l's `evaluate_accuracy_gpu` after every epoch;
- d2l: `vgg-studio train --recipe d2l` (the engine with d2l's recipe: its default);
- fast: `vgg-studio train --recipe fast`, all of its epochs (the 3-epoch accuracy is part of the result);
- fast-compile: the same with `--compile`.

The variants take turns in every round (reference, d2l, fast, fast-compile, then again), so a busy spell of a
shared machine hits all of them; the table gives medians over the rounds and every run's numbers.

    python benchmarks/bench_time_to_accuracy.py                        # tiny at 28 px, target 0.90, 3 rounds
    python benchmarks/bench_time_to_accuracy.py --variants fast --rounds 1
    python benchmarks/bench_time_to_accuracy.py --reference-child ...  # (internal: one reference run)
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import SHARED_RAW, D2LLoop, d2l_data, d2l_workers, prepare_data

REPO = Path(__file__).resolve().parent.parent
EPOCH_LINE = re.compile(r"^epoch (\d+)(?:/\d+)?: .*test acc ([0-9.]+)")
VARIANTS = ("reference", "d2l", "fast", "fast-compile")


@dataclass
class Run:
    """One whole-process run: test accuracy by epoch and when each epoch line appeared."""

    variant: str
    accs: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # seconds since the process was started
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after

    def time_to(self, target: float) -> float | None:
        return next((t for t, a in zip(self.times, self.accs) if a >= target), None)


def run_to_target(command: list[str], variant: str, target: float, stop_at_target: bool,
                  env: dict[str, str] | None = None) -> Run:
    """Start `command`, read its epoch lines, stop it (SIGINT) once `target` is reached if asked."""
    run = Run(variant, load=(os.getloadavg()[0], 0.0))
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                            cwd=REPO)
    assert proc.stdout is not None
    for line in proc.stdout:
        match = EPOCH_LINE.match(line)
        if not match:
            continue
        run.times.append(time.perf_counter() - start)
        run.accs.append(float(match.group(2)))
        print(f"    {variant}: epoch {match.group(1)} test acc {run.accs[-1]:.4f} at {run.times[-1]:.1f} s",
              flush=True)
        if stop_at_target and run.accs[-1] >= target:
            proc.send_signal(signal.SIGINT)
            break
    proc.stdout.close()
    proc.wait()
    run.load = (run.load[0], os.getloadavg()[0])
    return run


def engine_command(root: Path, out: Path, preset: str, size: int, recipe: str, epochs: int | None,
                   extra: tuple[str, ...] = (), device: str = "cpu") -> list[str]:
    command = [sys.executable, "-m", "vgg_studio", "train", "--preset", preset, "--input-size", str(size),
               "--dataset", "fashion-mnist", "--data-dir", str(root), "--device", device, "--recipe", recipe,
               "--out", str(out), *extra]
    return command + (["--epochs", str(epochs)] if epochs else [])


def reference_command(root: Path, preset: str, size: int, epochs: int, extra: tuple[str, ...] = (),
                      device: str = "cpu") -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--reference-child", "--root", str(root), "--preset",
            preset, "--size", str(size), "--max-epochs", str(epochs), "--device", device, *extra]


def reference_child(args: argparse.Namespace) -> int:
    """d2l's train_ch6 for `--max-epochs` epochs, printing the test accuracy after each (the engine's line format)."""
    import torch

    from vgg_studio.spec import preset

    torch.manual_seed(args.seed)
    spec = preset(args.preset).replace(input_size=args.size, in_channels=1, num_classes=10)
    if args.ratio:
        spec = spec.replace(ratio=args.ratio)
    train_iter = d2l_data(args.root, args.batch_size, args.size, train=True)
    test_iter = d2l_data(args.root, args.batch_size, args.size, train=False)
    loop = D2LLoop(spec, args.device)
    for epoch in range(1, args.max_epochs + 1):
        loop.epoch(train_iter)
        print(f"epoch {epoch}/{args.max_epochs}: test acc {loop.evaluate(test_iter):.4f}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--target", type=float, default=0.90)
    parser.add_argument("--max-epochs", type=int, default=20, help="for the reference and d2l runs")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for every run (default: torch's choice)")
    parser.add_argument("--raw", type=Path, default=SHARED_RAW, help="folder with the four Fashion-MNIST .gz files")
    # The reference child (one run of d2l's loop), started by the parent:
    parser.add_argument("--reference-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ratio", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=128, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reference_child:
        return reference_child(args)

    import torch

    env = dict(os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}"
          f"; python {platform.python_version()}; threads per run: {args.threads or 'torch default'}; "
          f"reference DataLoader workers: {d2l_workers()}")
    print(f"{args.preset} at {args.size} px on the full Fashion-MNIST; target test acc {args.target}; "
          f"load average at start {os.getloadavg()}")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="vgg-bench-tta-") as tmp:
        root = prepare_data(args.raw, Path(tmp) / "data")
        for r in range(args.rounds):
            for variant in args.variants:
                out = Path(tmp) / f"run-{r}-{variant}"
                if variant == "reference":
                    command = reference_command(root, args.preset, args.size, args.max_epochs)
                elif variant == "d2l":
                    command = engine_command(root, out, args.preset, args.size, "d2l", args.max_epochs)
                else:
                    extra = ("--compile",) if variant == "fast-compile" else ()
                    command = engine_command(root, out, args.preset, args.size, "fast", None, extra)
                print(f"round {r + 1}, {variant} (load {os.getloadavg()[0]:.1f}):", flush=True)
                runs.append(run_to_target(command, variant, args.target, stop_at_target=not variant.startswith(
                    "fast"), env=env))
    print_table(runs, args.variants, args.target)
    return 0


def print_table(runs: list[Run], variants: list[str], target: float) -> None:
    print(f"\n| variant | time to {target:.2f} (median) | each run (s) | test acc at epoch 3 | best test acc "
          "(epochs run) | load before/after |")
    print("| --- | ---: | --- | --- | --- | --- |")
    reached: dict[str, float] = {}
    for variant in variants:
        mine = [r for r in runs if r.variant == variant]
        times = [r.time_to(target) for r in mine]
        done = [t for t in times if t is not None]
        if done and len(done) == len(times):
            reached[variant] = statistics.median(done)
        median = f"{reached[variant]:.0f} s" if variant in reached else f"not reached in {len(done)}/{len(times)}"
        each = ", ".join("-" if t is None else f"{t:.0f}" for t in times)
        at3 = ", ".join(f"{r.accs[2]:.4f}" if len(r.accs) >= 3 else "-" for r in mine)
        best = ", ".join(f"{max(r.accs):.4f} ({len(r.accs)})" if r.accs else "-" for r in mine)
        loads = ", ".join(f"{r.load[0]:.1f}/{r.load[1]:.1f}" for r in mine)
        print(f"| {variant} | {median} | {each} | {at3} | {best} | {loads} |")
    if "reference" in reached:
        for variant, seconds in reached.items():
            if variant != "reference":
                print(f"{variant}: {reached['reference'] / seconds:.1f}x faster to {target:.2f} than the reference")


if __name__ == "__main__":
    sys.exit(main())
