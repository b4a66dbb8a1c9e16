"""Training throughput: vgg-studio's engine against the same training written the way d2l writes it.

Reference (d2l `load_data_fashion_mnist` + `train_ch6`): torchvision's FashionMNIST dataset with per-image
`transforms.Resize` + `ToTensor` in a DataLoader (shuffle, d2l's 4 workers capped to the cores), and the
plain fp32 loop: net.train(), per batch zero_grad / forward / cross-entropy / backward / SGD step, and
d2l's Accumulator fed with float(l) * X.shape[0] and float(accuracy).

Engine: `vgg_studio.engine.train` itself, stopped through its cancel flag after a fixed number of
batches (the flag is polled once per batch, so it doubles as a stopwatch).

Both use the same network (the `tiny` preset, the CPU-friendly one, at the measured input size), the
same data (the full Fashion-MNIST, gunzipped from ../shared/data into a temporary folder), the same
batch size, seed, learning rate, torch thread count and machine, in one process. Each measurement
is the wall clock of N consecutive batches after a warm-up, repeated and interleaved; medians are printed.

    python benchmarks/bench_training.py                      # resize 28 and 64 on the CPU
    python benchmarks/bench_training.py --sizes 28 --batches 50 --repeats 3
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils import data as tud
from torchvision import transforms

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from vgg_studio.engine import cpu_has_bf16, train
from vgg_studio.model import build_initialized
from vgg_studio.spec import preset
from vgg_studio.train_config import TrainConfig

SHARED_RAW = Path(__file__).resolve().parents[2] / "shared" / "data" / "FashionMNIST" / "raw"


def prepare_data(raw_gz: Path, root: Path) -> Path:
    """torchvision wants the uncompressed IDX files in <root>/FashionMNIST/raw (see SOURCES.md there)."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for gz in sorted(raw_gz.glob("*.gz")):
        with gzip.open(gz, "rb") as src, open(raw / gz.name[:-3], "wb") as dst:
            shutil.copyfileobj(src, dst)
    return root


def d2l_workers() -> int:
    """d2l's get_dataloader_workers() is 4; more processes than cores only slows it down."""
    return min(4, os.cpu_count() or 1)


def reference_rate(size: int, root: Path, batch_size: int, warmup: int, batches: int, seed: int,
                   device: str = "cpu", spec=None) -> float:
    """Examples/sec of d2l's train_ch6 loop over d2l's DataLoader, wall clock of `batches` batches."""
    torch.manual_seed(seed)
    spec = spec or preset("tiny").replace(input_size=size)
    trans = transforms.Compose([transforms.Resize(size), transforms.ToTensor()])
    mnist_train = torchvision.datasets.FashionMNIST(root=str(root), train=True, transform=trans, download=False)
    train_iter = iter(tud.DataLoader(mnist_train, batch_size, shuffle=True, num_workers=d2l_workers()))
    net = build_initialized(spec).to(device)  # Xavier, as d2l's init_weights
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    loss = nn.CrossEntropyLoss()
    metric = [0.0, 0.0, 0.0]  # d2l.Accumulator(3)
    net.train()

    def step(X: torch.Tensor, y: torch.Tensor) -> None:
        optimizer.zero_grad()
        X, y = X.to(device), y.to(device)
        y_hat = net(X)
        batch_loss = loss(y_hat, y)
        batch_loss.backward()
        optimizer.step()
        with torch.no_grad():
            acc = float((y_hat.argmax(axis=1).type(y.dtype) == y).type(y.dtype).sum())  # d2l.accuracy
            metric[:] = [a + float(b) for a, b in zip(metric, (batch_loss * X.shape[0], acc, X.shape[0]))]

    for _ in range(warmup):
        step(*next(train_iter))
    start = time.perf_counter()
    for _ in range(batches):
        step(*next(train_iter))  # float(l) in the Accumulator synchronises every batch, as in d2l
    return batches * batch_size / (time.perf_counter() - start)


class Stopwatch:
    """A cancel flag for the engine that starts a clock after `warmup` batches and stops after `batches` more."""

    def __init__(self, warmup: int, batches: int, sync=lambda: None) -> None:
        self.calls, self.warmup, self.batches, self.sync = 0, warmup, batches, sync
        self.start = self.stop = 0.0

    def is_set(self) -> bool:  # the engine asks before every batch
        self.calls += 1
        if self.calls == self.warmup + 1:
            self.sync()
            self.start = time.perf_counter()
        elif self.calls == self.warmup + self.batches + 1:
            self.sync()
            self.stop = time.perf_counter()
            return True
        return False

    def set(self) -> None:
        pass


def engine_rate(size: int, root: Path, runs: Path, batch_size: int, warmup: int, batches: int, seed: int,
                device: str = "cpu", spec=None, amp: bool = True) -> float:
    """Examples/sec of vgg_studio.engine.train over `batches` batches, wall clock."""
    spec = spec or preset("tiny").replace(input_size=size)
    config = TrainConfig(dataset="fashion-mnist", data_dir=str(root), epochs=1, batch_size=batch_size, lr=0.05,
                         device=device, seed=seed, amp=amp)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    watch = Stopwatch(warmup, batches, sync)
    result = train(spec, config, cancel=watch, runs_root=runs)  # type: ignore[arg-type]
    if not watch.stop:
        raise SystemExit(f"the engine did not run {warmup + batches} batches: {result}")
    return batches * batch_size / (watch.stop - watch.start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 64])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, nargs="+", default=[60, 20],
                        help="timed batches per measurement, one per size (the last repeats)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    parser.add_argument("--raw", type=Path, default=SHARED_RAW, help="folder with the four Fashion-MNIST .gz files")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, torchvision {torchvision.__version__}, "
          f"python {platform.python_version()}")
    print(f"network: tiny preset (blocks (1, 32), (2, 64); hidden 256), batch {args.batch_size}, SGD lr 0.05, "
          f"reference DataLoader workers {d2l_workers()}")
    with tempfile.TemporaryDirectory(prefix="vgg-bench-") as tmp:
        root = prepare_data(args.raw, Path(tmp) / "data")
        runs = Path(tmp) / "runs"
        rows = []
        for k, size in enumerate(args.sizes):
            n = args.batches[min(k, len(args.batches) - 1)]
            ref, eng, fp32 = [], [], []
            for r in range(args.repeats):
                ref.append(reference_rate(size, root, args.batch_size, args.warmup, n, seed=r))
                eng.append(engine_rate(size, root, runs, args.batch_size, args.warmup, n, seed=r))
                fp32.append(engine_rate(size, root, runs, args.batch_size, args.warmup, n, seed=r, amp=False))
                print(f"  resize {size}, repeat {r + 1}: reference {ref[-1]:7.1f}  engine {eng[-1]:7.1f}  "
                      f"engine --no-amp {fp32[-1]:7.1f} examples/sec", flush=True)
            rows.append((size, n, statistics.median(ref), statistics.median(eng), statistics.median(fp32)))
    amp = "bf16 autocast" if cpu_has_bf16() else "float32 (this CPU has no native bf16)"
    print(f"\nengine default on this CPU: {amp}, channels_last; --no-amp: float32, channels_last")
    print("\n| resize | batches timed | d2l reference (ex/s) | engine (ex/s) | ratio "
          "| engine --no-amp (ex/s) | ratio |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, n, ref, eng, fp32 in rows:
        print(f"| {size} | {n} x {args.repeats} | {ref:.1f} | {eng:.1f} | {eng / ref:.2f}x | {fp32:.1f} | "
              f"{fp32 / ref:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
