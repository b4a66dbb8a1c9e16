"""The layering rule, checked rather than only written down: the core imports no Qt."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import vgg_studio

QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6")


def core_modules() -> list[str]:
    """Every module of the package outside vgg_studio.gui (and the `python -m` entry point, which runs the app)."""
    names = [m.name for m in pkgutil.walk_packages(vgg_studio.__path__, "vgg_studio.")]
    return ["vgg_studio", *(n for n in names if not n.startswith("vgg_studio.gui") and n != "vgg_studio.__main__")]


def test_core_modules_import_without_qt():
    modules = core_modules()
    assert {"vgg_studio.engine", "vgg_studio.runs", "vgg_studio.data", "vgg_studio.cli.train"} <= set(modules)
    code = ("import importlib, sys\n"
            f"for name in {modules!r}: importlib.import_module(name)\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"core modules imported Qt: {done.stdout}"
