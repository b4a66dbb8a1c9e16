"""Where the app remembers things between launches (QSettings): the session, recent files, helpers to read values.

The location is configurable so that tests and screenshots never touch the user's own settings:
set the environment variable VGG_STUDIO_SETTINGS to an .ini path, or pass organization/application.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

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


class Session:
    """What the window remembers between launches: the last file or preset, the last folder, recent files,
    geometry and dock layout. With `persist=False` (screenshots, tests) it reads and writes nothing.
    """

    def __init__(self, settings: QSettings, persist: bool = True) -> None:
        self.settings = settings
        self.persist = persist
        self.recent = RecentFiles(settings)

    def last_dir(self) -> str:
        return read_str(self.settings, "session/lastDir") if self.persist else ""

    def last_opened(self, default_preset: str) -> tuple[str, str]:
        """("file", path) or ("preset", name): what was open when the app last closed."""
        kind = read_str(self.settings, "session/lastKind")
        last_file = read_str(self.settings, "session/lastFile")
        if self.persist and kind == "file" and last_file:
            return "file", last_file
        return "preset", read_str(self.settings, "session/lastPreset", default_preset) if self.persist \
            else default_preset

    def opened_preset(self, name: str) -> None:
        if self.persist:
            self.settings.setValue("session/lastKind", "preset")
            self.settings.setValue("session/lastPreset", name)

    def opened_file(self, path: str | os.PathLike[str]) -> None:
        """A file was opened or saved: it becomes the one to reopen, its folder the next dialog's start."""
        if not self.persist:
            return
        path = Path(path)
        self.recent.add(path)
        self.settings.setValue("session/lastKind", "file")
        self.settings.setValue("session/lastFile", str(path))
        self.settings.setValue("session/lastDir", str(path.parent))

    def save_window(self, window: QMainWindow) -> None:
        if self.persist:
            self.settings.setValue("window/geometry", window.saveGeometry())
            self.settings.setValue("window/state", window.saveState())

    def restore_window(self, window: QMainWindow) -> None:
        if not self.persist:
            return
        geometry = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if isinstance(geometry, QByteArray):
            window.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            window.restoreState(state)

    def sync(self) -> None:
        if self.persist:
            self.settings.sync()
