"""`vgg-studio sweep`: train variants of an architecture one after another and print them side by side."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING

from ..events import Failed, Finished
from ..spec import SpecError, preset
from ..train_config import TrainConfig
from .common import add_arch_args, fail, spec_from_args
from .common import EXIT_FAILED, EXIT_STOPPED
from .train import Printer, _announce_dataset, _config, _CtrlC, add_config_args

if TYPE_CHECKING:
    from ..sweep import SweepDone


def register(sub: argparse._SubParsersAction) -> None:
    from ..sweep import knob_help

    p = sub.add_parser(
        "sweep", help="train variants of an architecture (one knob over a list of values) and compare them",
        description="Vary one knob over a list of values and train every variant as a normal run, one after "
                    "another, in one sweep folder; then print a table (variant, parameters, GFLOP, train "
                    "examples/sec, test accuracy, wall time). Ctrl-C stops the variant in progress cleanly and "
                    "starts no further one. List the runs with `vgg-studio runs --runs-dir SWEEP_FOLDER`.")
    add_arch_args(p, required=False)
    p.add_argument("--vary", required=True, metavar="KNOB=V1,V2,...",
                   help=f"the knob and its values, e.g. ratio=1,2,4 or block3.channels=128,256. Knobs: {knob_help()}")
    add_config_args(p)
    p.add_argument("--out", metavar="DIR", help="the sweep folder, one run folder per variant inside (default: a "
                   "fresh folder under the runs folder, $VGG_STUDIO_RUNS or ~/.local/share/vgg-studio/runs)")
    p.set_defaults(func=run_sweep_command)


def run_sweep_command(args: argparse.Namespace) -> int:
    from ..runs import RunError
    from ..sweep import SweepError, VariantStarted, parse_vary, run_sweep, variants

    try:
        knob, _ = parse_vary(args.vary)
        if args.preset or args.arch:
            spec = spec_from_args(args)
        elif knob.name in ("preset", "arch"):
            spec = preset("tiny")  # replaced by every variant
        else:
            return fail("choose an architecture: --preset NAME (e.g. --preset tiny) or --arch FILE.json.")
        items = variants(spec, _config(args, TrainConfig()), args.vary)
    except (SweepError, SpecError) as exc:
        return fail(str(exc))
    _announce_dataset(items[0].config)

    printer = Printer()

    def on_event(event) -> None:
        if isinstance(event, VariantStarted):
            print(f"variant {event.index}/{event.count}: {event.label}", file=sys.stderr, flush=True)
        else:
            printer(event)

    cancel = threading.Event()
    try:
        with _CtrlC(cancel):
            done = run_sweep(items, on_event, cancel, out=args.out, knob=knob.name)
    except RunError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        print("vgg-studio: interrupted; finished variants keep their run folders.", file=sys.stderr)
        return EXIT_STOPPED
    sys.stdout.write("\n" + render_table(done))
    print(f"sweep folder: {done.sweep_dir}\nlist its runs: vgg-studio runs --runs-dir {done.sweep_dir}")
    if done.stopped:
        print(f"vgg-studio: sweep stopped on request; {done.not_started} variant"
              f"{'s' if done.not_started != 1 else ''} not started.", file=sys.stderr)
        return EXIT_STOPPED
    failed = [v for v in done.results if isinstance(v.result, Failed)]
    for v in failed:
        print(f"vgg-studio: {v.label} failed: {v.result.message}", file=sys.stderr)
    if any(v.result.kind in ("data", "spec") for v in failed):
        return 2
    return EXIT_FAILED if failed else 0


def render_table(done: SweepDone) -> str:
    from ..runs import RunError, load_run
    from ..summary import summarize
    from ..units import format_duration

    header = ("variant", "parameters", "GFLOP", "train ex/s", "best test acc", "wall time", "status")
    rows = []
    for v in done.results:
        r = v.result
        params = gflop = acc = "-"
        if r.run_dir:
            try:
                record = load_run(r.run_dir)
                params = f"{record.info.params:,}"
                gflop = f"{summarize(record.spec).total_flops / 1e9:.3f}"
                best = record.info.best_test_acc  # as `vgg-studio runs` and the chart show it
                acc = "-" if best is None else f"{best:.3f}"
            except (RunError, SpecError):
                pass
        if isinstance(r, Finished):
            speed = f"{r.examples_per_sec:,.1f}" if r.examples_per_sec else "-"
            status = "stopped" if r.cancelled else "finished"
        else:
            speed, status = "-", f"failed ({r.kind})"
        rows.append((v.label, params, gflop, speed, acc, format_duration(v.wall_s), status))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    left = {0, 6}

    def line(row) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(header), *map(line, rows)]) + "\n"
