"""`vgg-studio train --dataset folder:PATH` as a user runs it: what is printed, what the run keeps, the modes.

One small folder (3 classes x 16 images written from the real sample, mixed sizes, modes and formats, and 3
damaged files) serves every test; the tiny preset trains on it in about a second.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from image_folder_maker import make_image_folder
from vgg_studio import cli, engine, image_folder
from vgg_studio.events import DataProgress, Failed, Finished, RunStarted
from vgg_studio.runs import load_run
from vgg_studio.spec import preset
from vgg_studio.train_config import TrainConfig


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("own") / "my pictures", per_class=16, classes=3, corrupt=3,
                             seed=7)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("VGG_STUDIO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("VGG_STUDIO_DATA", str(tmp_path / "data"))
    if "train" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "train"))


def _train(*args: str) -> int:
    return cli.main(["train", "--preset", "tiny", "--epochs", "1", "--batch-size", "16", "--device", "cpu", *args])


def test_train_on_a_folder_reports_what_it_read_and_keeps_the_class_names(pictures, tmp_path, capsys, monkeypatch):
    code = _train("--dataset", f"folder:{pictures.root}", "--out", str(tmp_path / "run"))
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"data: image folder {pictures.root}: {pictures.written} images used in 3 classes" in err
    assert "decoded 51 files" in err and "3 files skipped as unreadable" in err
    log = next(line for line in err.splitlines() if "skipped as unreadable" in line).split("listed in ")[1]
    assert sorted(x.split("\t")[0] for x in Path(log).read_text().splitlines()[1:]) == sorted(pictures.corrupt)
    assert "data: resident on cpu" in err and "Traceback" not in err
    record = load_run(tmp_path / "run")
    assert record.results.classes == pictures.classes
    assert record.config.dataset == f"folder:{pictures.root}" and record.info.dataset == record.config.dataset
    cached = image_folder.load_image_folder(pictures.root, tmp_path / "data", channels=1, size=28)
    assert cached.decoded == 0 and record.results.confusion.sum() == pictures.written - cached.num_train
    assert record.results.examples.shape[1:] == (1, 28, 28)

    # The second run reads the cache: nothing is decoded.
    monkeypatch.setattr(image_folder, "decode_image", lambda *a: pytest.fail("decoded again"))
    assert _train("--dataset", f"folder:{pictures.root}", "--out", str(tmp_path / "again")) == 0
    assert "read from the cache" in capsys.readouterr().err


def test_streaming_trains_like_resident_and_says_why(pictures, tmp_path):
    results, notes = {}, {}
    for mode in ("resident", "stream"):
        events = []
        config = TrainConfig(dataset=f"folder:{pictures.root}", data_dir=str(tmp_path / "data"), epochs=2,
                             batch_size=16, device="cpu", data_mode=mode)
        results[mode] = engine.train(preset("tiny"), config, on_event=events.append, runs_root=tmp_path / "runs")
        started = next(e for e in events if isinstance(e, RunStarted))
        notes[mode] = started.data_notes[-1]
        assert started.classes == pictures.classes
    assert notes["resident"].startswith("resident on cpu") and notes["stream"].startswith("streaming to cpu")
    resident, stream = results["resident"], results["stream"]
    assert isinstance(resident, Finished) and isinstance(stream, Finished)
    # The same batches in the same order: equal up to floating-point noise.
    assert stream.train_loss == pytest.approx(resident.train_loss, rel=1e-3)
    assert stream.test_acc == pytest.approx(resident.test_acc, abs=1 / 6 + 1e-9)


def test_colour_architecture_reads_colour_and_the_cache_size_can_differ(pictures, tmp_path):
    config = TrainConfig(dataset=f"folder:{pictures.root}", data_dir=str(tmp_path / "data"), epochs=1,
                         batch_size=16, device="cpu", cache_size=20)
    result = engine.train(preset("tiny").replace(in_channels=3), config, runs_root=tmp_path / "runs")
    assert isinstance(result, Finished)
    record = load_run(result.run_dir)
    assert record.spec.in_channels == 3 and record.results.examples.shape[1:] == (3, 20, 20)


def test_stopping_while_reading_the_folder(pictures, tmp_path):
    cancel, events = threading.Event(), []

    def on_event(event):
        events.append(event)
        if isinstance(event, DataProgress):
            cancel.set()

    config = TrainConfig(dataset=f"folder:{pictures.root}", data_dir=str(tmp_path / "data"), device="cpu")
    result = engine.train(preset("tiny"), config, on_event=on_event, cancel=cancel, runs_root=tmp_path / "runs")
    assert isinstance(result, Failed) and result.kind == "stopped" and result.run_dir is None
    assert "while reading the image folder" in result.message
    assert isinstance(events[0], DataProgress) and events[0].total == 51


@pytest.mark.parametrize("case", ["missing", "file", "empty", "one class", "no path", "bad fraction"])
def test_unusable_folders_are_a_message_and_exit_status_2(case, tmp_path, capsys):
    root = tmp_path / "pics"
    args = ["--dataset", f"folder:{root}"]
    if case == "file":
        root.write_text("not a folder")
    elif case == "empty":
        root.mkdir()
    elif case == "one class":
        (root / "cats").mkdir(parents=True)
        make_image_folder(tmp_path / "src", per_class=2, classes=1, corrupt=0)
        for f in (tmp_path / "src").rglob("*.*"):
            f.rename(root / "cats" / f.name)
    elif case == "no path":
        args = ["--dataset", "folder:"]
    elif case == "bad fraction":
        args += ["--test-fraction", "1.5"]
    assert _train(*args) == 2
    err = capsys.readouterr().err
    expected = {"missing": f"The image folder {root} does not exist.", "file": f"{root} is a file, not a folder.",
                "empty": f"The image folder {root} is empty", "one class": f"{root} has only one class (cats)",
                "no path": "folder: needs a path", "bad fraction": "Test fraction must be a number"}[case]
    assert err.startswith("vgg-studio: error: ") and expected in err and "Traceback" not in err
    assert not list((tmp_path / "runs").glob("*")) if (tmp_path / "runs").exists() else True


def test_cli_help_documents_the_folder_flags(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("folder:PATH", "--test-fraction", "--cache-size", "--data-mode {auto,resident,stream}"):
        assert flag in text
    assert json.loads(json.dumps(TrainConfig().to_dict()))["data_mode"] == "auto"
    assert np.isclose(TrainConfig().test_fraction, 0.1)
