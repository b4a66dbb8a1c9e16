"""Where the app remembers things between launches (QSettings), and the recent-files list.

The location is configurable so that tests and screenshots never touch the user's own settings:
set the environment variable VGG_STUDIO_SETTINGS to an .ini path, or pass organization/application.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

SETTINGS_ENV = "VGG_STUDIO_SETTINGS"
ORGANIZATION = "vgg-studio"
APPLICATION = "vgg-studio"
RECENT_LIMIT = 8


def open_settings(organization: str = ORGANIZATION, application: str = APPLICATION) -> QSettings:
    """An INI-backed QSettings: at $VGG_STUDIO_SETTINGS if set, else in the per-user config folder."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, organization, application)


def read_str(settings: QSettings, key: str, default: str = "") -> str:
    value = settings.value(key, default)
    return value if isinstance(value, str) else default


def read_int(settings: QSettings, key: str, default: int) -> int:
    """INI files store everything as text; a hand-edited bad value falls back to the default."""
    try:
        return int(settings.value(key, default))
    except (TypeError, ValueError):
        return default


class RecentFiles:
    """Most-recent-first list of architecture files, stored as absolute paths."""

    def __init__(self, settings: QSettings, key: str = "recentFiles", limit: int = RECENT_LIMIT) -> None:
        self._settings = settings
        self._key = key
        self._limit = limit

    def paths(self) -> list[Path]:
        raw = self._settings.value(self._key, [])
        if isinstance(raw, str):  # QSettings returns a lone string for a one-element list in INI files
            raw = [raw]
        return [Path(p) for p in (raw or []) if isinstance(p, str) and p]

    def add(self, path: str | os.PathLike[str]) -> None:
        path = Path(path).resolve()
        items = [path, *[p for p in self.paths() if p != path]][: self._limit]
        self._settings.setValue(self._key, [str(p) for p in items])

    def remove(self, path: str | os.PathLike[str]) -> None:
        path = Path(path).resolve()
        self._settings.setValue(self._key, [str(p) for p in self.paths() if p != path])

    def clear(self) -> None:
        self._settings.setValue(self._key, [])
