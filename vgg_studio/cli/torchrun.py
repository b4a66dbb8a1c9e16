"""`vgg-studio train --nproc-per-node N [--nnodes M --node-rank R --rdzv-endpoint HOST:PORT]`.

The training command starts torchrun with itself as the worker (see `vgg_studio.launch`) and prints rank
0's events exactly as a local run prints its own.
"""

from __future__ import annotations

import argparse
import sys
import threading

from ..events import Failed
from ..launch import RDZV_TIMEOUT_S, Launch, check_launch, follow, torchrun_command, wait_for_endpoint
from ..train_config import ConfigError, TrainConfig
from .common import EXIT_FAILED, EXIT_OK, EXIT_STOPPED, EXIT_USAGE, fail

# The flags that describe the launch (the workers never see them), with whether each takes a value.
LAUNCH_FLAGS = {"--nproc-per-node": True, "--nnodes": True, "--node-rank": True, "--rdzv-endpoint": True,
                "--rdzv-timeout": True}


def add_launch_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "several processes (torchrun)", "Train with DistributedDataParallel: one process per GPU (NCCL), or "
        "CPU processes (Gloo). --batch-size stays the global batch, split evenly among the processes.")
    group.add_argument("--nproc-per-node", type=int, metavar="N", help="processes on this machine (default 1: "
                       "no torchrun); on a machine with several GPUs, up to the GPU count")
    group.add_argument("--nnodes", type=int, default=1, metavar="M", help="machines taking part (default 1)")
    group.add_argument("--node-rank", type=int, default=0, metavar="R", help="this machine's number, 0 to M-1; "
                       "node 0 writes the run folder")
    group.add_argument("--rdzv-endpoint", metavar="HOST:PORT", help="node 0's address and a free port, the same "
                       "on every machine (needed with --nnodes above 1)")
    group.add_argument("--rdzv-timeout", type=int, default=RDZV_TIMEOUT_S, metavar="S",
                       help=f"seconds to wait for the other machines (default {RDZV_TIMEOUT_S})")


def wants_launch(args: argparse.Namespace) -> bool:
    return args.nproc_per_node is not None or args.nnodes != 1 or args.rdzv_endpoint is not None


def worker_args(argv: list[str]) -> list[str]:
    """The command line minus the launch flags (and the subcommand): what each torchrun worker runs."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in LAUNCH_FLAGS or (i == 0 and arg == "train"):
            skip = LAUNCH_FLAGS.get(name, False) and "=" not in arg
            continue
        out.append(arg)
    return out


def run_launched(args: argparse.Namespace, config: TrainConfig, printer) -> int:
    """Start torchrun for this node, follow rank 0's events, and turn the end into an exit status."""
    nproc = 1 if args.nproc_per_node is None else args.nproc_per_node
    launch = Launch(nproc_per_node=nproc, nnodes=args.nnodes, node_rank=args.node_rank,
                    rdzv_endpoint=args.rdzv_endpoint, rdzv_timeout_s=args.rdzv_timeout)
    problems = check_launch(launch, config.batch_size)
    if args.rdzv_timeout < 1:
        problems.append(f"--rdzv-timeout must be at least 1 second (got {args.rdzv_timeout}).")
    if problems:
        return fail(" ".join(problems))
    cancel = threading.Event()
    from .train import _CtrlC

    try:
        with _CtrlC(cancel, hard=False, sigterm=True):
            wait_for_endpoint(launch, cancel)
            if cancel.is_set():
                return EXIT_STOPPED
            where = f" (node {launch.node_rank} of {launch.nnodes})" if launch.nnodes > 1 else ""
            print(f"vgg-studio: starting {launch.world_size} training processes with torchrun{where}...",
                  file=sys.stderr)
            cmd = torchrun_command(launch, [*worker_args(args.argv), "--events", "jsonl"])
            result = follow(cmd, printer, cancel)
    except ConfigError as exc:
        return fail(str(exc))
    if result is not None:
        printer(result)
    if isinstance(result, Failed):
        print(f"vgg-studio: error: {result.message}", file=sys.stderr)
        if result.run_dir:
            print(f"run folder: {result.run_dir}", file=sys.stderr)
        return EXIT_USAGE if result.kind in ("data", "spec") else EXIT_FAILED
    if result is None:
        print(f"vgg-studio: this node's {launch.nproc_per_node} processes finished; node 0 has the run folder.",
              file=sys.stderr)
        return EXIT_STOPPED if cancel.is_set() else EXIT_OK
    return EXIT_STOPPED if result.cancelled or cancel.is_set() else EXIT_OK
