"""`vgg-studio predict`: the top classes of a trained run for your own images."""

from __future__ import annotations

import argparse
import math

from ..predict import TOP_K, ImageError, predict, read_image
from ..runs import RunError
from ..trained import from_run
from .common import fail


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="classify image files with a trained run",
        description="Print the most likely classes with their probabilities for each image. Any image Pillow "
                    "reads is converted to the run's channels (grey or RGB), normalised with the run's mean/std "
                    "and resized to its input size (squashed, not cropped), exactly as the training data was.")
    p.add_argument("--run", metavar="RUN_DIR", required=True, help="a training run folder")
    p.add_argument("--top", type=int, default=TOP_K, metavar="K", help=f"classes to print per image (default {TOP_K})")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.set_defaults(func=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    if args.top < 1:
        return fail(f"--top must be at least 1 (got {args.top}).")
    try:
        net = from_run(args.run)
    except RunError as exc:
        return fail(str(exc))
    images, names, status = [], [], 0
    for name in args.images:
        try:
            images.append(read_image(name, net.spec.in_channels))
            names.append(name)
        except ImageError as exc:
            status = fail(str(exc))
    s = net.spec.input_size
    for name, pred in zip(names, predict(net, images, k=args.top)):
        width, height = pred.original_size
        print(f"{name} ({width}x{height} -> {net.spec.in_channels}x{s}x{s}):")
        label_width = max(len(c) for c, _ in pred.top)
        for cls, p in pred.top:  # rounded down, so the printed top-k never add up to more than 1
            print(f"  {cls:<{label_width}}  {math.floor(p * 1000) / 1000:.3f}")
    return status
