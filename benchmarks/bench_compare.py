"""Summary refresh with a baseline pinned: one edit of VGG-19 in the real window, end to end.

Run: QT_QPA_PLATFORM=offscreen python benchmarks/bench_compare.py [--repeats N]

An edit (block 3: 4 ↔ 5 convs, alternating) goes through `ArchDocument.edit` exactly as a typed cell does,
and every slot runs before it returns: `summarize` on the meta device (cold: its cache is cleared before
each edit, as for an architecture never seen), the summary tree's refill, both charts, and with a baseline
pinned also `compare`, the Δ columns and removed-layer rows, the ghost bars and the headline bar. The
median over N edits is printed with and without the baseline, and the core's share (`summarize` +
`compare`, no widgets) beside it. Target: under 50 ms median with the baseline pinned.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch
from PySide6.QtWidgets import QApplication

from vgg_studio.compare import compare
from vgg_studio.spec import Block, preset
from vgg_studio.summary import summarize


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def edits(window, repeats: int) -> list[float]:
    """Milliseconds per edit, each a cold summary (the cache is cleared first)."""
    times = []
    document = window.document
    for i in range(repeats + 1):
        convs = 5 if document.spec.blocks[2].num_convs == 4 else 4
        summarize.cache_clear()
        start = time.perf_counter()
        document.set_block(2, Block(convs, 256))
        QApplication.processEvents()  # anything queued (none expected) counts too
        if i:  # the first edit warms up imports and caches of Qt and pyqtgraph
            times.append((time.perf_counter() - start) * 1000)
    return times


def core(repeats: int) -> list[float]:
    base = summarize(preset("vgg19"))
    times = []
    for i in range(repeats):
        spec = preset("vgg19").with_block(2, Block(5 if i % 2 else 4, 256))
        summarize.cache_clear()
        start = time.perf_counter()
        compare(base, summarize(spec))
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()

    from vgg_studio.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(persist=False)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    window.open_preset("vgg19")

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, Qt offscreen; load average {os.getloadavg()[0]:.1f}")
    plain = edits(window, args.repeats)
    window.baseline.pin_reference("vgg19")
    pinned = edits(window, args.repeats)
    assert window.summary_view.model.columnCount() > 5, "the Δ columns should be there"
    window.baseline.unpin()
    window.document.undo_stack.setClean()
    only_core = core(args.repeats)
    print(f"{'VGG-19 edit, median of ' + str(args.repeats):<40} {'median ms':>10} {'max ms':>8}")
    for label, times in (("window, no baseline", plain), ("window, baseline pinned", pinned),
                         ("core only: summarize + compare", only_core)):
        print(f"{label:<40} {statistics.median(times):>10.1f} {max(times):>8.1f}")
    ratio = statistics.median(pinned) / statistics.median(plain)
    print(f"baseline pinned / no baseline: {ratio:.2f}x; target under 50 ms: "
          f"{'met' if statistics.median(pinned) < 50 else 'NOT met'}; load average after {os.getloadavg()[0]:.1f}")
    window.close()


if __name__ == "__main__":
    main()
