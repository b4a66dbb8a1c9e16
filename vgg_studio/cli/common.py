"""Argument handling the headless commands share: picking an architecture and reporting bad input."""

from __future__ import annotations

import argparse
import sys

from ..spec import HEAD_HELP, HEADS, KERNEL_SIZES, PRESET_NAMES, ArchSpec, Block, SpecError, load, preset, validate

# Exit statuses of every vgg-studio command (the window's too).
EXIT_OK = 0
EXIT_FAILED = 1  # the work itself failed: a run diverged, ran out of memory or could not write its files
EXIT_USAGE = 2  # bad input: a flag, a file or missing data; argparse uses 2 as well
EXIT_STOPPED = 130  # stopped with Ctrl-C, as a shell reports SIGINT, so `train && next` does not go on
# Network-wide fields the flags of `add_arch_args` override (--kernel-size is per block, applied on top).
ARCH_OVERRIDES = ("input_size", "in_channels", "ratio", "num_classes", "head", "batch_norm")


def add_arch_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """--preset/--arch plus the overrides d2l's chapter varies (input size, ratio, ...)."""
    source = parser.add_mutually_exclusive_group(required=required)
    source.add_argument("--preset", choices=PRESET_NAMES, metavar="NAME",
                        help=f"a built-in architecture: {', '.join(PRESET_NAMES)}")
    source.add_argument("--arch", metavar="FILE.json", help="an architecture file (see save-preset)")
    add_override_args(parser)


def add_override_args(parser: argparse.ArgumentParser) -> None:
    """The overrides d2l's chapter varies, applied on top of whatever architecture was chosen."""
    parser.add_argument("--input-size", "--resize", dest="input_size", type=int, metavar="N",
                        help="input height and width (the data is resized to it when training)")
    parser.add_argument("--in-channels", type=int, metavar="C", help="input channels")
    parser.add_argument("--ratio", type=int, metavar="R", help="divide every block's channels by R (d2l uses 4)")
    parser.add_argument("--classes", dest="num_classes", type=int, metavar="K", help="number of classes")
    parser.add_argument("--head", choices=HEADS, help="what follows the blocks (default fc): " + "; ".join(
        f"{key}: {text}" for key, text in HEAD_HELP.items()))
    parser.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=None,
                        help="BatchNorm after every conv (Conv -> BatchNorm -> ReLU, torchvision's vgg*_bn)")
    parser.add_argument("--kernel-size", metavar="K[,K...]", type=_kernel_sizes,
                        help="conv kernel size: one odd size for every block, or one per block (e.g. 3,3,5,5,5)")


def _kernel_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, not {text!r}") from None
    if any(k not in KERNEL_SIZES for k in sizes):
        raise argparse.ArgumentTypeError(f"kernel sizes must be odd, from {KERNEL_SIZES[0]} to {KERNEL_SIZES[-1]} "
                                         f"(got {text})")
    return sizes


def _with_kernels(spec: ArchSpec, sizes: tuple[int, ...]) -> ArchSpec:
    if len(sizes) == 1:
        sizes *= len(spec.blocks)
    if len(sizes) != len(spec.blocks):
        raise SpecError(f"--kernel-size gives {len(sizes)} sizes for {len(spec.blocks)} blocks; give one size "
                        f"for all blocks or one per block.")
    return spec.replace(blocks=tuple(Block(b.num_convs, b.out_channels, k) for b, k in zip(spec.blocks, sizes)))


def spec_from_args(args: argparse.Namespace) -> ArchSpec:
    """The spec the flags describe; raises SpecError (with every problem) when it cannot be built."""
    spec = preset(args.preset) if args.preset else load(args.arch) if args.arch else preset("vgg11")
    return apply_overrides(spec, args)


def apply_overrides(spec: ArchSpec, args: argparse.Namespace) -> ArchSpec:
    """`spec` with the override flags applied; raises SpecError (with every problem) when it is not valid."""
    overrides = {k: getattr(args, k) for k in ARCH_OVERRIDES if getattr(args, k, None) is not None}
    spec = spec.replace(**overrides)
    if getattr(args, "kernel_size", None) is not None:
        spec = _with_kernels(spec, args.kernel_size)
    errs = [p for p in validate(spec) if p.is_error]
    if errs:
        raise SpecError("the architecture is not valid:\n" + "\n".join(f"  - {p.message}" for p in errs))
    return spec


def fail(message: str) -> int:
    """Report bad input on stderr in argparse's words and return EXIT_USAGE."""
    print(f"vgg-studio: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def warn_problems(spec: ArchSpec) -> None:
    for p in validate(spec):
        if not p.is_error:
            print(f"vgg-studio: warning: {p.message}", file=sys.stderr)
