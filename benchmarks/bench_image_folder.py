"""Image folders: the first read (images/s), the cached read, and training examples/sec by data mode.

Folders are written from the bundled Fashion-MNIST sample by `tests/image_folder_maker.py`: PNG and JPEG,
grey, colour, RGBA and palette images, 3 damaged files. Two folders:
- "small": 10 classes x 500 images with sides of 20-72 pixels (the training measurements use this one);
- "photos": 10 classes x 40 images with sides of 240-480 pixels (what a phone picture resized looks like).

First read: `image_folder.load_image_folder` into an empty data folder (decode, convert, fit to 28x28, write
the cache), against one pass of torchvision's `ImageFolder` + `DataLoader` with the per-image transforms
(Grayscale, Resize, CenterCrop, PILToTensor; workers = cores), which is what the classic pipeline pays in
*every* epoch. Both read the same files, page-cached after the first repeat; the runs alternate.

Training: `engine.train` on the `tiny` preset (input 28, batch 128), stopped through its cancel flag
after warm-up + timed batches (the flag is polled once per batch; see bench_training.Stopwatch), in three
ways, alternating: the folder with `--data-mode resident`, the folder with `--data-mode stream`
(memory-mapped cache, gathered by the prefetch thread), and the same decoded images handed to the engine
as a built-in dataset is (one in-memory tensor). Then full runs of a few epochs in both folder modes with
the same seed, for the accuracy.

    python benchmarks/bench_image_folder.py
    python benchmarks/bench_image_folder.py --repeats 3 --batches 20
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))
from bench_training import Stopwatch  # noqa: E402
from image_folder_maker import make_image_folder  # noqa: E402

from vgg_studio import training_data  # noqa: E402
from vgg_studio.data import Split  # noqa: E402
from vgg_studio.engine import cpu_has_bf16, train  # noqa: E402
from vgg_studio.image_folder import load_image_folder  # noqa: E402
from vgg_studio.spec import preset  # noqa: E402
from vgg_studio.train_config import TrainConfig  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def first_read(root: Path, work: Path, size: int) -> tuple[float, float, int]:
    """(images/s of the first read, seconds of the cached read, images used) with an empty data folder."""
    data_dir = Path(tempfile.mkdtemp(dir=work))
    t0 = time.perf_counter()
    folder = load_image_folder(root, data_dir, channels=1, size=size)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = load_image_folder(root, data_dir, channels=1, size=size)
    cached = time.perf_counter() - t0
    assert again.decoded == 0
    return (len(folder.files) + len(folder.skipped)) / first, cached, len(folder.files)


def torchvision_pass(root: Path, size: int, bad: set[str]) -> float:
    """Images/s of one epoch of torchvision's ImageFolder + DataLoader with per-image transforms."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    trans = transforms.Compose([transforms.Grayscale(), transforms.Resize(size), transforms.CenterCrop(size),
                                transforms.PILToTensor()])
    ds = datasets.ImageFolder(str(root), transform=trans,
                              is_valid_file=lambda p: Path(p).relative_to(root).as_posix() not in bad)
    t0 = time.perf_counter()
    n = sum(len(y) for _, y in DataLoader(ds, batch_size=128, num_workers=os.cpu_count() or 1))
    return n / (time.perf_counter() - t0)


def engine_rate(config: TrainConfig, warmup: int, batches: int, runs: Path, builtin=None) -> float:
    spec = preset("tiny")
    watch = Stopwatch(warmup, batches)
    if builtin is None:
        result = train(spec, config, cancel=watch, runs_root=runs)  # type: ignore[arg-type]
    else:  # the engine's built-in path, given the same images as one in-memory dataset
        original = training_data.load_dataset
        training_data.load_dataset = lambda *a, **k: builtin
        try:
            result = train(spec, config.replace(dataset="sample"), cancel=watch, runs_root=runs)  # type: ignore
        finally:
            training_data.load_dataset = original
    if not watch.stop:
        raise SystemExit(f"the engine did not run {warmup + batches} batches: {result}")
    return batches * config.batch_size / (watch.stop - watch.start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, default=40, help="timed batches per training measurement")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the accuracy runs")
    parser.add_argument("--per-class", type=int, default=500, help="images per class of the small folder (warm-up "
                        "and timed batches must fit in one epoch: the cancel flag is also polled by the test pass)")
    args = parser.parse_args(argv)
    amp = "bf16 autocast" if cpu_has_bf16() else "float32"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads, {amp}), torchvision {torchvision.__version__}, "
          f"python {platform.python_version()}; {load()}")
    with tempfile.TemporaryDirectory(prefix="vgg-bench-folder-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        small = make_image_folder(work / "small", per_class=args.per_class, corrupt=3, seed=1)
        photos = make_image_folder(work / "photos", per_class=40, corrupt=3, seed=2, sides=(240, 480))
        print(f"folders written in {time.perf_counter() - t0:.0f} s: small {small.written} + 3 damaged, "
              f"photos {photos.written} + 3 damaged")

        print("\nfirst read (images/s; cached read in ms), alternating with one torchvision ImageFolder epoch:")
        reads: dict[str, dict[str, list[float]]] = {}
        for r in range(args.repeats):
            for name, made in (("small", small), ("photos", photos)):
                rate, cached, _ = first_read(made.root, work, 28)
                tv = torchvision_pass(made.root, 28, set(made.corrupt))
                row = reads.setdefault(name, {"ours": [], "cached": [], "tv": []})
                row["ours"].append(rate)
                row["cached"].append(cached * 1000)
                row["tv"].append(tv)
                print(f"  {name}, repeat {r + 1}: first read {rate:6.0f}/s, cached {cached * 1000:5.0f} ms, "
                      f"torchvision epoch {tv:6.0f}/s; {load()}", flush=True)

        data_dir = work / "data"
        folder = load_image_folder(small.root, data_dir, channels=1, size=28)
        mapped = folder.as_dataset()
        builtin = dataclasses.replace(mapped, name="sample", train=Split(mapped.train.images.clone(),
                                      mapped.train.labels), test=Split(mapped.test.images.clone(), mapped.test.labels))
        base = TrainConfig(dataset=f"folder:{small.root}", data_dir=str(data_dir), epochs=1, batch_size=128,
                           device="cpu", seed=0)
        runs = work / "runs"
        if args.warmup + args.batches > folder.num_train // 128:
            raise SystemExit(f"{args.warmup} + {args.batches} batches do not fit in one epoch of {folder.num_train} "
                             f"images; raise --per-class")
        rates: dict[str, list[float]] = {"built-in": [], "resident": [], "stream": []}
        print(f"\ntraining ex/s, tiny preset, {len(folder.files)} images ({folder.num_train} train), batch 128, "
              f"{args.warmup} warm-up + {args.batches} timed batches:")
        for r in range(args.repeats):
            order = ["built-in", "resident", "stream"]
            order = order[r % 3:] + order[: r % 3]
            for mode in order:
                if mode == "built-in":
                    rate = engine_rate(base.replace(seed=r), args.warmup, args.batches, runs, builtin=builtin)
                else:
                    rate = engine_rate(base.replace(seed=r, data_mode=mode), args.warmup, args.batches, runs)
                rates[mode].append(rate)
            print(f"  repeat {r + 1}: " + ", ".join(f"{m} {rates[m][-1]:6.0f}" for m in rates) + f"; {load()}",
                  flush=True)

        accuracy = {}
        for mode in ("resident", "stream"):
            result = train(preset("tiny"), base.replace(epochs=args.epochs, data_mode=mode), runs_root=runs)
            accuracy[mode] = (result.test_acc, result.train_loss)
        print(f"\naccuracy after {args.epochs} epochs, seed 0: " + ", ".join(
            f"{m} test acc {a:.4f} (train loss {loss:.4f})" for m, (a, loss) in accuracy.items()))

    print(f"\n{load()}\n")
    print("| folder | first read (images/s) | cached read (ms) | torchvision ImageFolder epoch (images/s) |")
    print("| --- | ---: | ---: | ---: |")
    for name, row in reads.items():
        print(f"| {name} | {statistics.median(row['ours']):.0f} | {statistics.median(row['cached']):.0f} | "
              f"{statistics.median(row['tv']):.0f} |")
    med = {m: statistics.median(v) for m, v in rates.items()}
    print("\n| data | training ex/s (median) | vs resident |")
    print("| --- | ---: | ---: |")
    for m, v in med.items():
        print(f"| {m} | {v:.0f} | {v / med['resident']:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
