"""Qt front end. Only this package imports Qt; it observes the spec and calls the core."""

from .main_window import MainWindow

__all__ = ["MainWindow"]
