"""`vgg-studio [FILE.json] [--preset NAME] [--baseline REF] [--screenshot FILE.png]`: start the desktop app.

Bad input (unknown preset, unreadable file) is one clear message, never a traceback. `--screenshot`
renders the window (offscreen when there is no display), writes the PNG and exits.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..cli.common import EXIT_OK, fail
from ..spec import PRESET_NAMES, SpecError, load


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x800, not {text!r}") from None
    if not (200 <= w <= 8192 and 200 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"{text}: width and height must be between 200 and 8192")
    return w, h


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vgg-studio", description="Open the vgg-studio desktop app.")
    parser.add_argument("file", nargs="?", metavar="FILE.json", help="an architecture file to open")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", choices=PRESET_NAMES, metavar="NAME",
                        help=f"open a built-in architecture: {', '.join(PRESET_NAMES)}")
    source.add_argument("--arch", metavar="FILE.json", help="an architecture file to open (same as FILE.json)")
    parser.add_argument("--screenshot", metavar="FILE.png", help="render the window to a PNG and exit")
    parser.add_argument("--size", type=_size, default=(1280, 800), metavar="WxH",
                        help="window size for --screenshot (default 1280x800)")
    parser.add_argument("--baseline", metavar="NAME|FILE|RUN",
                        help="pin a baseline (a preset, an architecture file or a run folder) to compare with")
    parser.add_argument("--select-runs", nargs="+", metavar="RUN_DIR",
                        help="select these runs in the Runs list (two: their settings side by side)")
    return parser


def _headless() -> bool:
    return (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
            and not os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"))


def main(argv: list[str] | None = None) -> int:
    """Run the app (blocks until the window closes) or take a screenshot; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse already printed the one-line reason
        return int(exc.code or 0)
    arch_file = args.arch or args.file
    if args.file and (args.arch or args.preset):
        return fail("give either FILE.json or --preset/--arch, not both")

    baseline = None
    if args.baseline:  # checked before any window exists, like the file
        from ..compare import load_reference

        try:
            baseline = load_reference(args.baseline)
        except SpecError as exc:
            return fail(f"--baseline {args.baseline}: {exc}")

    for run_dir in args.select_runs or []:
        from ..runs import RunError, default_runs_dir, load_setup

        try:
            load_setup(run_dir)
        except RunError as exc:
            return fail(f"--select-runs: {exc}")
        if Path(run_dir).expanduser().resolve().parent != default_runs_dir().resolve():
            return fail(f"--select-runs: {run_dir} is not in the runs folder {default_runs_dir()} "
                        f"(set VGG_STUDIO_RUNS to its folder).")

    # Read the file before any window exists, so a bad file is a message and nothing else.
    spec = None
    if arch_file:
        try:
            spec = load(arch_file)
        except SpecError as exc:
            if args.screenshot:
                return fail(str(exc))
            load_error = str(exc)
        else:
            load_error = None
    else:
        load_error = None

    if _headless():
        if not args.screenshot:
            return fail("no display found (DISPLAY is not set). Use --screenshot FILE.png to render the "
                         "window offscreen, or the command-line tools (vgg-studio summary --help).")
        os.environ["QT_QPA_PLATFORM"] = "offscreen"

    from PySide6.QtWidgets import QApplication, QMessageBox

    from .main_window import APP_NAME, MainWindow
    from .settings import APPLICATION, ORGANIZATION

    app = QApplication.instance()
    owns_app = app is None
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else APP_NAME])
        app.setApplicationName(APPLICATION)
        app.setOrganizationName(ORGANIZATION)
        app.setApplicationDisplayName(APP_NAME)
        app.setStyle("Fusion")

    if args.screenshot:
        window = MainWindow(persist=False)
        try:
            _open(window, spec, arch_file, args.preset)
            _compare(window, args.baseline if baseline is not None else None, args.select_runs)
            return screenshot(window, Path(args.screenshot), args.size)
        finally:
            window.close()
            window.deleteLater()

    window = MainWindow(restore_session=not (arch_file or args.preset))
    _open(window, spec, arch_file, args.preset)
    _compare(window, args.baseline if baseline is not None else None, args.select_runs)
    window.show()
    if load_error:
        window.statusBar().showMessage(load_error, 15000)
        QMessageBox.warning(window, "Cannot open the architecture", load_error)
    if not owns_app:
        return EXIT_OK
    return int(app.exec())


def _open(window, spec, arch_file: str | None, preset_name: str | None) -> None:
    if spec is not None and arch_file:
        window.show_opened(spec, arch_file)
    elif preset_name:
        window.open_preset(preset_name)


def _compare(window, baseline: str | None, run_dirs: list[str] | None) -> None:
    """Pin the baseline and select the runs the command line named (both already checked)."""
    if baseline is not None:
        window.baseline.pin_reference(baseline)
    if run_dirs:
        history = window.training.history
        wanted = {Path(p).expanduser().resolve() for p in run_dirs}
        history.select([info.path for info in history.infos() if info.path.resolve() in wanted])


ESTIMATE_WAIT_S = 120.0  # how long --screenshot waits for the cost estimate (VGG-19 at 224 px on a slow CPU)


def screenshot(window, path: Path, size: tuple[int, int] = (1280, 800)) -> int:
    """Lay the window out at `size`, wait for the cost estimate next to Start, render the window to `path`
    (exactly that many pixels) and report."""
    from PySide6.QtCore import QCoreApplication, QEvent, Qt

    window.resize(*size)
    window.show()
    QCoreApplication.processEvents()
    window.training.estimator.settle(ESTIMATE_WAIT_S)  # its line may wrap and move the panel below it
    for _ in range(3):  # let docks, layouts and the plots settle
        QCoreApplication.processEvents()
    window.default_dock_sizes()
    QCoreApplication.processEvents()
    # Widgets Qt has retired wait for the event loop to delete them, which never runs here: a dock group's
    # stale tab bar (Qt makes a second one when a group is tabified beside another) would be in the picture.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    image = window.grab().toImage()
    if image.width() != size[0] or image.height() != size[1]:  # high-DPI screens grab more pixels
        image = image.scaled(size[0], size[1], Qt.AspectRatioMode.IgnoreAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(path), "PNG"):
        return fail(f"cannot write the screenshot to {path}")
    print(f"wrote {path} ({size[0]}x{size[1]})")
    return EXIT_OK
