"""`vgg-studio runs`: list the runs with their accuracy, speed and size, and draw the efficiency chart."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..units import nbytes
from .common import fail


def register(sub: argparse._SubParsersAction) -> None:
    from ..efficiency import SIZES, X_AXES

    p = sub.add_parser(
        "runs", help="list runs (accuracy, speed, size) and draw the accuracy-vs-speed chart",
        description="List the runs in the runs folder and in its sweep folders, newest first, with their best "
                    "test accuracy, training and inference examples/sec, parameters, FLOPs and training memory; "
                    "mark the Pareto front (runs no other run beats on both speed and accuracy); and with "
                    "--chart draw the chapter's closing chart for them (no window needed).")
    p.add_argument("--runs-dir", metavar="DIR", help="the runs folder, or one sweep's folder (default: "
                   "$VGG_STUDIO_RUNS or ~/.local/share/vgg-studio/runs)")
    p.add_argument("--dataset", metavar="D", help="only runs trained on this dataset (e.g. sample)")
    p.add_argument("--sweep", metavar="ID", help="only the runs of this sweep (its folder's name)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--chart", metavar="OUT.png", help="also draw the efficiency chart into this PNG file")
    p.add_argument("--x", choices=tuple(X_AXES), default="train",
                   help="the chart's x axis and the Pareto front's speed: train or inference examples/sec, "
                        "params or flops (default train)")
    p.add_argument("--size", choices=tuple(SIZES), default="params",
                   help="what the bubble area shows (default params)")
    p.add_argument("--measured", action="store_true",
                   help="add measured but untrained variants (from `vgg-studio measure`) as hollow markers")
    p.set_defaults(func=run_runs)


def run_runs(args: argparse.Namespace) -> int:
    from ..efficiency import collect, pareto_front, to_csv, to_rows

    root = Path(args.runs_dir).expanduser() if args.runs_dir else None
    if root is not None and not root.is_dir():
        return fail(f"--runs-dir {args.runs_dir}: no such folder.")
    points = collect(root, dataset=args.dataset, sweep=args.sweep, include_measured=args.measured)
    front = pareto_front(points, args.x)
    if args.format == "json":
        sys.stdout.write(json.dumps(to_rows(points, front), indent=2) + "\n")
    elif args.format == "csv":
        sys.stdout.write(to_csv(points, front))
    else:
        sys.stdout.write(render_table(points, front, root, args.x))
    if args.chart:
        from ..gui.efficiency.chart import render_png  # Qt only when a chart is asked for

        try:
            drawn = render_png(points, args.chart, x=args.x, size=args.size)
        except OSError as exc:
            return fail(f"cannot write {args.chart}: {exc.strerror or exc}")
        print(f"chart of {drawn} run{'s' if drawn != 1 else ''}: {args.chart}", file=sys.stderr)
    return 0


def render_table(points, front, root, x: str = "train") -> str:
    from ..efficiency import X_AXES
    from ..runs import default_runs_dir

    if not points:
        return f"no runs in {root or default_runs_dir()}\n"
    on_front = {id(p) for p in front}
    header = ("run", "label", "status", "dataset", "epochs", "params", "GFLOP", "test acc", "train ex/s",
              "infer ex/s", "memory", "front")

    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    rows = [(p.name, p.label, p.status, p.dataset or "-", str(p.epochs_done), f"{p.params:,}",
             f"{p.flops / 1e9:.3f}", num(p.test_acc, ".3f"), num(p.train_examples_per_sec, ",.1f"),
             num(p.inference_examples_per_sec, ",.1f"),
             "-" if p.memory_bytes is None else nbytes(p.memory_bytes) + ("" if p.memory_source == "measured" else "*"),
             "*" if id(p) in on_front else "") for p in points]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    left = {0, 1, 2, 3}

    def line(row) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    axis = X_AXES[x]
    notes = [f"front: on the Pareto front of test accuracy vs {axis.title} (no other run is both "
             f"{'higher' if axis.higher_is_better else 'lower'} on it and more accurate)",
             "memory*: predicted by the summary (no measurement of this architecture, device, batch size and dtype)"]
    return "\n".join([line(header), *map(line, rows), "", *notes]) + "\n"
