"""`vgg-studio train`: the training engine from a terminal, printing what d2l's `train_ch6` prints."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from typing import TextIO

from ..events import (BatchProgress, Compiling, DataProgress, EpochEnd, Event, Failed, Finished, Notice, RunStarted,
                      event_to_json)
from ..recipes import apply_recipe
from ..spec import SpecError
from ..train_config import (DATA_MODES, DATASET_CHOICES, DEFAULT_LR, DEVICES, OPTIMIZERS, RECIPES, SCHEDULES,
                            ConfigError, TrainConfig, dataset_folder, validate_config)
from ..units import format_duration, plural, share_percent
from .common import (ARCH_OVERRIDES, EXIT_FAILED, EXIT_OK, EXIT_STOPPED, EXIT_USAGE, add_arch_args, fail,
                     spec_from_args, warn_problems)
from .torchrun import add_launch_args, run_launched, wants_launch
# Flags that also apply when resuming (each overrides what the run was started with).
CONFIG_FLAGS = ("dataset", "data_dir", "epochs", "batch_size", "lr", "optimizer", "momentum", "nesterov",
                "weight_decay", "bias_decay", "schedule", "label_smoothing", "flip", "shift", "compile", "device",
                "seed", "test_fraction", "cache_size", "data_mode")


# The training-setting flags, by TrainConfig field, so train, sweep and measure spell them alike.
CONFIG_ARGS: dict[str, tuple[tuple[str, ...], dict]] = {
    "dataset": (("--dataset",), {"metavar": "NAME", "help": f"{', '.join(DATASET_CHOICES)}, or folder:PATH for your "
                                 "own images (PATH/<class>/*.png|jpg|..., or PATH/train/<class>/... and "
                                 "PATH/test/<class>/...); default auto: the full Fashion-MNIST if it is in the data "
                                 "folder, else the bundled sample"}),
    "data_dir": (("--data-dir",), {"metavar": "DIR", "help": "where datasets live (default: the per-user data "
                                       "folder)"}),
    "epochs": (("--epochs",), {"type": int, "metavar": "N", "help": "default 10"}),
    "batch_size": (("--batch-size",), {"type": int, "metavar": "N", "help": "default 128"}),
    "lr": (("--lr",), {"type": float, "metavar": "X", "help": "learning rate (default 0.05 for sgd, 0.001 for "
                           "adam/adamw)"}),
    "optimizer": (("--optimizer",), {"choices": OPTIMIZERS, "help": "default sgd"}),
    "momentum": (("--momentum",), {"type": float, "metavar": "X", "help": "SGD momentum (default 0)"}),
    "nesterov": (("--nesterov",), {"action": argparse.BooleanOptionalAction, "help": "Nesterov momentum (SGD "
                                       "with momentum; default off)"}),
    "weight_decay": (("--weight-decay",), {"type": float, "metavar": "X", "help": "default 0"}),
    "bias_decay": (("--bias-decay",), {"action": argparse.BooleanOptionalAction, "help": "weight decay on biases "
                                           "too (default on, as torch does; the fast recipe decays weights only)"}),
    "schedule": (("--schedule",), {"choices": SCHEDULES, "help": "learning rate per step (default constant)"}),
    "label_smoothing": (("--label-smoothing",), {"type": float, "metavar": "X", "help": "cross-entropy label "
                                                     "smoothing (default 0)"}),
    "flip": (("--flip",), {"action": argparse.BooleanOptionalAction, "help": "augment: random left-right flips, "
                               "drawn on the device (default off)"}),
    "shift": (("--shift",), {"type": int, "metavar": "PX", "help": "augment: random shifts of up to PX pixels "
                                 "each way (default 0)"}),
    "compile": (("--compile",), {"action": argparse.BooleanOptionalAction, "help": "run the training and "
                                     "evaluation steps through torch.compile (default off: see "
                                     "benchmarks/RESULTS.md for when it pays back)"}),
    "device": (("--device",), {"choices": DEVICES, "help": "default auto: cuda, then mps, then cpu"}),
    "seed": (("--seed",), {"type": int, "metavar": "N", "help": "default 0"}),
    "amp": (("--no-amp",), {"dest": "amp", "action": "store_false", "default": None, "help": "train in float32 instead "
                                "of bf16 autocast (used on CUDA and on CPUs with native bf16)"}),
    "test_fraction": (("--test-fraction",), {"type": float, "metavar": "X", "help": "image folders without test/: "
                                             "the share of each class held out for testing, the same files every "
                                             "run (default 0.1)"}),
    "cache_size": (("--cache-size",), {"type": int, "metavar": "PX", "help": "image folders: side of the cached "
                                       "images (default: the architecture's input size); the cache lives in the "
                                       "data folder"}),
    "data_mode": (("--data-mode",), {"choices": DATA_MODES, "help": "keep the images on the training device "
                                     "(resident), stream batches from host memory with the next one prefetched "
                                     "(stream), or resident when they fit in a quarter of the free memory "
                                     "(default auto)"}),
}


def add_config_args(parser: argparse.ArgumentParser, names: tuple[str, ...] = tuple(CONFIG_ARGS)) -> None:
    """Add the training-setting flags named (default: all of them)."""
    for name in names:
        flags, options = CONFIG_ARGS[name]
        parser.add_argument(*flags, **options)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train an architecture (Fashion-MNIST by default) and save the run",
        description="Train like d2l's train_ch6 (Xavier init, SGD lr 0.05, batch 128, 10 epochs, cross-entropy) "
                    "with a live progress line, one line per epoch, and a run folder holding the metrics, "
                    "checkpoints and results. Ctrl-C stops cleanly and keeps the folder.")
    add_arch_args(p, required=False)
    p.add_argument("--recipe", choices=RECIPES, help="a named preset of the training settings below: d2l (the "
                   "default: d2l's train_ch6) or fast (Nesterov SGD, one-cycle to lr 0.2, label smoothing, batch 128, "
                   "3 epochs); flags given beside it override its values, and config.json records them all")
    add_config_args(p)
    p.add_argument("--config", metavar="FILE.json", help="start from the training settings in this file (a run's "
                   "config.json); the flags above override them")
    p.add_argument("--events", choices=("text", "jsonl"), default="text", help="jsonl: one JSON object per "
                   "engine event on stdout instead of the text lines (for launchers; see vgg_studio/launch.py)")
    add_launch_args(p)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="RUN_DIR", help="the new run's folder (default: a fresh folder under "
                       "the runs folder, $VGG_STUDIO_RUNS or ~/.local/share/vgg-studio/runs)")
    where.add_argument("--resume", metavar="RUN_DIR", help="continue that run from its last finished epoch "
                       "(give --epochs to go further than it was set to)")
    p.add_argument("--init-from", metavar="RUN_DIR", help="warm start: copy a finished run's weights into every "
                   "layer whose place and shape still fit (e.g. after adding a block); the rest start fresh")
    p.add_argument("--parent", metavar="RUN_DIR", help="the run this one changes (the Runs list then labels it "
                   "by what differs, e.g. 'ratio 1 → 2')")
    p.set_defaults(func=run_train)


def _config(args: argparse.Namespace, base: TrainConfig, resuming: bool = False) -> TrainConfig:
    """`base` (or the settings of `--config FILE`) with the flags given (flags a command does not have count as
    not given); a new run with another optimizer gets that optimizer's default lr. Raises ConfigError."""
    if getattr(args, "config", None):
        base = TrainConfig.from_json_file(args.config)
    given = {k: getattr(args, k) for k in CONFIG_FLAGS if getattr(args, k, None) is not None}
    if getattr(args, "amp", None) is not None:
        given["amp"] = args.amp
    if not resuming and "lr" not in given and "optimizer" in given and base.lr == DEFAULT_LR[base.optimizer]:
        given["lr"] = DEFAULT_LR[given["optimizer"]]
    return base.replace(**given)


def _announce_dataset(config: TrainConfig) -> None:
    """Say which data "auto" means here, so nobody mistakes a sample run for a full one."""
    from ..data import default_data_dir, resolve_dataset_name

    if config.dataset != "auto":
        return
    name = resolve_dataset_name("auto", config.data_dir)
    folder = config.data_dir or default_data_dir()
    if name == "sample":
        print(f"vgg-studio: the full Fashion-MNIST is not in {folder}; training on the bundled sample "
              f"(use --dataset fashion-mnist to download the full set).", file=sys.stderr)
    else:
        print(f"vgg-studio: training on the full Fashion-MNIST in {folder}.", file=sys.stderr)


class Printer:
    """Turns engine events into terminal output: a live line on stderr, one line per epoch on stdout."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.live = self.err.isatty()
        self.epochs = 0
        self.peak_label = ""  # e.g. "this CPU's bf16 peak", from RunStarted
        self.pending = False  # a \r line is on screen

    def _live(self, text: str) -> None:
        """The progress line: rewritten in place on a terminal, one line each otherwise."""
        if self.live:
            self.err.write("\r\033[K" + text)
            self.pending = True
        else:
            self.err.write(text + "\n")
        self.err.flush()

    def _share(self, event: BatchProgress | EpochEnd) -> str:
        if not self.peak_label or not math.isfinite(event.hardware_share):
            return ""
        return f" (≈ {share_percent(event.hardware_share)} of {self.peak_label})"

    def _clear(self) -> None:
        if self.pending:
            self.err.write("\r\033[K")
            self.pending = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._clear()
            self.epochs, self.peak_label = event.epochs, event.peak_label
            resumed = f", resuming after epoch {event.start_epoch}" if event.start_epoch else ""
            batches = plural(event.batches_per_epoch, "batch", "batches")
            print(f"training {event.params:,} parameters on {event.device}: {event.dataset}, {event.num_train:,} "
                  f"train / {event.num_test:,} test images, {batches} per epoch"
                  f"{resumed}", file=self.err)
            for note in event.data_notes:
                print(f"data: {note}", file=self.err)
            print(f"run folder: {event.run_dir}", file=self.err)
            for line in event.warm_start_lines():
                print(line, file=self.err)
        elif isinstance(event, DataProgress):
            skipped = f", {event.skipped:,} unreadable" if event.skipped else ""
            text = (f"reading {event.folder}: {event.done:,}/{event.total:,} files, {event.files_per_sec:.0f} "
                    f"files/s, ETA {format_duration(event.eta_s)}{skipped}")
            if self.live:
                self.err.write("\r\033[K" + text)
                self.pending = True
            elif event.done == event.total:  # a log file gets the last line only
                self.err.write(text + "\n")
            self.err.flush()
        elif isinstance(event, BatchProgress):
            width = 20
            filled = int(width * event.batch / event.num_batches)
            self._live(f"epoch {event.epoch}/{self.epochs} [{'#' * filled}{'.' * (width - filled)}] "
                       f"{event.batch}/{event.num_batches}  loss {event.train_loss:.3f}  acc {event.train_acc:.3f}  "
                       f"{event.examples_per_sec:.1f} ex/s{self._share(event)}  ETA {format_duration(event.eta_s)}")
        elif isinstance(event, EpochEnd):
            self._clear()
            print(f"epoch {event.epoch}/{self.epochs}: loss {event.train_loss:.3f}, train acc {event.train_acc:.3f}, "
                  f"test acc {event.test_acc:.3f}, {event.examples_per_sec:.1f} examples/sec{self._share(event)}, "
                  f"{format_duration(event.elapsed_s)} elapsed", file=self.out, flush=True)
        elif isinstance(event, Compiling):
            self._live(f"compiling the {event.step} step (torch.compile, once per run)…")
        elif isinstance(event, Notice):
            self._clear()
            print(f"vgg-studio: warning: {event.message}", file=self.err, flush=True)
        elif isinstance(event, Finished):
            self._clear()
            if event.cancelled:
                kept = ("the run folder keeps what was measured" if event.run_dir
                        else "nothing was measured yet, so no run folder was kept")
                print(f"vgg-studio: stopped on request after {plural(event.epochs_done, 'finished epoch')}; {kept}.",
                      file=self.err)
            if event.epochs_done:
                for line in event.summary_lines():
                    print(line, file=self.out)
            if event.run_dir:
                print(f"run folder: {event.run_dir}", file=self.out, flush=True)
        elif isinstance(event, Failed):
            self._clear()


def _print_jsonl(event: Event) -> None:
    print(event_to_json(event), flush=True)


class _CtrlC:
    """First Ctrl-C asks the engine to stop after the current batch; a second one quits at once (`hard`).

    A torchrun worker also stops on SIGTERM, which torchrun sends its workers when it is stopped itself, and so
    does the launching process (`sigterm`), which passes the stop on to torchrun.
    """

    def __init__(self, cancel: threading.Event, hard: bool = True, sigterm: bool = False) -> None:
        self.cancel, self.hard, self.sigterm, self.previous = cancel, hard, sigterm, {}

    def __enter__(self) -> _CtrlC:
        from ..distributed import world_from_env

        if threading.current_thread() is threading.main_thread():
            signals = [signal.SIGINT] + ([signal.SIGTERM] if self.sigterm or world_from_env().distributed else [])
            self.previous = {sig: signal.signal(sig, self._handle) for sig in signals}
        return self

    def _handle(self, signum, frame) -> None:
        if self.cancel.is_set():
            if self.hard:
                raise KeyboardInterrupt
            print("\nvgg-studio: still stopping: every process finishes its batch first...", file=sys.stderr)
            return
        from ..distributed import world_from_env

        self.cancel.set()
        if world_from_env().is_main:
            again = " (Ctrl-C again to quit at once)" if self.hard else ""
            print(f"\nvgg-studio: stopping after this batch{again}...", file=sys.stderr)

    def __exit__(self, *exc) -> None:
        for sig, previous in self.previous.items():
            signal.signal(sig, previous)


def run_train(args: argparse.Namespace) -> int:
    from ..engine import train
    from ..runs import RunError, load_run, load_setup

    arch_given = args.preset or args.arch
    overrides = [k for k in (*ARCH_OVERRIDES, "kernel_size") if getattr(args, k) is not None]
    if args.resume:
        if args.init_from:
            return fail("--resume continues a run from its own checkpoint; --init-from starts a new run from "
                        "another run's weights. Use one of them.")
        if arch_given or overrides:
            return fail("--resume continues a run with its own architecture; leave out --preset, --arch and the "
                        "architecture overrides.")
        if args.recipe:
            return fail("--resume continues a run with its own settings; leave out --recipe and give the "
                        "settings to change as flags (e.g. --epochs).")
        try:
            record = load_run(args.resume)
        except RunError as exc:
            return fail(str(exc))
        spec = record.spec
        try:
            config = _config(args, record.config, resuming=True)
        except ConfigError as exc:
            return fail(str(exc))
    else:
        if not arch_given:
            return fail("choose an architecture: --preset NAME (e.g. --preset tiny) or --arch FILE.json.")
        try:
            spec = spec_from_args(args)
        except SpecError as exc:
            return fail(str(exc))
        warn_problems(spec)
        try:
            config = _config(args, apply_recipe(TrainConfig(), args.recipe or "d2l"))
        except ConfigError as exc:
            return fail(str(exc))
        if args.init_from:
            config = config.replace(init_from=args.init_from)
        ignored = (("--in-channels", "in_channels"), ("--classes", "num_classes"))
        for flag, key in ignored[1:] if dataset_folder(config.dataset) else ignored:  # folders: the spec's channels
            if getattr(args, key) is not None:
                print(f"vgg-studio: warning: {flag} is ignored when training: the dataset decides it.",
                      file=sys.stderr)
    problems = validate_config(config)
    if problems:
        return fail(" ".join(problems))
    if args.parent:
        if args.resume:
            return fail("--parent is for a new run; a resumed run keeps the parent it was started with.")
        try:
            load_setup(args.parent)
        except RunError as exc:
            return fail(f"--parent: {exc}")
    if wants_launch(args):
        return run_launched(args, config, Printer())
    from ..distributed import world_from_env

    if world_from_env().is_main:  # under torchrun the other processes keep quiet
        _announce_dataset(config)
    on_event = _print_jsonl if args.events == "jsonl" else Printer()

    cancel = threading.Event()
    try:
        with _CtrlC(cancel):
            result = train(spec, config, on_event=on_event, cancel=cancel, run_dir=args.out, resume=args.resume,
                           parent=args.parent)
    except KeyboardInterrupt:
        print("vgg-studio: interrupted; the run folder keeps its last finished epoch.", file=sys.stderr)
        return EXIT_STOPPED
    if isinstance(result, Failed):
        print(f"vgg-studio: error: {result.message}", file=sys.stderr)
        if result.run_dir:
            print(f"run folder: {result.run_dir}", file=sys.stderr)
        if result.kind == "stopped":
            return EXIT_STOPPED
        return EXIT_USAGE if result.kind in ("data", "spec") else EXIT_FAILED
    return EXIT_STOPPED if result.cancelled else EXIT_OK
