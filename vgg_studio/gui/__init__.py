"""Qt front end. Only this package imports Qt; it observes the spec and calls the core."""

from . import pyside_workarounds  # noqa: F401  (first: keeps a PySide 6.12 refcount bug from aborting)
from .main_window import MainWindow

__all__ = ["MainWindow"]
