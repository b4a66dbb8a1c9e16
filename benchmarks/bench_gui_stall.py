"""How long the GUI thread ever stalls while the window measures an architecture and while it runs a sweep.

    python benchmarks/bench_gui_stall.py [--preset tiny] [--vary ratio=4,8] [--epochs 1] [--rounds 3]
                                        [--write-results]

Each round is a fresh process (as a user starts the app): the main window on the preset, the training
settings set through the training panel (bundled sample, CPU), then Measure clicked in the Measure panel and,
once it is done, Start sweep clicked in the Sweep panel with `--vary`. The stall meter is the one of
`bench_gui_training.py`: a 10 ms QTimer on the GUI thread; the longest gap between two of its ticks from the
click to the end is the longest the window was unresponsive. Target: never over 100 ms (median of the
rounds). `--write-results` replaces the "GUI stalls: measure and sweep" section of benchmarks/RESULTS.md.
"""
# ruff: noqa: E501  (the markdown table rows it writes are long)

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gui_training import StallMeter, wait_until, write_section

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## GUI stalls: measure and sweep"
TARGET_S = 0.100


def child(args: argparse.Namespace) -> None:
    """One round in this process: measure, then sweep, each under the stall meter; prints JSON."""
    from PySide6.QtWidgets import QApplication

    from vgg_studio.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(persist=False)
    window.open_preset(args.preset)
    panel = window.training.panel
    panel.dataset.setCurrentIndex(panel.dataset.findData("sample"))
    panel.epochs.setValue(args.epochs)
    panel.batch_size.setValue(args.batch_size)
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    window.resize(1280, 800)
    window.show()
    eff = window.efficiency
    meter = StallMeter()
    out = {}

    eff.measure_dock.raise_()
    wait_until(lambda: False, 0.5)  # settle: first paint, the chart's first refresh
    meter.start()
    t0 = time.perf_counter()
    eff.measure.button.click()
    if not wait_until(lambda: not eff.measure.is_running(), 600):
        raise SystemExit("the measurement did not finish in time")
    out["measure"] = {"stall_s": meter.stop(), "gaps": meter.long_gaps, "seconds": time.perf_counter() - t0,
                      "train_ex_s": eff.measure.result.train_examples_per_sec if eff.measure.result else None}

    eff.sweep_dock.raise_()
    knob, values = args.vary.split("=", 1)
    eff.sweep.knob.setCurrentIndex(eff.sweep.knob.findData(knob))
    eff.sweep.values.setText(values)
    wait_until(lambda: False, 0.3)
    meter.start()
    t0 = time.perf_counter()
    eff.sweep.start_button.click()
    if not wait_until(lambda: not eff.sweep.is_running(), 3600):
        raise SystemExit("the sweep did not finish in time")
    done = eff.sweep.done
    out["sweep"] = {"stall_s": meter.stop(), "gaps": meter.long_gaps, "seconds": time.perf_counter() - t0,
                    "variants": len(done.results) if done else 0}
    window.document.undo_stack.setClean()
    window.close()
    app.processEvents()
    print("RESULT " + json.dumps(out), flush=True)


def run_round(args: argparse.Namespace, runs_dir: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--preset", args.preset, "--vary", args.vary,
           "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    env = {**os.environ, "VGG_STUDIO_RUNS": str(runs_dir), "VGG_STUDIO_MEASUREMENTS": str(runs_dir / "m.json"),
           "VGG_STUDIO_SETTINGS": str(runs_dir / "settings.ini")}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"the round failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(line[len("RESULT "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--vary", default="ratio=4,8")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        child(args)
        return

    import torch

    rounds, loads = [], []
    for i in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            loads.append(os.getloadavg()[0])
            r = run_round(args, Path(tmp))
            rounds.append(r)
            print(f"round {i + 1}: measure stall {r['measure']['stall_s'] * 1e3:.0f} ms over "
                  f"{r['measure']['seconds']:.1f} s; sweep stall {r['sweep']['stall_s'] * 1e3:.0f} ms over "
                  f"{r['sweep']['seconds']:.1f} s ({r['sweep']['variants']} variants); load {loads[-1]:.1f}",
                  flush=True)
    med_m = statistics.median(r["measure"]["stall_s"] for r in rounds)
    med_s = statistics.median(r["sweep"]["stall_s"] for r in rounds)
    worst = max(max(r["measure"]["stall_s"], r["sweep"]["stall_s"]) for r in rounds)
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU threads, torch "
               f"{torch.__version__} ({torch.get_num_threads()} threads), Python {platform.python_version()}, "
               f"Qt platform {os.environ.get('QT_QPA_PLATFORM', 'offscreen (set by the child)')}")
    print(f"median longest stall: measure {med_m * 1e3:.0f} ms, sweep {med_s * 1e3:.0f} ms "
          f"(worst of all rounds {worst * 1e3:.0f} ms; target under {TARGET_S * 1e3:.0f} ms)")
    print(f"machine: {machine}; load averages at the rounds' starts: {', '.join(f'{x:.1f}' for x in loads)}")
    if args.write_results:
        rows = "\n".join(
            f"| {i + 1} | {r['measure']['stall_s'] * 1e3:.0f} | {r['measure']['seconds']:.1f} | "
            f"{r['sweep']['stall_s'] * 1e3:.0f} | {r['sweep']['seconds']:.1f} | {r['sweep']['variants']} | "
            f"{loads[i]:.1f} |" for i, r in enumerate(rounds))
        gaps = sorted((g for r in rounds for part in ("measure", "sweep") for g in r[part]["gaps"]),
                      key=lambda g: -g[1])[:5]
        text = textwrap.dedent(f"""\
            {SECTION} (`benchmarks/bench_gui_stall.py`)

            Command: `.venv/bin/python benchmarks/bench_gui_stall.py --preset {args.preset} --vary {args.vary} \\
            --epochs {args.epochs} --batch-size {args.batch_size} --rounds {args.rounds} --write-results`, run
            {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Each round is a fresh process: the main window
            (offscreen Qt), Measure clicked in the Measure panel, then Start sweep in the Sweep panel (bundled
            sample, CPU); a 10 ms QTimer on the GUI thread records the longest gap between its ticks from each
            click to the end. Machine: {machine}.

            | round | measure: longest stall (ms) | measure (s) | sweep: longest stall (ms) | sweep (s) | variants | load at start |
            | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
            """) + rows + textwrap.dedent(f"""

            Median of the rounds' longest stall: **measure {med_m * 1e3:.0f} ms, sweep {med_s * 1e3:.0f} ms**
            (target: under {TARGET_S * 1e3:.0f} ms; worst single stall {worst * 1e3:.0f} ms). Longest gaps over
            50 ms (seconds after the click, gap in ms): {', '.join(f'{t:.1f} s: {g * 1e3:.0f}' for t, g in gaps) or 'none'}.
            """)
        write_section(text, SECTION)


if __name__ == "__main__":
    main()
