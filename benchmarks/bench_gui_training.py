"""GUI training vs the CLI on the same settings, and how long the GUI thread ever stalls while training.

    python benchmarks/bench_gui_training.py [--preset tiny] [--ratio 1] [--epochs 1] [--rounds 3]
                                           [--write-results] [--screenshot docs/screenshot-training.png]

Each round runs `vgg-studio train` in a subprocess, then the same settings through the main window in
another fresh process (Start clicked, engine in its QThread), so both start equally cold; rounds
alternate so that load from other processes hits both alike.
Speed is the engine's own examples/sec (training steps only, as d2l times it). The stall meter is a
10 ms QTimer on the GUI thread: the longest gap between two of its ticks, from the click on Start to the
end of the run, is the longest the window was unresponsive. `--write-results` replaces the "GUI
training" section of benchmarks/RESULTS.md; `--screenshot` renders the window mid-training to a PNG
(after the measurements, so it does not disturb them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from vgg_studio.hardware import cpu_model

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## GUI training"


# `vgg-studio train` through the train command's own parser, for trees where cli/__init__ has not
# registered the command yet (same code path from argument parsing on).
_TRAIN_COMMAND = (
    "import argparse, sys\n"
    "from vgg_studio.cli import train\n"
    "parser = argparse.ArgumentParser(prog='vgg-studio')\n"
    "train.register(parser.add_subparsers(dest='command'))\n"
    "args = parser.parse_args(sys.argv[1:])\n"
    "sys.exit(args.func(args))\n"
)


def cli_command() -> list[str]:
    from vgg_studio import cli

    if "train" in cli.COMMAND_MODULES:
        return [sys.executable, "-m", "vgg_studio", "train"]
    return [sys.executable, "-c", _TRAIN_COMMAND, "train"]


def run_cli(args: argparse.Namespace, out_dir: Path) -> float:
    cmd = [*cli_command(), "--preset", args.preset, "--ratio", str(args.ratio),
           "--dataset", "sample", "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--device", args.device, "--seed", "0", "--out", str(out_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy())
    match = re.search(r"([\d.]+) examples/sec on (\S+)", proc.stdout)
    if proc.returncode != 0 or match is None:
        raise SystemExit(f"the CLI run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return float(match.group(1))


class StallMeter:
    """Longest gap between ticks of a 10 ms timer on the GUI thread while it is on."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.timer = QTimer(interval=10, timerType=Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.max_gap = 0.0
        self.ticks = 0
        self.t0 = 0.0
        self.long_gaps: list[tuple[float, float]] = []  # (seconds since start, gap) for gaps over 50 ms

    def start(self) -> None:
        self.t0 = self.last = time.perf_counter()
        self.max_gap, self.ticks, self.long_gaps = 0.0, 0, []
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.max_gap

    def _tick(self) -> None:
        now = time.perf_counter()
        if now - self.last > 0.05:
            self.long_gaps.append((self.last - self.t0, now - self.last))
        self.max_gap = max(self.max_gap, now - self.last)
        self.last = now
        self.ticks += 1


def isolated_app(prefix: str) -> Path:
    """A fresh folder for the app's runs and settings (the user's own are untouched); offscreen Qt without a display."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["VGG_STUDIO_RUNS"] = str(tmp / "runs")
    os.environ["VGG_STUDIO_SETTINGS"] = str(tmp / "settings.ini")
    return tmp


def wait_until(predicate, timeout_s: float) -> bool:
    """Run the event loop until `predicate()` holds (checked every 20 ms) or the time is up."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    deadline = time.perf_counter() + timeout_s
    check = QTimer(interval=20)
    check.timeout.connect(lambda: (predicate() or time.perf_counter() > deadline) and loop.quit())
    check.start()
    if not predicate():
        loop.exec()
    check.stop()
    return bool(predicate())


def make_window(args: argparse.Namespace):
    from vgg_studio.gui.main_window import MainWindow

    window = MainWindow(persist=False)
    window.open_preset(args.preset)
    if args.ratio != window.document.spec.ratio:
        window.document.set_field("ratio", args.ratio)
    ctl = window.training
    panel = ctl.panel
    panel.dataset.setCurrentIndex(panel.dataset.findData("sample"))
    panel.epochs.setValue(args.epochs)
    panel.batch_size.setValue(args.batch_size)
    panel.device.setCurrentIndex(panel.device.findData(args.device))
    panel.seed.setValue(0)
    window.resize(1440, 900)
    window.show()
    return window, ctl


def run_gui(ctl, meter: StallMeter, timeout_s: float) -> tuple[float, float]:
    from vgg_studio.events import Finished

    meter.start()
    ctl.panel.train_button.click()
    if not wait_until(lambda: ctl.job is None, timeout_s):
        raise SystemExit("the GUI run did not finish in time")
    stall = meter.stop()
    result = ctl.last_result
    if not isinstance(result, Finished):
        raise SystemExit(f"the GUI run failed: {result}")
    return result.examples_per_sec, stall


def screenshot(args: argparse.Namespace, path: Path) -> None:
    """The window mid-training: curves into epoch 2, progress bar and last epoch's summary visible."""
    from PySide6.QtCore import Qt

    window, ctl = make_window(args)
    ctl.panel.epochs.setValue(3)
    ctl.panel.train_button.click()
    window.resizeDocks([ctl.plots_dock], [400], Qt.Orientation.Vertical)
    wait_until(lambda: ctl.plots._test_acc.n >= 1 and ctl.plots._loss.n >= 8, 300)
    wait_until(lambda: False, 0.2)  # the throttled redraw
    path.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(path), "PNG")
    print(f"wrote {path}")
    ctl.shutdown()
    window.document.undo_stack.setClean()
    window.close()


def write_section(text: str, section: str = SECTION) -> None:
    """Replace (or append) one benchmark's section only (its heading starts with `section`)."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(section)}[^\n]*\n.*?(?=^## |\Z)", re.S | re.M)
    block = text.rstrip() + "\n\n"
    if pattern.search(current):
        updated = pattern.sub(lambda _m: block, current, count=1)
    else:
        updated = current.rstrip() + "\n\n" + block
    from vgg_studio.atomic import atomic_write_text

    atomic_write_text(RESULTS, updated.rstrip() + "\n")


def gui_child(args: argparse.Namespace) -> None:
    """One GUI round in this (fresh) process: open the window, click Start, print the numbers as JSON."""
    window, ctl = make_window(args)
    meter = StallMeter()
    speed, stall = run_gui(ctl, meter, timeout_s=1800)
    window.document.undo_stack.setClean()
    window.close()
    print("RESULT " + json.dumps({"speed": speed, "stall": stall, "gaps": meter.long_gaps}), flush=True)


def run_gui_process(args: argparse.Namespace) -> tuple[float, float, list]:
    """A GUI round in a fresh process, so that it starts as cold as the CLI does."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--preset", args.preset,
           "--ratio", str(args.ratio), "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--device", args.device]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy())
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"the GUI run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(line[len("RESULT "):])
    return data["speed"], data["stall"], data["gaps"]


def measure(args: argparse.Namespace, tmp: Path) -> list[tuple[float, float, float]]:
    """Alternate CLI and GUI runs, each in a fresh process; per-round speeds and the GUI's longest stall."""
    rounds = []
    for i in range(args.rounds):
        cli = run_cli(args, tmp / f"cli-{i}")
        gui, stall, gaps = run_gui_process(args)
        rounds.append((cli, gui, stall))
        print(f"round {i + 1}: CLI {cli:,.1f} examples/sec · GUI {gui:,.1f} examples/sec "
              f"({gui / cli:.1%}) · longest GUI stall {stall * 1000:.0f} ms", flush=True)
        if args.verbose and gaps:
            print("  gaps over 50 ms (s after Start: ms): "
                  + ", ".join(f"{t:.2f}: {g * 1000:.0f}" for t, g in gaps))
    return rounds


def report(args: argparse.Namespace, rounds: list[tuple[float, float, float]], load: tuple[float, float]) -> str:
    """Print the summary and return the RESULTS.md section."""
    import torch
    from PySide6 import __version__ as pyside_version

    cli, gui, stalls = (list(col) for col in zip(*rounds))
    cli_med, gui_med = statistics.median(cli), statistics.median(gui)
    cli_best, gui_best = max(cli), max(gui)
    worst = max(stalls)
    print(f"median: CLI {cli_med:,.1f} · GUI {gui_med:,.1f} examples/sec = {gui_med / cli_med:.1%} of the CLI; "
          f"best: CLI {cli_best:,.1f} · GUI {gui_best:,.1f} = {gui_best / cli_best:.1%} (target ≥ 95%)")
    print(f"longest GUI-thread stall while training: {worst * 1000:.0f} ms (target < 100 ms)")
    print(f"1-minute load average: {load[0]:.2f} before, {load[1]:.2f} after (other processes share the "
          f"{os.cpu_count()} cores and move both numbers)")
    cpu = cpu_model()
    intro = [
        f"`python benchmarks/bench_gui_training.py --preset {args.preset} --ratio {args.ratio} "
        f"--epochs {args.epochs} --rounds {args.rounds}` on the bundled sample (10,000 train / 2,000 test "
        f"images), batch {args.batch_size}, device {args.device}; {os.cpu_count()} cores ({cpu}), "
        f"torch {torch.__version__}, PySide6 {pyside_version}, {time.strftime('%Y-%m-%d')}; 1-minute load "
        f"average {load[0]:.2f} before and {load[1]:.2f} after (the machine is shared, and load from other "
        f"processes only ever slows a run down, so the best of each column is the cleanest comparison).",
        "Each round runs the CLI (`vgg-studio train`) and then the GUI (a fresh app: Start clicked in the "
        "main window, engine in its QThread), each in a new process, on the same settings; speed is the "
        "engine's examples/sec "
        "(training steps only). The stall is the longest gap between ticks of a 10 ms QTimer on the GUI "
        "thread, from the click on Start to the end of the run (data loading included).",
    ]
    return "\n".join([
        SECTION,
        "",
        *(textwrap.fill(paragraph, width=110, break_on_hyphens=False) for paragraph in intro),
        "",
        "| round | CLI examples/sec | GUI examples/sec | GUI / CLI | longest GUI stall |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(f"| {i + 1} | {c:,.1f} | {g:,.1f} | {g / c:.1%} | {s * 1000:.0f} ms |"
          for i, (c, g, s) in enumerate(rounds)),
        f"| median | {cli_med:,.1f} | {gui_med:,.1f} | {gui_med / cli_med:.1%} | |",
        f"| best | {cli_best:,.1f} | {gui_best:,.1f} | **{gui_best / cli_best:.1%}** (target ≥ 95%) | "
        f"max **{worst * 1000:.0f} ms** (target < 100 ms) |",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--ratio", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=3, help="0: only the screenshot")
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--screenshot", type=Path)
    parser.add_argument("--verbose", action="store_true", help="list every GUI stall over 50 ms")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one GUI round, internal
    args = parser.parse_args()

    tmp = isolated_app(prefix="bench-gui-")

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setStyle("Fusion")
    if args.child:
        gui_child(args)
        return 0
    if args.rounds > 0:
        load_before = os.getloadavg()[0]
        rounds = measure(args, tmp)
        section = report(args, rounds, (load_before, os.getloadavg()[0]))
        if args.write_results:
            write_section(section)
            print(f"updated the '{SECTION[3:]}' section of {RESULTS}")
    if args.screenshot:
        screenshot(args, args.screenshot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
