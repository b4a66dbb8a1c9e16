"""Suite-wide settings: Qt renders offscreen, nothing touches the user's data, runs, settings or cache, and
`--update-golden` rewrites the stored expected outputs under tests/golden/ instead of comparing with them."""

import os
import tempfile

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The measured hardware peaks (hardware.py) go to a folder of this test session, not the user's cache; the
# probe then runs once per session and dtype, and CLI subprocesses inherit the folder.
os.environ["VGG_STUDIO_CACHE"] = tempfile.mkdtemp(prefix="vgg-studio-test-cache-")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/* from the current output instead of comparing with it")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
