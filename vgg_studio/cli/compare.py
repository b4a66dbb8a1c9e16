"""`vgg-studio compare A B`: what changing architecture A into B buys, layer by layer (the window's baseline)."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from functools import partial

from ..compare import ADDED, CHANGED, REMOVED, Comparison, compare, load_reference
from ..spec import PRESET_NAMES, ArchSpec, SpecError
from ..summary import Summary, summarize
from ..units import nbytes, percent_change, shape, si, signed, signed_nbytes, signed_si, thousands
from .common import add_override_args, apply_overrides, fail, warn_problems
from .summary import _describe

MARKS = {ADDED: "+", REMOVED: "-", CHANGED: "~"}  # the table's first column, like a diff
ABSENT = "—"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="what B adds or saves over A: parameters, FLOPs and memory, layer by layer",
        description="Align two architectures layer by layer (by block and conv index, classifier layer index) "
                    "and print each layer's parameters and FLOPs on both sides with the difference B - A, "
                    "block subtotals and totals. A and B are each a preset, an architecture file or a run "
                    "folder; the override flags apply to both.")
    where = f"a preset ({', '.join(PRESET_NAMES)}), an architecture file or a run folder"
    p.add_argument("a", metavar="A", help=f"the baseline: {where}")
    p.add_argument("b", metavar="B", help=f"the variant: {where}")
    add_override_args(p)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--batch-size", type=int, default=128, metavar="N",
                   help="batch size for the training-memory line of the table (default 128)")
    p.set_defaults(func=run_compare)


def _side(label: str, ref: str, args: argparse.Namespace) -> ArchSpec:
    try:
        return apply_overrides(load_reference(ref), args)
    except SpecError as exc:
        raise SpecError(f"{label} ({ref}): {exc}") from None


def run_compare(args: argparse.Namespace) -> int:
    try:
        specs = [_side("A", args.a, args), _side("B", args.b, args)]
    except SpecError as exc:
        return fail(str(exc))
    if args.batch_size < 1:
        return fail(f"--batch-size must be at least 1 (got {args.batch_size}).")
    for spec in specs:
        warn_problems(spec)
    result = compare(*(summarize(s) for s in specs))
    if args.format == "json":
        sys.stdout.write(render_json(result))
    elif args.format == "csv":
        sys.stdout.write(render_csv(result))
    else:
        sys.stdout.write(render_table(result, args.batch_size))
    return 0


def _totals(s: Summary) -> dict:
    return {"name": s.spec.name, "total_params": s.total_params, "total_flops": s.total_flops,
            "total_activation_bytes": s.total_activation_bytes}


def to_document(result: Comparison) -> dict:
    """The machine-readable form; `block` is 1-based (null for Flatten and the classifier), as in `summary`."""
    def side(row) -> dict | None:
        if row is None:
            return None
        return {"output_shape": list(row.output_shape), "params": row.params, "flops": row.flops}

    return {
        "a": _totals(result.a),
        "b": _totals(result.b),
        "layers": [
            {"name": d.name, "block": None if d.block is None else d.block + 1, "type": d.type,
             "a": side(d.a), "b": side(d.b), "delta_params": d.delta_params, "delta_flops": d.delta_flops}
            for d in result.layers
        ],
        "delta_total_params": result.delta_params,
        "delta_total_flops": result.delta_flops,
    }


def render_json(result: Comparison) -> str:
    return json.dumps(to_document(result), indent=2) + "\n"


def render_csv(result: Comparison) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "block", "type", "status", "a_output_shape", "b_output_shape", "a_params", "b_params",
                     "delta_params", "a_flops", "b_flops", "delta_flops"])
    for d in result.layers:
        writer.writerow([d.name, "" if d.block is None else d.block + 1, d.type, d.status,
                         "x".join(map(str, d.a.output_shape)) if d.a else "",
                         "x".join(map(str, d.b.output_shape)) if d.b else "",
                         d.a.params if d.a else "", d.b.params if d.b else "", d.delta_params,
                         d.a.flops if d.a else "", d.b.flops if d.b else "", d.delta_flops])
    return buf.getvalue()


def _total_line(label: str, a: int, b: int, fmt=thousands, delta_fmt=signed) -> str:
    pct = percent_change(b - a, a) if b != a else ""
    return f"{label}: {fmt(a)} -> {fmt(b)} ({delta_fmt(b - a)}{', ' + pct if pct else ''})"


def render_table(result: Comparison, batch_size: int = 128) -> str:
    header = ("", "Layer", "Type", "Shape A", "Shape B", "Params A", "Params B", "Δ params", "Δ FLOPs")
    rows: list[tuple[str, ...]] = []

    def block_total(k: int) -> None:
        bd = result.blocks[k]
        rows.append(("", f"  block {k + 1} total", "", shape(bd.a.output_shape) if bd.a else ABSENT,
                     shape(bd.b.output_shape) if bd.b else ABSENT, f"{bd.a.params:,}" if bd.a else ABSENT,
                     f"{bd.b.params:,}" if bd.b else ABSENT, signed(bd.delta_params), signed(bd.delta_flops)))

    current = None
    for d in result.layers:
        if current is not None and d.block != current:
            block_total(current)
        current = d.block
        rows.append((MARKS.get(d.status, ""), d.name, d.type, shape(d.a.output_shape) if d.a else ABSENT,
                     shape(d.b.output_shape) if d.b else ABSENT, f"{d.a.params:,}" if d.a else ABSENT,
                     f"{d.b.params:,}" if d.b else ABSENT, signed(d.delta_params), signed(d.delta_flops)))
    if current is not None:
        block_total(current)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {5, 6, 7, 8}

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    a, b = result.a, result.b
    rule = "-" * len(line(header))
    mem_a, mem_b = a.training_memory(batch_size).total_bytes, b.training_memory(batch_size).total_bytes
    out = [f"A: {_describe(a.spec)}", f"B: {_describe(b.spec)}", result.headline(), "",
           line(header), rule, *map(line, rows), rule,
           _total_line("Total parameters", a.total_params, b.total_params),
           _total_line("Total FLOPs per image (forward)", a.total_flops, b.total_flops,
                       partial(si, unit="FLOP"), partial(signed_si, unit="FLOP")),
           _total_line("Activations per image", a.total_activation_bytes, b.total_activation_bytes, nbytes,
                       signed_nbytes),
           _total_line(f"Estimated training memory at batch {batch_size} (float32, SGD)", mem_a, mem_b, nbytes,
                       signed_nbytes),
           "Rows: + only in B, - only in A, ~ changed; layers are matched by block and conv index "
           "(classifier layers by index)."]
    return "\n".join(out) + "\n"
