"""`vgg-studio export`: an architecture or a trained run as Python code, ONNX, a torch.export program or weights."""

from __future__ import annotations

import argparse

from ..export import DEFAULT_SUFFIX, FORMATS, ExportError, export, format_for
from ..runs import RunError
from ..spec import SpecError
from ..trained import from_run, from_spec
from .common import add_arch_args, fail, spec_from_args, warn_problems

OVERRIDES = ("input_size", "in_channels", "ratio", "num_classes")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="write a network as chapter-style PyTorch code, ONNX, a torch.export program or weights",
        description="Export an architecture (--preset/--arch, untrained: seeded Xavier init) or a trained run "
                    "(--run, with its weights, class names and normalisation). Formats: python (a .py file in "
                    "the d2l chapter's style that needs only torch; a run's weights go to a .pt beside it), onnx "
                    "(dynamo exporter, dynamic batch), pt2 (torch.export.save), weights (safetensors, or a torch "
                    "file for a .pt/.pth name, with the architecture JSON beside it). onnx and safetensors need "
                    "the optional extra: pip install \"vgg-studio[export]\".")
    add_arch_args(p, required=False)
    p.add_argument("--run", metavar="RUN_DIR", help="a training run folder: export its trained network")
    p.add_argument("--format", choices=FORMATS, help="default: from OUT's suffix (.py, .onnx, .pt2, .safetensors, .pt)")
    p.add_argument("out", metavar="OUT", help="the file to write (its folder must exist)")
    p.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    fmt = args.format or format_for(args.out)
    if fmt is None:
        suffixes = ", ".join(f"{s} ({f})" for f, s in DEFAULT_SUFFIX.items())
        return fail(f"cannot tell the format from {args.out!r}: give --format, or a name ending in {suffixes}.")
    given = [flag for flag, on in (("--preset", args.preset), ("--arch", args.arch), ("--run", args.run)) if on]
    if len(given) != 1:
        return fail("choose what to export: one of --preset NAME, --arch FILE.json or --run RUN_DIR"
                    + (f" (got {' and '.join(given)})." if given else "."))
    try:
        if args.run:
            if any(getattr(args, k) is not None for k in OVERRIDES):
                return fail("--run exports the run's own architecture; leave out the architecture overrides.")
            net = from_run(args.run)
        else:
            spec = spec_from_args(args)
            warn_problems(spec)
            net = from_spec(spec, f"preset {args.preset}" if args.preset else f"architecture file {args.arch}")
        result = export(net, fmt, args.out)
    except (SpecError, RunError, ExportError) as exc:
        return fail(str(exc))
    for path in result.files:
        print(f"wrote {path}")
    print(result.description)
    return 0
