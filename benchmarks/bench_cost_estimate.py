"""The cost estimate next to Start against the epoch it predicts, in the window as a user meets it.

    python benchmarks/bench_cost_estimate.py [--preset d2l-small] [--rounds 3] [--write-results]

Each round is a fresh process (cold caches, as a user starts the app): the main window on a fresh install,
the preset chosen, every training setting left at the panel's default (Auto data set, 10 epochs, batch 128,
SGD, device auto). It waits for the estimate the window shows before Start (the real `cost.probe_speed`, in
its thread), clicks Start, notes when the progress bar first shows a batch count, lets the first epoch run
to its end (training steps and the test pass, as the estimate counts them) and stops. The actual epoch time
is the window's own: from the run's start event to its first epoch's end. `--write-results` replaces the
"Cost estimate" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gui_training import isolated_app, wait_until, write_section  # a sibling script, not a package

from vgg_studio.hardware import cpu_model

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Cost estimate before Start"


def child(args: argparse.Namespace) -> None:
    """One round in this fresh process; prints the numbers as one JSON line."""
    from vgg_studio import cost
    from vgg_studio.gui.main_window import MainWindow

    load_before = os.getloadavg()
    window = MainWindow(persist=False)
    window.resize(1280, 800)
    window.show()
    t_open = time.perf_counter()
    window.open_preset(args.preset)
    ctl, panel = window.training, window.training.panel
    if not wait_until(lambda: ctl.estimate is not None and not ctl.estimator.is_busy(), 600):
        raise SystemExit(f"no estimate after 600 s: {panel.cost_estimate.text()!r}")
    estimate, shown = ctl.estimate, panel.cost_estimate.text()
    probe_s = time.perf_counter() - t_open
    spec, config = panel.apply_resize(window.document.spec), panel.config()

    marks: dict[str, float] = {}
    speeds: list[tuple[float, int, float]] = []  # (s after Start, batch, examples/sec the engine reported)
    t_click = time.perf_counter()
    panel.train_button.click()
    job = ctl.job
    job.started.connect(lambda _e: marks.setdefault("started", time.perf_counter()))
    job.progress.connect(lambda e: speeds.append((time.perf_counter() - t_click, e.batch, e.examples_per_sec)))
    job.stepped.connect(lambda e: speeds.append((time.perf_counter() - t_click, e.batch, e.examples_per_sec)))
    job.epochEnded.connect(lambda _e: marks.setdefault("epoch", time.perf_counter()))
    batch_shown = re.compile(r"batch [1-9]\d*/")
    if not wait_until(lambda: bool(batch_shown.search(panel.progress.format())), 600):
        raise SystemExit(f"no batch count after 600 s: {panel.progress.format()!r}")
    first_progress_s = time.perf_counter() - t_click
    if not wait_until(lambda: "epoch" in marks or ctl.job is None, 3600):
        raise SystemExit("the first epoch did not end within an hour")
    refined = panel.cost_estimate.text()  # "Epoch 1 took … (estimated before Start: …)"
    last_measured = speeds[-1][2] if speeds else 0.0
    ctl.stop()
    wait_until(lambda: ctl.job is None, 600)
    if "epoch" not in marks:
        raise SystemExit(f"the run ended before its first epoch: {ctl.last_result}")
    epoch_s = marks["epoch"] - marks["started"]
    measured = cost.CostEstimate("", estimate.num_train, estimate.num_test, 1, last_measured, "")
    window.document.undo_stack.setClean()
    window.close()
    print("RESULT " + json.dumps({
        "dataset": estimate.dataset, "num_train": estimate.num_train, "num_test": estimate.num_test,
        "batch_size": config.batch_size, "probe_batch": cost.probe_batch(spec, config.batch_size),
        "estimate_s": estimate.epoch_s, "shown": shown, "probe_s": probe_s,
        "started_s": marks["started"] - t_click, "first_progress_s": first_progress_s, "epoch_s": epoch_s,
        "refined_s": measured.epoch_s,
        "refined_text": refined, "batches": len(speeds) and speeds[-1][1],
        "load_before": load_before, "load_after": os.getloadavg(),
    }), flush=True)


def run_round(args: argparse.Namespace) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--preset", args.preset]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=os.environ.copy())
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"the round failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(line[len("RESULT "):])


def report(args: argparse.Namespace, rounds: list[dict]) -> str:
    import torch

    ratios = [r["estimate_s"] / r["epoch_s"] for r in rounds]
    refined = [r["refined_s"] / r["epoch_s"] for r in rounds]
    first = [r["first_progress_s"] for r in rounds]
    started = [r["started_s"] for r in rounds]
    r0 = rounds[0]
    print(f"median estimate / actual epoch: {statistics.median(ratios):.2f} (target within 0.5–2); "
          f"refined from the run's batches: {statistics.median(refined):.2f}; "
          f"first batch count after Start: median {statistics.median(first):.1f} s (target ≤ 10 s; "
          f"'batch 0/N · first batch…' after {statistics.median(started):.1f} s)")
    loads = [f"{r['load_before'][0]:.2f} → {r['load_after'][0]:.2f}" for r in rounds]
    cpu = cpu_model()
    intro = [
        f"`python benchmarks/bench_cost_estimate.py --preset {args.preset} --rounds {args.rounds}`: "
        f"{args.preset} at its 224 px, every training setting at the panel's default (data set Auto → "
        f"{r0['dataset']}: {r0['num_train']:,} train / {r0['num_test']:,} test images, batch "
        f"{r0['batch_size']}, SGD, 10 epochs, device auto → CPU); {os.cpu_count()} cores ({cpu}, AMX: bf16), "
        f"torch {torch.__version__}, {time.strftime('%Y-%m-%d')}. Each round is a fresh process: the "
        f"window's own estimate before Start (the real probe, at batch {r0['probe_batch']}), then Start, the "
        "first progress with a batch count, and the first epoch timed to its end (from the run's start event "
        "to its epoch-end event: training steps and the test pass, a full epoch, not extrapolated). Other "
        "agents share the machine and load it (1-minute load average per round, start → end: "
        f"{'; '.join(loads)}); load slows the run and the probe alike, so the ratio moves less than either.",
    ]
    return "\n".join([
        SECTION + " (`benchmarks/bench_cost_estimate.py`)",
        "",
        *(textwrap.fill(p, width=110, break_on_hyphens=False) for p in intro),
        "",
        "| round | shown before Start | estimate | actual epoch | estimate / actual | refined from batches "
        "| \"batch 0/N · first batch…\" | batch 1 done: first batch count after Start |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(f"| {i + 1} | {r['shown']} | {r['estimate_s']:.0f} s | {r['epoch_s']:.0f} s | "
          f"{r['estimate_s'] / r['epoch_s']:.2f} | {r['refined_s'] / r['epoch_s']:.2f} | "
          f"{r['started_s']:.1f} s | {r['first_progress_s']:.1f} s |" for i, r in enumerate(rounds)),
        f"| median | | {statistics.median(r['estimate_s'] for r in rounds):.0f} s | "
        f"{statistics.median(r['epoch_s'] for r in rounds):.0f} s | **{statistics.median(ratios):.2f}** "
        f"(target 0.5–2) | {statistics.median(refined):.2f} | {statistics.median(started):.1f} s | "
        f"**{statistics.median(first):.1f} s** "
        "(target ≤ 10 s) |",
        "",
        textwrap.fill("\"Refined\" is the estimate the window shows while training (the engine's measured "
                      "examples/sec at the last report of the epoch, test pass counted as in the estimate) over "
                      "the actual epoch. The progress bar says \"Epoch 1/10 · batch 0/N · first batch…\" once "
                      "the data is ready; the first finished batch (128 images at 224 px) then takes a few "
                      "seconds on two cores.", width=110, break_on_hyphens=False),
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="d2l-small")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one round, internal
    args = parser.parse_args()

    isolated_app(prefix="bench-cost-")

    if args.child:
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([sys.argv[0]])
        app.setStyle("Fusion")
        child(args)
        return 0
    rounds = []
    for i in range(args.rounds):
        r = run_round(args)
        rounds.append(r)
        print(f"round {i + 1}: shown {r['shown']!r} ({r['estimate_s']:.0f} s, probe batch {r['probe_batch']}, "
              f"ready {r['probe_s']:.1f} s after the preset) · actual epoch {r['epoch_s']:.0f} s · ratio "
              f"{r['estimate_s'] / r['epoch_s']:.2f} · refined {r['refined_s'] / r['epoch_s']:.2f} · first batch "
              f"count {r['first_progress_s']:.1f} s (batch 0 shown at {r['started_s']:.1f} s) · load "
              f"{r['load_before'][0]:.2f} → {r['load_after'][0]:.2f}",
              flush=True)
    section = report(args, rounds)
    if args.write_results:
        write_section(section, SECTION)
        print(f"updated the '{SECTION[3:]}' section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
