"""Locate files under the repository's `resources/` folder (presets, the bundled data sample, icons).

`resources/` sits beside the `vgg_studio` package at the repository root; pyproject.toml installs it
as the data-only package `vgg_studio._resources`, so both editable and regular installs find it. Running
from a source tree that was never installed falls back to the folder beside the package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _resources_dir() -> Path:
    spec = importlib.util.find_spec("vgg_studio._resources")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parent.parent / "resources"


RESOURCES_DIR = _resources_dir()


class ResourceError(FileNotFoundError):
    """A bundled file is missing: the installation is incomplete. The message is for the user."""


def resource_path(*parts: str) -> Path:
    """The path of a bundled resource; raises ResourceError naming the path if it is not there."""
    path = RESOURCES_DIR.joinpath(*parts)
    if not path.exists():
        raise ResourceError(
            f"The bundled file {path} is missing. vgg-studio expects its 'resources' folder beside the "
            f"'vgg_studio' package (reinstall vgg-studio from a full checkout)."
        )
    return path
