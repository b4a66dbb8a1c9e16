"""`vgg-studio summary` and `vgg-studio save-preset`: the architecture core from a terminal."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys

from ..spec import PRESET_NAMES, ArchSpec, SpecError, preset, save
from ..summary import Summary, summarize
from ..units import nbytes, shape, si
from .common import add_arch_args, fail, spec_from_args, warn_problems


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="per-layer output shapes, parameters and FLOPs of an architecture",
                       description="Print every layer's output shape (batch 1), parameters and FLOPs, "
                                   "like the d2l chapter's printout, with block subtotals and totals.")
    add_arch_args(p)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--batch-size", type=int, default=128, metavar="N",
                   help="batch size for the training-memory estimate in the table (default 128)")
    p.set_defaults(func=run_summary)

    s = sub.add_parser("save-preset", help="write a built-in architecture to an editable JSON file")
    s.add_argument("name", choices=PRESET_NAMES, metavar="NAME", help=", ".join(PRESET_NAMES))
    s.add_argument("file", metavar="FILE.json")
    s.set_defaults(func=run_save_preset)


def run_summary(args: argparse.Namespace) -> int:
    try:
        spec = spec_from_args(args)
    except SpecError as exc:
        return fail(str(exc))
    if args.batch_size < 1:
        return fail(f"--batch-size must be at least 1 (got {args.batch_size}).")
    warn_problems(spec)
    result = summarize(spec)
    render = {"table": render_table, "json": render_json, "csv": render_csv}[args.format]
    sys.stdout.write(render(result, args.batch_size) if args.format == "table" else render(result))
    return 0


def run_save_preset(args: argparse.Namespace) -> int:
    try:
        save(preset(args.name), args.file)
    except OSError as exc:
        return fail(f"cannot write {args.file}: {exc.strerror or exc}")
    print(f"wrote {args.name} to {args.file}")
    return 0


def _describe(spec: ArchSpec) -> str:
    """conv_arch as d2l writes it; a block's kernel appears only when it is not 3, BatchNorm and head only when set."""
    arch = ", ".join(f"({b.num_convs}, {b.out_channels})" if b.kernel_size == 3 else
                     f"({b.num_convs}, {b.out_channels}, {b.kernel_size}x{b.kernel_size})" for b in spec.blocks)
    ratio = f", ratio {spec.ratio}" if spec.ratio != 1 else ""
    knobs = (", BatchNorm" if spec.batch_norm else "") + (f", {spec.head} head" if spec.head != "fc" else "")
    return (f"{spec.name}: conv_arch ({arch}){ratio}{knobs}; input {spec.in_channels}x{spec.input_size}x"
            f"{spec.input_size}, {spec.num_classes} classes")


def _field(field_: int | None, stride: int | None) -> tuple[str, str]:
    return ("", "") if field_ is None else (str(field_), str(stride))


def render_table(result: Summary, batch_size: int = 128) -> str:
    header = ("Layer", "Type", "Output shape", "Params", "FLOPs", "RF", "Stride")
    rows: list[tuple[str, ...]] = []
    for b in result.blocks:
        for r in result.rows_of_block(b.block):
            rows.append((r.name, r.type, shape(r.output_shape), f"{r.params:,}", f"{r.flops:,}",
                         *_field(r.receptive_field, r.effective_stride)))
        rows.append((f"  block {b.block + 1} total", "", shape(b.output_shape), f"{b.params:,}", f"{b.flops:,}",
                     *_field(b.receptive_field, b.effective_stride)))
    for r in result.head:
        rows.append((r.name, r.type, shape(r.output_shape), f"{r.params:,}", f"{r.flops:,}", "", ""))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {3, 4, 5, 6}

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = "-" * len(line(header))
    mem = result.training_memory(batch_size)
    out = [_describe(result.spec), "", line(header), rule, *map(line, rows), rule,
           f"Total parameters: {result.total_params:,} ({si(result.total_params)})",
           f"Total FLOPs per image (forward): {result.total_flops:,} ({si(result.total_flops, 'FLOP')})",
           result.parameter_note(),
           f"Activations per image: {nbytes(result.total_activation_bytes)}; estimated training memory at batch "
           f"{batch_size} (float32, SGD): {nbytes(mem.total_bytes)}"]
    note = result.receptive_field_note()
    if note:
        out.append(note)
    out += [f"Warning: {p.message}" for p in result.problems]
    return "\n".join(out) + "\n"


def to_document(result: Summary) -> dict:
    """The stable machine-readable form: `block` is 1-based, null for Flatten and the classifier."""
    spec = result.spec
    return {
        "name": spec.name,
        "input_shape": [1, spec.in_channels, spec.input_size, spec.input_size],
        "batch_norm": spec.batch_norm,
        "head": spec.head,
        "layers": [
            {"name": r.name, "block": None if r.block is None else r.block + 1, "type": r.type,
             "output_shape": list(r.output_shape), "params": r.params, "flops": r.flops,
             "activation_bytes": r.activation_bytes, "receptive_field": r.receptive_field,
             "effective_stride": r.effective_stride}
            for r in result.layers
        ],
        "blocks": [
            {"block": b.block + 1, "num_convs": b.num_convs, "channels": b.channels,
             "output_shape": list(b.output_shape), "params": b.params, "flops": b.flops,
             "kernel_size": b.kernel_size, "receptive_field": b.receptive_field,
             "effective_stride": b.effective_stride}
            for b in result.blocks
        ],
        "total_params": result.total_params,
        "total_flops": result.total_flops,
        "total_activation_bytes": result.total_activation_bytes,
        "warnings": [p.message for p in result.problems],
    }


def render_json(result: Summary) -> str:
    return json.dumps(to_document(result), indent=2) + "\n"


def render_csv(result: Summary) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "block", "type", "output_shape", "params", "flops", "activation_bytes",
                     "receptive_field", "effective_stride"])
    for r in result.layers:
        writer.writerow([r.name, "" if r.block is None else r.block + 1, r.type,
                         "x".join(map(str, r.output_shape)), r.params, r.flops, r.activation_bytes,
                         "" if r.receptive_field is None else r.receptive_field,
                         "" if r.effective_stride is None else r.effective_stride])
    return buf.getvalue()
