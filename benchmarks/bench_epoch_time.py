"""One epoch of `vgg11 --ratio 8` on the full Fashion-MNIST, whole processes: the engine against d2l's loop.

Each measurement is the wall clock of a whole process, from its start to its exit: imports, data loading,
one epoch of training, the test pass, and (for the engine) writing the run folder. The engine is
`vgg-studio train --preset vgg11 --ratio 8 --input-size N --epochs 1` with its defaults (the d2l recipe, not
compiled); the reference is d2l's `train_ch6` for one epoch with its test pass (`bench_time_to_accuracy`'s
reference child: `bench_training.D2LLoop` over per-image PIL transforms in a DataLoader, float32). Runs
alternate (reference, engine, reference, ...) and the medians are compared.

`--profile` runs the engine in this process instead and says where its time goes: start-up (imports,
measured in a fresh process), loading the data and building the run, training steps by kind of operation
(torch.profiler over a few batches), the test pass, and writing the run folder.

    python benchmarks/bench_epoch_time.py                       # 32 and 64 px, 3 rounds
    python benchmarks/bench_epoch_time.py --sizes 32 --rounds 1
    python benchmarks/bench_epoch_time.py --profile --sizes 32 64
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_time_to_accuracy import REPO, engine_command, reference_command
from bench_training import SHARED_RAW, d2l_workers, prepare_data

PRESET, RATIO = "vgg11", 8


def wall(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def compare(args: argparse.Namespace, root: Path, tmp: Path, env: dict[str, str]) -> None:
    rows = []
    for size in args.sizes:
        ref, eng = [], []
        for r in range(args.rounds):
            load = os.getloadavg()[0]
            ref.append(wall(reference_command(root, PRESET, size, 1, ("--ratio", str(RATIO))), env))
            out = tmp / f"run-{size}-{r}"
            eng.append(wall(engine_command(root, out, PRESET, size, "d2l", 1, ("--ratio", str(RATIO))), env))
            print(f"  {size} px, round {r + 1}: reference {ref[-1]:.1f} s, engine {eng[-1]:.1f} s "
                  f"({ref[-1] / eng[-1]:.2f}x); load {load:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)
        rows.append((size, ref, eng))
    print("\n| input | d2l reference, one epoch (s) | engine, one epoch (s) | speed-up (medians) "
          "| runs (ref / engine) |")
    print("| ---: | ---: | ---: | ---: | --- |")
    for size, ref, eng in rows:
        pairs = ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(ref, eng))
        print(f"| {size} px | {statistics.median(ref):.1f} | {statistics.median(eng):.1f} | "
              f"**{statistics.median(ref) / statistics.median(eng):.2f}x** | {pairs} |")


CATEGORIES = (  # torch.profiler op name -> what it is, first match wins
    ("convolution_backward", "convolution backward"), ("convolution", "convolution forward"),
    ("mkldnn_convolution", "convolution forward"), ("addmm", "linear (matmul)"), ("aten::mm", "linear (matmul)"),
    ("copy_", "dtype casts and copies"), ("to_copy", "dtype casts and copies"),
    ("bernoulli", "dropout"), ("dropout", "dropout"), ("max_pool", "max-pool"), ("threshold", "ReLU"),
    ("relu", "ReLU"), ("clamp", "ReLU"), ("Optimizer", "optimizer step and zero_grad"),
    ("add_", "optimizer step and zero_grad"), ("upsample", "batch preparation (index, resize, normalise)"),
    ("index", "batch preparation (index, resize, normalise)"), ("mul_", "batch preparation (index, resize, normalise)"),
    ("log_softmax", "loss"), ("nll_loss", "loss"),
)


class ProfiledBatches:
    """The engine's cancel flag (polled once per batch): profiles `count` batches after 2, then stops the run."""

    def __init__(self, prof, count: int) -> None:
        self.prof, self.count, self.calls = prof, count, 0

    def is_set(self) -> bool:
        self.calls += 1
        if self.calls == 3:
            self.prof.__enter__()
        if self.calls == 3 + self.count:
            self.prof.__exit__(None, None, None)
            return True
        return False

    def set(self) -> None:
        pass


def profile(args: argparse.Namespace, root: Path, tmp: Path) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from vgg_studio import engine
    from vgg_studio.events import BatchProgress, EpochEnd, RunStarted
    from vgg_studio.spec import preset
    from vgg_studio.train_config import TrainConfig

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import vgg_studio.cli, vgg_studio.engine"], check=True, cwd=REPO)
    imports = time.perf_counter() - start
    for size in args.sizes:
        spec = preset(PRESET).replace(ratio=RATIO, input_size=size)
        config = TrainConfig(dataset="fashion-mnist", data_dir=str(root), epochs=1, device="cpu")
        marks: dict[str, float] = {}
        rate = [0.0]

        def on_event(event, marks=marks, rate=rate):
            now = time.perf_counter()
            if isinstance(event, RunStarted):
                marks["started"] = now
            elif isinstance(event, BatchProgress):
                marks["last progress"] = now
            elif isinstance(event, EpochEnd):
                marks["epoch end"] = now
                rate[0] = event.examples_per_sec

        t0 = time.perf_counter()
        result = engine.train(spec, config, on_event=on_event, run_dir=tmp / f"profile-{size}")
        t_end = time.perf_counter()
        train_s = 60_000 / rate[0]
        setup = marks["started"] - t0
        after = marks["epoch end"] - marks["started"] - train_s  # test pass + checkpoint and results
        print(f"\n{size} px, one epoch in this process ({result.examples_per_sec:.0f} ex/s; load "
              f"{os.getloadavg()[0]:.1f}):")
        for name, seconds in (("start-up: imports (fresh process)", imports), ("load data, build model, run folder",
                              setup), ("training steps", train_s), ("test pass + checkpoint + results", after),
                              ("final weights and status", t_end - marks["epoch end"])):
            print(f"  {name:40s} {seconds:7.1f} s")

        prof = torch_profile(activities=[ProfilerActivity.CPU])
        engine.train(spec, config, cancel=ProfiledBatches(prof, args.profile_batches),  # type: ignore[arg-type]
                     run_dir=tmp / f"profile-ops-{size}")
        shares: dict[str, float] = defaultdict(float)
        total = 0.0
        for avg in prof.key_averages():
            if not avg.key.startswith("aten::") and not avg.key.startswith("Optimizer"):
                continue
            total_self = avg.self_cpu_time_total
            total += total_self
            kind = next((label for key, label in CATEGORIES if key in avg.key), "other")
            shares[kind] += total_self
        print(f"  training steps by kind (torch.profiler, {args.profile_batches} batches, self CPU time):")
        for kind, t in sorted(shares.items(), key=lambda kv: -kv[1]):
            print(f"    {kind:45s} {100 * t / total:5.1f}%")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for every run (default: torch's choice)")
    parser.add_argument("--profile", action="store_true", help="where the engine's time goes, instead")
    parser.add_argument("--profile-batches", type=int, default=10)
    parser.add_argument("--raw", type=Path, default=SHARED_RAW, help="folder with the four Fashion-MNIST .gz files")
    args = parser.parse_args(argv)
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}))
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}"
          f" with {torch.get_num_threads()} threads; reference DataLoader workers {d2l_workers()}; load average "
          f"{os.getloadavg()}")
    print(f"network: {PRESET} --ratio {RATIO}, batch 128, SGD lr 0.05 (d2l's recipe), one epoch + test pass")
    with tempfile.TemporaryDirectory(prefix="vgg-bench-epoch-") as tmp:
        root = prepare_data(args.raw, Path(tmp) / "data")
        if args.profile:
            profile(args, root, Path(tmp))
        else:
            compare(args, root, Path(tmp), env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
