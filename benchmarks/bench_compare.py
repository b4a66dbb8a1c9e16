"""Summary refresh with a baseline pinned: one edit of VGG-19 in the real window, end to end.

Run: QT_QPA_PLATFORM=offscreen python benchmarks/bench_compare.py [--repeats N]

An edit (block 3: 4 ↔ 5 convs, alternating) goes through `ArchDocument.edit` exactly as a typed cell does,
and every slot and the repaint run before it returns: `summarize` on the meta device, the summary tree,
both charts, and with a baseline pinned also `compare`, the Δ columns and removed-layer rows, the ghost
bars and the headline bar. Before each edit every cache is emptied and only the architecture on screen is
summarized again, as the window did when it showed it: the edited architecture was never seen, and its
layers are measured unless they equal one the screen's architecture has at the same input shape (block
3's fifth conv is its fourth's twin). A second edit, block 3: 256 ↔ 320 channels, changes layers: block 3's
and block 4's first conv are measured fresh. The median over N edits is printed for each, and the core's
share (`summarize` + `compare`, no widgets) beside them, also from nothing cached at all. Target: under
50 ms median for the first edit with the baseline pinned.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch
from PySide6.QtWidgets import QApplication

from vgg_studio.compare import compare
from vgg_studio.hardware import cpu_model
from vgg_studio.spec import Block, preset
from vgg_studio.summary import clear_caches, summarize


def toggle_convs(block: Block) -> Block:
    return Block(5 if block.num_convs == 4 else 4, block.out_channels)


def toggle_width(block: Block) -> Block:
    return Block(block.num_convs, 320 if block.out_channels == 256 else 256)


def edits(window, repeats: int, change=toggle_convs) -> list[float]:
    """Milliseconds per edit of block 3, each to an architecture never summarized (see the module doc)."""
    times = []
    document = window.document
    for i in range(repeats + 1):
        clear_caches()
        summarize(document.spec)
        start = time.perf_counter()
        document.set_block(2, change(document.spec.blocks[2]))
        QApplication.processEvents()  # the repaint, and anything queued, counts too
        if i:  # the first edit warms up imports and caches of Qt and pyqtgraph
            times.append((time.perf_counter() - start) * 1000)
    return times


def core(repeats: int, nothing_cached: bool = False) -> list[float]:
    vgg19 = preset("vgg19")
    base = summarize(vgg19)
    times = []
    for i in range(repeats):
        spec = vgg19.with_block(2, Block(5 if i % 2 else 4, 256))
        clear_caches()
        if not nothing_cached:
            summarize(vgg19.with_block(2, Block(4 if i % 2 else 5, 256)))  # the architecture on screen
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

    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, Qt offscreen; load average {os.getloadavg()[0]:.1f}")
    plain = edits(window, args.repeats)
    window.baseline.pin_reference("vgg19")
    pinned = edits(window, args.repeats)
    assert window.summary_view.model.columnCount() > 5, "the Δ columns should be there"
    widths = edits(window, args.repeats, toggle_width)
    window.baseline.unpin()
    window.document.undo_stack.setClean()
    only_core, cold_core = core(args.repeats), core(args.repeats, nothing_cached=True)
    print(f"{'VGG-19 edit, median of ' + str(args.repeats):<48} {'median ms':>10} {'max ms':>8}")
    for label, times in (("window, no baseline", plain), ("window, baseline pinned", pinned),
                         ("window, baseline pinned, 256 ↔ 320 channels", widths),
                         ("core only: summarize + compare", only_core),
                         ("core only, nothing cached", cold_core)):
        print(f"{label:<48} {statistics.median(times):>10.1f} {max(times):>8.1f}")
    ratio = statistics.median(pinned) / statistics.median(plain)
    print(f"baseline pinned / no baseline: {ratio:.2f}x; target under 50 ms: "
          f"{'met' if statistics.median(pinned) < 50 else 'NOT met'}; load average after {os.getloadavg()[0]:.1f}")
    window.close()


if __name__ == "__main__":
    main()
