"""Run parents and the Runs list's labels, over real run folders (no training needed)."""

import shutil

from vgg_studio.lineage import Setups, choose_parent, run_label, same_architecture
from vgg_studio.runs import RunFolder, list_runs
from vgg_studio.spec import preset
from vgg_studio.train_config import TrainConfig

TINY = preset("tiny")


def make_run(root, name, spec=TINY, config=TrainConfig(epochs=1), dataset="sample", epochs_done=1, parent=None):
    meta = {"dataset": dataset, "epochs": config.epochs}
    if parent is not None:
        meta["parent"] = str(parent)
    run = RunFolder.create(spec, config.replace(dataset=dataset), path=root / name, **meta)
    run.update(epochs_done=epochs_done, status="finished")
    return run.path


def test_label_says_what_changed_from_the_parent(tmp_path):
    first = make_run(tmp_path, "a")
    second = make_run(tmp_path, "b", spec=TINY.replace(ratio=2), parent=first)
    make_run(tmp_path, "c", spec=TINY.replace(ratio=2), config=TrainConfig(epochs=3, lr=0.1), parent=second)
    labels = {info.path.name: run_label(info, Setups()) for info in list_runs(tmp_path)}
    assert labels["a"].text == "tiny" and labels["a"].parent == ""
    assert labels["b"].text == "ratio 1 → 2" and labels["b"].parent == "a"
    assert "a" in labels["b"].tooltip
    assert labels["c"].text == "lr 0.05 → 0.1, epochs 1 → 3"


def test_a_moved_runs_folder_still_finds_parents_by_name(tmp_path):
    make_run(tmp_path / "old", "a")
    make_run(tmp_path / "old", "b", spec=TINY.with_block(1, (3, 64)), parent=tmp_path / "old" / "a")
    shutil.move(tmp_path / "old", tmp_path / "new")
    info = next(i for i in list_runs(tmp_path / "new") if i.path.name == "b")
    assert run_label(info, Setups()).text == "block 2: 2×64 → 3×64"


def test_a_deleted_parent_falls_back_to_the_architecture_name(tmp_path):
    parent = make_run(tmp_path, "a")
    make_run(tmp_path, "b", parent=parent)
    shutil.rmtree(parent)
    label = run_label(list_runs(tmp_path)[0], Setups())
    assert label.text == "tiny" and "no longer readable" in label.parent


def test_parent_is_the_baselines_latest_run_on_the_same_dataset(tmp_path):
    old = make_run(tmp_path, "1-old")
    make_run(tmp_path, "2-other-data", dataset="fashion-mnist")
    make_run(tmp_path, "3-other-arch", spec=TINY.replace(ratio=2))
    make_run(tmp_path, "4-no-epoch", epochs_done=0)
    runs = sorted(list_runs(tmp_path), key=lambda i: i.name, reverse=True)  # newest first, as listed
    setups = Setups()
    # in_channels and classes are the dataset's, and names do not count
    baseline = TINY.replace(name="pinned", in_channels=3)
    assert choose_parent(runs, setups, "sample", baseline=baseline, previous=tmp_path / "x") == old
    assert choose_parent(runs, setups, "mnist", baseline=baseline, previous=tmp_path / "x") == tmp_path / "x"
    assert choose_parent(runs, setups, "sample") is None
    assert same_architecture(TINY, TINY.replace(num_classes=100)) and not same_architecture(TINY, preset("vgg11"))
