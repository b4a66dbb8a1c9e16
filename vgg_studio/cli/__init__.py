"""`vgg-studio` entry point: a subcommand runs headless, anything else opens the window.

Each subcommand lives in its own module exposing `register(subparsers)`; `register` sets `func`, which
takes the parsed arguments and returns the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys

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


def main(argv: list[str] | None = None) -> int:
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
        return int(args.func(args) or 0)
    # The desktop app: `vgg-studio [gui] [FILE.json] [--preset NAME] [--screenshot PNG] ...`
    if first == "gui":
        argv = argv[1:]
    from ..gui.app import main as gui_main  # Qt is imported only when the window is wanted

    return gui_main(argv)
