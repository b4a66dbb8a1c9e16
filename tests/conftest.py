"""Suite-wide settings: Qt renders offscreen, nothing touches the user's data, runs or settings, and
`--update-golden` rewrites the stored expected outputs under tests/golden/ instead of comparing with them."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/* from the current output instead of comparing with it")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
