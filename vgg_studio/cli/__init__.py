"""`vgg-studio` entry point: a subcommand runs headless, anything else opens the window.

Each subcommand lives in its own module exposing `register(subparsers)`; `register` sets `func`, which
takes the parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib
import os
import sys
import threading

from .. import __version__
from ..allocator import ask_for_huge_pages

# Modules in this package that each add one or more subcommands.
COMMAND_MODULES = ("summary", "compare", "train", "measure", "sweep", "runs", "export", "predict")


class _Parser(argparse.ArgumentParser):
    """argparse exits with status 2 and a one-line message on stderr; keep that, but never a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vgg-studio", description="Explore and train VGG-style networks. "
                     "With no subcommand, opens the desktop app (see `vgg-studio gui --help`).")
    parser.add_argument("--version", action="version", version=f"vgg-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    gui = sub.add_parser("gui", help="open the desktop app (the default when no subcommand is given)",
                         add_help=False)
    gui.set_defaults(func=None)
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def main(argv: list[str] | None = None, *, exit_when_done: bool = False) -> int:
    """`exit_when_done`: a headless command's process ends as soon as the command returns (see `run`)."""
    ask_for_huge_pages()  # before the subcommands import torch
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    commands = _subcommands(parser)
    first = argv[0] if argv else None
    if first in ("-h", "--help", "--version") or (first in commands and first != "gui"):
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        args.argv = argv  # the command line as given, for commands that start themselves again (torchrun)
        status = int(args.func(args) or 0)
        if exit_when_done:
            _exit_now(status)
        return status
    # The desktop app: `vgg-studio [gui] [FILE.json] [--preset NAME] [--screenshot PNG] ...`
    if first == "gui":
        argv = argv[1:]
    from ..gui.app import main as gui_main  # Qt is imported only when the window is wanted

    return gui_main(argv)


def run() -> None:
    """The `vgg-studio` program (and `python -m vgg_studio`)."""
    sys.exit(main(exit_when_done=True))


def _exit_now(status: int) -> None:
    """End the process without Python unloading torch's modules one by one, which takes a second or more after
    a training run on a 2-core CPU. Everything an ordinary exit does first is done: other threads are waited
    for, exit handlers run (logging, temporary folders), output is flushed. The window does not exit this way:
    Qt's own teardown saves its settings."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken pipe: nothing more can reach it
            stream.flush()
    os._exit(status)
