"""`vgg-studio measure`: throughput, peak memory and time per block of an architecture, without training."""

from __future__ import annotations

import argparse
import json
import sys
import threading

from ..spec import SpecError
from ..train_config import ConfigError, TrainConfig, validate_config
from ..units import nbytes, si
from .common import add_arch_args, fail, spec_from_args, warn_problems
from .train import _config, _CtrlC, add_config_args

EXIT_STOPPED = 130


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "measure", help="measure training and inference speed, peak memory and time per block (no training)",
        description="Time training steps (forward, backward, optimizer step) and inference (forward under "
                    "inference_mode) on synthetic data after a warm-up, measure the peak memory of a training "
                    "step next to the summary's prediction, and time every block's forward + backward beside its "
                    "share of the FLOPs. Takes a few seconds (longer for big nets on a CPU); the result is kept "
                    "in the measurements file of the per-user data folder for the efficiency chart.")
    add_arch_args(p)
    add_config_args(p, ("batch_size", "device", "optimizer", "momentum", "amp"))
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--seconds", type=float, default=3.0, metavar="S",
                   help="time spent timing, warm-up excluded (default 3)")
    p.add_argument("--no-save", dest="save", action="store_false",
                   help="do not store the result in the measurements file")
    p.set_defaults(func=run_measure)


def run_measure(args: argparse.Namespace) -> int:
    from ..measure import MeasureCancelled, MeasureError, measure

    try:
        spec = spec_from_args(args)
    except SpecError as exc:
        return fail(str(exc))
    config = _config(args, TrainConfig())
    problems = validate_config(config)
    if problems:
        return fail(" ".join(problems))
    if not 0 < args.seconds <= 600:
        return fail(f"--seconds must be above 0 and at most 600 (got {args.seconds:g}).")
    warn_problems(spec)
    live = sys.stderr.isatty()

    def progress(fraction: float, text: str) -> None:
        if live:
            sys.stderr.write(f"\r\033[Kmeasuring {spec.name}: {fraction:4.0%} {text}")
            sys.stderr.flush()

    cancel = threading.Event()
    try:
        with _CtrlC(cancel):
            m = measure(spec, config, budget_s=args.seconds, on_progress=progress, cancel=cancel, store=args.save)
    except MeasureCancelled:
        print("\nvgg-studio: measurement stopped; nothing was stored.", file=sys.stderr)
        return EXIT_STOPPED
    except (SpecError, ConfigError, MeasureError) as exc:
        return fail(str(exc))
    finally:
        if live:
            sys.stderr.write("\r\033[K")
    sys.stdout.write(render_json(m) if args.format == "json" else render_table(m))
    return 0


def render_json(m) -> str:
    return json.dumps({k: v for k, v in m.to_dict().items() if k != "spec"}, indent=2) + "\n"


def render_table(m) -> str:
    ratio = m.peak_memory_bytes / m.predicted_memory_bytes if m.predicted_memory_bytes else float("nan")
    lines = [
        f"{m.arch_name} on {m.device} ({m.device_name}), batch {m.batch_size}, {m.dtype}, {m.optimizer}",
        f"Training:  {m.train_examples_per_sec:,.1f} examples/sec (forward + backward + optimizer step)",
        f"Inference: {m.inference_examples_per_sec:,.1f} examples/sec (forward only), "
        f"{m.inference_examples_per_sec / m.train_examples_per_sec:.1f}x training",
        f"Peak memory of a training step: {nbytes(m.peak_memory_bytes)} measured, "
        f"{nbytes(m.predicted_memory_bytes)} predicted by the summary ({ratio:.2f}x)",
        f"  measured as {m.memory_method}",
    ]
    if m.memory_parts:
        lines.append("  " + ", ".join(f"{k.replace('_', ' ')} {nbytes(v)}" for k, v in m.memory_parts.items()))
    width = max(len(b.name) for b in m.blocks)
    lines += ["", f"{'Part':<{width}}  {'time/batch':>10}  {'time share':>10}  {'FLOP share':>10}"]
    for b in m.blocks:
        lines.append(f"{b.name:<{width}}  {b.seconds_per_batch * 1e3:>8.1f}ms  {b.time_share:>10.1%}  "
                     f"{b.flop_share:>10.1%}")
    lines.append(f"({si(m.params)} parameters, {si(m.flops_per_example, 'FLOP')} per example forward)")
    return "\n".join(lines) + "\n"
