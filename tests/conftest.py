"""Suite-wide settings: Qt renders offscreen, and nothing touches the user's data, runs or settings."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
