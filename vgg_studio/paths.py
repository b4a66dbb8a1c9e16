"""Per-user folders (data, runs), one rule for every platform so the CLI and the GUI agree."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_dir(name: str, env_var: str) -> Path:
    """`<platform data folder>/vgg-studio/<name>`, or `$env_var` when set; not created here."""
    override = os.environ.get(env_var)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME")  # the XDG spec ignores relative paths
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "vgg-studio" / name
