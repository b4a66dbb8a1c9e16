"""Suite-wide settings: Qt renders offscreen, nothing touches the user's data, runs, settings or cache, and
`--update-golden` rewrites the stored expected outputs under tests/golden/ instead of comparing with them.

`tiny_run`: one finished training run shared by the export and predict tests (core and GUI).
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The measured hardware peaks (hardware.py) go to a folder of this test session, not the user's cache; the
# probe then runs once per session and dtype, and CLI subprocesses inherit the folder.
os.environ["VGG_STUDIO_CACHE"] = _CACHE = tempfile.mkdtemp(prefix="vgg-studio-test-cache-")
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/* from the current output instead of comparing with it")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished 1-epoch `tiny` run on 600 + 100 real sample images, trained once per session. Read-only:
    a test that changes a run works on a copy."""
    from sample_subset import sample_subset
    from vgg_studio import engine, training_data
    from vgg_studio.spec import preset
    from vgg_studio.train_config import TrainConfig

    folder = tmp_path_factory.mktemp("tiny-run") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training_data, "load_dataset", lambda name, data_dir=None, device="cpu", download=True:
                   sample_subset(600, 100).to(device))
        result = engine.train(preset("tiny"), TrainConfig(dataset="sample", epochs=1, batch_size=50, device="cpu"),
                              run_dir=folder)
    assert result.run_dir == str(folder) and not getattr(result, "cancelled", True), result
    return folder
