"""Locate files under the repository's `resources/` folder (presets, the bundled data sample, icons).

`resources/` sits beside the `vgg_studio` package at the repository root; the package is installed
editable, so the folder is found relative to this file. One helper, so a future packaged layout only
changes this module.
"""

from __future__ import annotations

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"


class ResourceError(FileNotFoundError):
    """A bundled file is missing: the installation is incomplete. The message is for the user."""


def resource_path(*parts: str) -> Path:
    """The path of a bundled resource; raises ResourceError naming the path if it is not there."""
    path = RESOURCES_DIR.joinpath(*parts)
    if not path.exists():
        raise ResourceError(
            f"The bundled file {path} is missing. vgg-studio expects its 'resources' folder beside the "
            f"'vgg_studio' package (install from a full checkout with 'pip install -e .')."
        )
    return path
