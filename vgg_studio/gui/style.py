"""The app's few semantic colours and the style sheets built from them, so every panel marks an error,
a warning or a muted hint the same way. Chart palettes stay with their charts (each is used once).
"""

from __future__ import annotations

ERROR = "#c0392b"  # error text: failed runs, messages, misclassified images
ERROR_STRONG = "#a4161a"  # the status bar's "Not valid"
ERROR_BG = "#fbe3e4"  # a field or table row with an error
ERROR_CELL_BG = "#f3a8ab"  # the very cell at fault
ERROR_BORDER = "#e39a9e"
ERROR_BANNER_TEXT = "#5c1114"
WARNING = "#b9770e"  # warning text: cancelled runs, data not on disk
WARNING_BG = "#fff1c2"  # a field or cell with a warning
OK = "#1e8449"  # correct predictions
RUNNING = "#1f77b4"  # a run in progress
DARK_TEXT = "#1b1b1b"  # text on the light error/warning backgrounds
DERIVED_TEXT = "#5a5a5a"  # numbers the user does not edit
DELTA_UP = "#a04000"  # a delta against the baseline that costs more (parameters, FLOPs, memory)
DELTA_DOWN = "#1e6b3a"  # a delta that saves
BASELINE_BG = "#e8f0fb"  # the baseline's headline bar
GHOST = "#4d4d4d"  # the outline of the baseline's ghost bars
GHOST_FILL = "#0000000f"  # their faint fill (#RRGGBBAA), so a removed layer still reads as a box

MUTED_STYLE = "color: palette(mid);"
ERROR_TEXT_STYLE = f"color: {ERROR};"
WARNING_TEXT_STYLE = f"color: {WARNING};"
ERROR_FIELD_STYLE = f"background-color: {ERROR_BG}; color: {DARK_TEXT};"
WARNING_FIELD_STYLE = f"background-color: {WARNING_BG}; color: {DARK_TEXT};"
BANNER_STYLE = (f"QLabel {{ background: {ERROR_BG}; color: {ERROR_BANNER_TEXT}; border: 1px solid {ERROR_BORDER}; "
                "border-radius: 3px; padding: 4px 6px; }")
