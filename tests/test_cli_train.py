"""`vgg-studio train` in-process (on a small draw of the real sample) and once as a real process with Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sample_subset import sample_subset
from vgg_studio import cli, data, training_data
from vgg_studio.cli import train as cli_train
from vgg_studio.events import BatchProgress, EpochEnd, Finished, RunStarted
from vgg_studio.train_config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
REGISTERED = "train" in cli.COMMAND_MODULES  # as shipped, before any test patches it


def _subset(n_train: int, n_test: int) -> data.Dataset:
    return sample_subset(n_train, n_test, seed=1)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Runs and data go to temporary folders; the engine trains on 600 + 100 real sample images."""
    monkeypatch.setenv("VGG_STUDIO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("VGG_STUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(training_data, "load_dataset", lambda name, data_dir=None, device="cpu", download=True:
                        _subset(600, 100).to(device) if name == "sample" else data.load_dataset(name, data_dir, device))
    if "train" not in cli.COMMAND_MODULES:  # registered by the lead in cli/__init__.py
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "train"))


def _main(*args: str) -> int:
    return cli.main(["train", *args])


def test_train_prints_epochs_and_the_seed_lines(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code = _main("--preset", "tiny", "--epochs", "2", "--batch-size", "50", "--device", "cpu", "--out", str(out_dir),
                 "--classes", "5")
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    # The hardware's share of the peak measured for the dtype this CPU trains in (see hardware.py).
    share = re.fullmatch(r"epoch 1/2: loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}, "
                         r"\d+\.\d examples/sec \(≈ ([\d.]+)% of this CPU's (bf16|fp32) peak\), \d+:\d\d elapsed",
                         lines[0])
    assert share and 0 < float(share.group(1)) <= 100, lines[0]
    assert lines[1].startswith("epoch 2/2: ")
    assert re.fullmatch(r"loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}", lines[2]), lines[2]
    assert re.fullmatch(r"\d+\.\d examples/sec on cpu", lines[3]), lines[3]
    assert lines[4] == f"run folder: {out_dir}"
    assert "bundled sample" in err  # auto found no full Fashion-MNIST in the (empty) data folder
    assert "--classes is ignored when training" in err
    assert re.search(r"^epoch 1/2 \[#*\.*\] \d+/12  loss ", err, re.M)  # plain progress lines: not a TTY
    assert "\r" not in err and "Traceback" not in err
    run = json.loads((out_dir / "run.json").read_text())
    assert run["status"] == "finished" and run["epochs_done"] == 2 and run["dataset"] == "sample"


def test_resume_through_the_cli(tmp_path, capsys):
    out_dir = tmp_path / "run"
    first = ("--preset", "tiny", "--epochs", "1", "--batch-size", "50", "--device", "cpu", "--out", str(out_dir))
    assert _main(*first) == 0
    capsys.readouterr()
    assert _main("--resume", str(out_dir), "--epochs", "2") == 0
    out, err = capsys.readouterr()
    assert "epoch 1/2:" not in out and out.startswith("epoch 2/2:") and "resuming after epoch 1" in err
    assert json.loads((out_dir / "run.json").read_text())["epochs_done"] == 2
    assert _main("--resume", str(out_dir)) == 2
    assert "more than 2 epochs" in capsys.readouterr().err


def test_parent_run_and_its_label(tmp_path, capsys):
    from vgg_studio.lineage import Setups, run_label
    from vgg_studio.runs import list_runs

    common = ("--preset", "tiny", "--epochs", "1", "--batch-size", "100", "--device", "cpu")
    assert _main(*common, "--out", str(tmp_path / "runs" / "a")) == 0
    assert _main(*common, "--ratio", "2", "--parent", str(tmp_path / "runs" / "a"),
                 "--out", str(tmp_path / "runs" / "b")) == 0
    child = next(i for i in list_runs(tmp_path / "runs") if i.path.name == "b")
    assert child.parent == str((tmp_path / "runs" / "a").resolve())
    assert run_label(child, Setups()).text == "ratio 1 → 2"
    capsys.readouterr()
    assert _main(*common, "--parent", str(tmp_path)) == 2
    assert "--parent: " in capsys.readouterr().err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("flags, words", [
    (("--lr", "0.001", "--momentum", "0.9"), "cannot change lr 0.05 → 0.001, momentum 0.0 → 0.9"),
    (("--optimizer", "adam"), "cannot change optimizer sgd → adam"),
])
def test_a_resume_that_would_change_the_recipe_exits_2_and_changes_nothing(tmp_path, capsys, flags, words):
    out_dir = tmp_path / "run"
    assert _main("--preset", "tiny", "--epochs", "1", "--batch-size", "50", "--device", "cpu", "--out",
                 str(out_dir)) == 0
    capsys.readouterr()
    before = _snapshot(out_dir)
    assert _main("--resume", str(out_dir), "--epochs", "2", *flags) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and "unexpected" not in err
    assert _snapshot(out_dir) == before
    assert json.loads((out_dir / "config.json").read_text())["lr"] == 0.05  # what training used


def test_runs_folder_that_is_a_file_exits_2(tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("VGG_STUDIO_RUNS", str(tmp_path / "file"))
    assert _main("--preset", "tiny", "--epochs", "1", "--device", "cpu") == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err and "FileExistsError" not in err


@pytest.mark.parametrize("args, words", [
    ((), "choose an architecture"),
    (("--preset", "tiny", "--lr", "-1"), "Learning rate must be"),
    (("--preset", "tiny", "--batch-size", "0"), "Batch size must be"),
    (("--preset", "vgg11", "--input-size", "28"), "Block 5"),
    (("--preset", "tiny", "--resume", "x"), "its own architecture"),
    (("--out", "a", "--resume", "b"), "not allowed with argument"),
    (("--resume", "nowhere"), "not a vgg-studio run"),
    (("--arch", "missing.json"), "No such architecture file"),
])
def test_bad_input_exits_2_with_words(capsys, args, words):
    try:
        code = _main(*args)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err


def test_missing_data_exits_2(tmp_path, capsys, monkeypatch):
    import torchvision

    def no_network(self):
        raise OSError("network disabled in the tests")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", no_network)
    empty = tmp_path / "empty"
    empty.mkdir()
    code = _main("--preset", "tiny", "--dataset", "fashion-mnist", "--data-dir", str(empty), "--device", "cpu")
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("vgg-studio: error: ") and str(empty) in err and "Traceback" not in err


def test_divergence_exits_1(capsys):
    code = _main("--preset", "tiny", "--lr", "100", "--batch-size", "50", "--device", "cpu")
    err = capsys.readouterr().err
    assert code == 1 and "learning rate 100" in err and "run folder: " in err


def test_optimizer_defaults_and_announcements(tmp_path, capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--preset", "tiny", "--optimizer", "adam"])
    assert cli_train._config(args, TrainConfig()).lr == 1e-3
    args = parser.parse_args(["train", "--preset", "tiny", "--optimizer", "adam", "--lr", "0.01", "--no-amp"])
    config = cli_train._config(args, TrainConfig())
    assert (config.lr, config.amp, config.optimizer) == (0.01, False, "adam")

    raw = tmp_path / "full" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.IDX_FILES:
        (raw / name).touch()
    cli_train._announce_dataset(TrainConfig(data_dir=str(tmp_path / "full")))
    assert "full Fashion-MNIST" in capsys.readouterr().err


def test_live_progress_line_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out, err = io.StringIO(), Tty()
    show = cli_train.Printer(out, err)
    show(RunStarted("r", "cpu", "sample", 100, 10, 1, 2, 0, 1000))
    assert "1 batch per epoch" in err.getvalue()
    show(BatchProgress(1, 2, 4, 0.5, 1.234, 0.5, 800.0, 65.0))
    assert err.getvalue().endswith("\r\033[Kepoch 1/2 [##########..........] 2/4  loss 1.234  acc 0.500  "
                                   "800.0 ex/s  ETA 1:05")
    show(EpochEnd(1, 1.0, 0.6, 0.7, 800.0, 3.0, 3.0, 0.05))
    assert err.getvalue().endswith("\r\033[K") and out.getvalue().startswith("epoch 1/2: loss 1.000")
    show(Finished("r", "cpu", 1, 1.0, 0.6, 0.7, 800.0, cancelled=True))
    assert "stopped on request after 1 finished epoch;" in err.getvalue()
    assert out.getvalue().splitlines()[1:] == ["loss 1.000, train acc 0.600, test acc 0.700",
                                               "800.0 examples/sec on cpu", "run folder: r"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_in_a_real_process_stops_cleanly(tmp_path):
    """`python -m vgg_studio train` on the full bundled sample; Ctrl-C after the first progress line."""
    if not REGISTERED:
        pytest.skip("vgg_studio/cli/__init__.py does not register the train command yet")
    out_dir = tmp_path / "run"
    env = {**os.environ, "VGG_STUDIO_RUNS": str(tmp_path / "runs"), "VGG_STUDIO_DATA": str(tmp_path / "data"),
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vgg_studio", "train", "--preset", "tiny", "--epochs", "3",
                             "--device", "cpu", "--out", str(out_dir)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = []
    deadline = time.monotonic() + 120
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("epoch 1/3 ["):
                proc.send_signal(signal.SIGINT)
                break
            assert time.monotonic() < deadline, seen
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    err = "".join(seen) + err
    assert proc.returncode == 130, err
    assert "stopping after this batch" in err and "stopped on request after 0 finished epochs" in err
    assert "Traceback" not in err and f"run folder: {out_dir}" in out
    run = json.loads((out_dir / "run.json").read_text())
    assert run["status"] == "cancelled" and run["dataset"] == "sample"
    steps = (out_dir / "steps.csv").read_text().splitlines()[1:]
    # the progress point, and at most one batch more (the signal may arrive while the next batch runs)
    assert 1 <= len(steps) <= 2 and float(steps[-1].split(",")[0]) <= 17 / 79
