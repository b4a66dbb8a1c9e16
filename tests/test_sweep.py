"""Sweeps: knobs parsed and validated before anything trains; variants trained as grouped runs; stop mid-sweep;
`vgg-studio sweep` and `vgg-studio runs` over the same folder (a small draw of the real sample)."""

from __future__ import annotations

import csv
import io
import json
import threading

import pytest

from sample_subset import sample_subset
from vgg_studio import training_data
from vgg_studio import cli, data
from vgg_studio.efficiency import collect, pareto_front
from vgg_studio.events import Finished
from vgg_studio.runs import list_runs, load_run
from vgg_studio.spec import Block, preset, save
from vgg_studio.sweep import SweepError, VariantDone, VariantStarted, parse_vary, run_sweep, variants
from vgg_studio.train_config import TrainConfig

TINY = preset("tiny")
BASE = TrainConfig(dataset="sample", device="cpu", epochs=1, batch_size=50, points_per_epoch=2)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Runs, data and measurements in temporary folders; the engine trains on 200 + 100 real sample images."""
    monkeypatch.setenv("VGG_STUDIO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("VGG_STUDIO_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("VGG_STUDIO_MEASUREMENTS", str(tmp_path / "measurements.json"))
    monkeypatch.setattr(training_data, "load_dataset", lambda name, data_dir=None, device="cpu", download=True:
                        sample_subset(200, 100, seed=2).to(device) if name == "sample"
                        else data.load_dataset(name, data_dir, device))


# ---- knobs ----------------------------------------------------------------------------------------

def test_architecture_knobs():
    by = {v.label: v.spec for v in variants(TINY, BASE, "ratio=1,2,4")}
    assert {k: s.ratio for k, s in by.items()} == {"ratio=1": 1, "ratio=2": 2, "ratio=4": 4}
    assert [v.spec.input_size for v in variants(TINY, BASE, "input-size=32, 56")] == [32, 56]
    assert [v.spec.blocks for v in variants(TINY, BASE, "blocks=1,3")] == [
        (Block(1, 32),), (Block(1, 32), Block(2, 64), Block(2, 64))]  # dropped from / repeated at the end
    assert [v.spec.blocks for v in variants(TINY, BASE, "convs=3")] == [(Block(3, 32), Block(3, 64))]
    assert [v.spec.blocks[1] for v in variants(TINY, BASE, "block2.channels=16,128")] == [Block(2, 16),
                                                                                          Block(2, 128)]
    assert [v.spec.blocks[0] for v in variants(TINY, BASE, "block1.convs=2")] == [Block(2, 32)]
    assert [v.spec.hidden for v in variants(TINY, BASE, "hidden=512:512,64,none")] == [(512, 512), (64,), ()]
    assert [v.spec.dropout for v in variants(TINY, BASE, "dropout=0,0.5")] == [0.0, 0.5]
    assert [v.spec.name for v in variants(TINY, BASE, "preset=tiny,d2l-small")] == ["tiny", "d2l-small"]


def test_training_knobs_leave_the_architecture():
    vs = variants(TINY, BASE, "lr=0.01,0.1")
    assert [v.config.lr for v in vs] == [0.01, 0.1] and all(v.spec == TINY for v in vs)
    assert [v.config.optimizer for v in variants(TINY, BASE, "optimizer=sgd,adam")] == ["sgd", "adam"]
    assert [v.config.batch_size for v in variants(TINY, BASE, "batch-size=32,64")] == [32, 64]
    assert [v.config.epochs for v in variants(TINY, BASE, "epochs=1,2")] == [1, 2]


def test_architecture_files(tmp_path):
    save(TINY.replace(name="mine", ratio=2), tmp_path / "a.json")
    vs = variants(TINY, BASE, f"arch={tmp_path / 'a.json'}")
    assert vs[0].spec.name == "mine" and vs[0].spec.ratio == 2


@pytest.mark.parametrize("vary, words", [
    ("nope=1", "Unknown knob 'nope'"),
    ("ratio=1,zero", "--vary ratio=zero: not a whole number."),
    ("ratio", "KNOB=V1,V2"),
    ("ratio=", "comma-separated"),
    ("ratio=1,,2", "comma-separated"),
    ("ratio=2,2", "2 appears more than once"),
    ("ratio=1,64", "--vary ratio=64 is not a valid variant: Block 1: 32 channels divided by ratio 64"),
    ("input_size=28,2", "--vary input_size=2 is not a valid variant"),
    ("blocks=0", "at least one block"),
    ("block9.channels=8", "blocks 1 to 2, not block 9"),
    ("optimizer=sgd,lion", "--vary optimizer=lion: not one of sgd, adam, adamw."),
    ("lr=0.1,-1", "--vary lr=-1 is not a valid variant: Learning rate"),
    ("hidden=4096:x", "not a list of widths"),
    ("arch=missing.json", "No such architecture file"),
    ("preset=vgg99", "not one of"),
])
def test_bad_values_are_named(vary, words):
    with pytest.raises(SweepError) as info:
        variants(TINY, BASE, vary)
    assert words in str(info.value)


def test_parse_vary_splits_and_trims():
    knob, values = parse_vary("Batch-Size = 32 , 64")
    assert knob.name == "batch_size" and values == ["32", "64"]


# ---- running ---------------------------------------------------------------------------------------

def test_sweep_trains_grouped_runs_and_the_chart_reads_them(tmp_path):
    events = []
    items = variants(TINY.replace(input_size=16), BASE, "ratio=2,4")
    done = run_sweep(items, events.append, out=tmp_path / "sw", knob="ratio")
    assert not done.stopped and [v.label for v in done.results] == ["ratio=2", "ratio=4"]
    assert all(isinstance(v.result, Finished) and not v.result.cancelled for v in done.results)
    starts = [e for e in events if isinstance(e, VariantStarted)]
    assert [(e.index, e.count, e.label) for e in starts] == [(1, 2, "ratio=2"), (2, 2, "ratio=4")]
    assert sorted(p.name for p in (tmp_path / "sw").iterdir()) == ["01-ratio=2", "02-ratio=4", "sweep.json"]
    doc = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert doc["status"] == "finished" and doc["labels"] == ["ratio=2", "ratio=4"] and doc["knob"] == "ratio"

    infos = list_runs(tmp_path / "sw")
    assert sorted(i.sweep.label for i in infos) == ["ratio=2", "ratio=4"]
    assert {(i.sweep.id, i.sweep.count) for i in infos} == {("sw", 2)}
    assert list_runs(tmp_path) == infos  # a folder holding a sweep lists the sweep's runs too
    record = load_run(done.results[0].result.run_dir)
    assert record.spec.ratio == 2 and record.epochs[0]["test_examples_per_sec"] > 0

    points = collect(tmp_path)
    assert {p.label for p in points} == {"ratio=2", "ratio=4"}
    for p in points:
        assert p.test_acc == load_run(p.path).info.best_test_acc
        assert p.train_examples_per_sec == load_run(p.path).epochs[0]["examples_per_sec"]
        assert p.memory_source == "predicted" and p.memory_bytes > 0
    assert 1 <= len(pareto_front(points, "train")) <= 2


def test_stop_during_the_second_variant(tmp_path):
    """The first variant completes, the second ends as stopped, the third never starts."""
    cancel = threading.Event()
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, VariantStarted) and event.index == 2:
            cancel.set()  # the engine checks it before the first batch of variant 2

    items = variants(TINY.replace(input_size=16), BASE, "ratio=1,2,4")
    done = run_sweep(items, on_event, cancel, out=tmp_path / "sw", knob="ratio")
    assert done.stopped and done.not_started == 1
    first, second = done.results
    assert isinstance(first.result, Finished) and not first.result.cancelled and first.result.epochs_done == 1
    assert isinstance(second.result, Finished) and second.result.cancelled
    assert second.result.run_dir == ""  # stopped before its first point: nothing to keep, its folder is gone
    assert not any(isinstance(e, VariantStarted) and e.index == 3 for e in events)
    assert isinstance(events[-1], type(done)) and events[-2] == second and isinstance(second, VariantDone)
    statuses = {i.sweep.label: i.status for i in list_runs(tmp_path / "sw")}
    assert statuses == {"ratio=1": "finished"}
    assert json.loads((tmp_path / "sw" / "sweep.json").read_text())["status"] == "stopped"


def test_cli_sweep_then_runs(tmp_path, capsys):
    out_dir = tmp_path / "sw"
    code = cli.main(["sweep", "--preset", "tiny", "--input-size", "16", "--vary", "ratio=2,4", "--epochs", "1",
                     "--dataset", "sample", "--batch-size", "50", "--device", "cpu", "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "variant 1/2: ratio=2" in err and "variant 2/2: ratio=4" in err
    table = out[out.index("variant  "):].splitlines()
    assert table[0].split() == ["variant", "parameters", "GFLOP", "train", "ex/s", "best", "test", "acc", "wall",
                                "time", "status"]
    assert table[1].split()[0] == "ratio=2" and table[2].split()[0] == "ratio=4"
    assert f"vgg-studio runs --runs-dir {out_dir}" in out

    assert cli.main(["runs", "--runs-dir", str(out_dir), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["label"] for r in rows) == ["ratio=2", "ratio=4"]
    for r in rows:
        assert r["test_acc"] > 0 and r["train_examples_per_sec"] > 0 and r["params"] > 0
        record = load_run(r["path"])
        assert r["params"] == record.info.params and r["test_acc"] == record.info.best_test_acc
    assert rows[0]["params"] < rows[1]["params"]  # newest first: ratio=4 is the smaller net

    assert cli.main(["runs", "--runs-dir", str(out_dir), "--format", "csv"]) == 0
    parsed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["label"] for r in parsed] == [r["label"] for r in rows]

    chart = tmp_path / "c.png"
    assert cli.main(["runs", "--runs-dir", str(out_dir), "--chart", str(chart), "--format", "csv"]) == 0
    assert f"chart of 2 runs: {chart}" in capsys.readouterr().err
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000

    assert cli.main(["runs", "--runs-dir", str(out_dir), "--dataset", "mnist"]) == 0
    assert capsys.readouterr().out.startswith("no runs in")


@pytest.mark.parametrize("vary", ["ratio=1,zero", "nope=1"])
def test_cli_sweep_bad_vary_exits_2(capsys, tmp_path, vary):
    assert cli.main(["sweep", "--preset", "tiny", "--vary", vary, "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vgg-studio: error: ") and "Traceback" not in err
    assert not (tmp_path / "never").exists()


def test_cli_runs_default_folder_and_missing_folder(capsys, tmp_path):
    assert cli.main(["runs"]) == 0
    assert capsys.readouterr().out == f"no runs in {tmp_path / 'runs'}\n"
    assert cli.main(["runs", "--runs-dir", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
