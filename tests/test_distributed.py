"""Training on several processes through torchrun (Gloo on the CPU): the same run as one process, one folder,
stops that reach every process, resumes with another process count, and clear messages for bad launches."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from vgg_studio.cli.torchrun import worker_args
from vgg_studio.events import BatchProgress, Failed, Finished, RunStarted, event_from_json, event_to_json
from vgg_studio.launch import Launch, check_launch, torchrun_command
from vgg_studio.runs import load_run
from vgg_studio.spec import preset, save

TRAIN = ["train", "--preset", "tiny", "--dataset", "sample", "--device", "cpu", "--batch-size", "128"]


def _cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vgg_studio", *args], capture_output=True, text=True,
                          timeout=kwargs.pop("timeout", 900), **kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_launch_flags_are_not_passed_to_the_workers():
    argv = ["train", "--preset", "tiny", "--nproc-per-node", "2", "--nnodes=2", "--node-rank", "1",
            "--rdzv-endpoint", "h:1", "--rdzv-timeout", "5", "--epochs", "2"]
    assert worker_args(argv) == ["--preset", "tiny", "--epochs", "2"]


def test_one_machine_is_standalone_and_several_meet_at_node_zero():
    one = torchrun_command(Launch(nproc_per_node=2), ["--preset", "tiny"])
    assert one[1:3] == ["-m", "torch.distributed.run"] and "--standalone" in one
    assert one[-5:] == ["-m", "vgg_studio", "train", "--preset", "tiny"]
    two = torchrun_command(Launch(1, nnodes=2, node_rank=1, rdzv_endpoint="10.0.0.5:29400"), [])
    assert two[two.index("--master-addr") + 1] == "10.0.0.5" and two[two.index("--master-port") + 1] == "29400"
    assert two[two.index("--node-rank") + 1] == "1" and "--standalone" not in two


@pytest.mark.parametrize("launch, batch, words", [
    (Launch(nproc_per_node=0), 128, "--nproc-per-node must be at least 1"),
    (Launch(nproc_per_node=3), 128, "multiple of 3"),
    (Launch(nproc_per_node=1, nnodes=2), 128, "--rdzv-endpoint HOST:PORT"),
    (Launch(nproc_per_node=1, nnodes=2, node_rank=2, rdzv_endpoint="h:1"), 128, "--node-rank must be between"),
    (Launch(nproc_per_node=1, nnodes=2, rdzv_endpoint="nowhere"), 128, "HOST:PORT"),
])
def test_bad_launches_are_named(launch, batch, words):
    assert any(words in p for p in check_launch(launch, batch))


def test_events_cross_processes_as_json_lines():
    events = [RunStarted("d", "cpu", "sample", 10, 2, 1, 1, 0, 5, world_size=2),
              BatchProgress(1, 1, 1, 1.0, float("nan"), 0.5, 10.0, 1.0),
              Finished("d", "cpu", 1, 0.1, 0.9, 0.8, 100.0), Failed(None, "spec", "bad")]
    for event in events:
        back = event_from_json(event_to_json(event))
        assert type(back) is type(event) and json.dumps(back.__dict__) == json.dumps(event.__dict__)
    assert event_from_json("UserWarning: something") is None


def test_nproc_zero_and_uneven_batch_exit_2_without_traceback():
    for extra, words in ((["--nproc-per-node", "0"], "at least 1"), (["--nproc-per-node", "3"], "multiple of 3")):
        r = _cli(*TRAIN, "--epochs", "1", *extra, timeout=600)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr


def test_unreachable_node_zero_is_reported_within_the_timeout(tmp_path):
    start = time.monotonic()
    r = _cli(*TRAIN, "--epochs", "1", "--nnodes", "2", "--node-rank", "1", "--nproc-per-node", "1",
             "--rdzv-endpoint", f"127.0.0.1:{_free_port()}", "--rdzv-timeout", "3", "--out", str(tmp_path / "r"),
             timeout=60)
    assert r.returncode == 2 and "not reachable" in r.stderr and "Traceback" not in r.stderr
    assert time.monotonic() - start < 120  # the 3 s timeout plus start-up, bounded
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_two_processes_train_the_same_run_as_one(tmp_path):
    # float32 and no dropout: under bf16 autocast half a batch rounds differently from a whole one, and each
    # process draws its own dropout masks, so only then are the two runs the same computation
    arch = tmp_path / "tiny-no-dropout.json"
    save(preset("tiny").replace(dropout=0.0), arch)
    args = ["train", "--arch", str(arch), *TRAIN[3:], "--epochs", "1", "--no-amp"]
    one = _cli(*args, "--out", str(tmp_path / "one"))
    two = _cli(*args, "--nproc-per-node", "2", "--out", str(tmp_path / "two"))
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr[-2000:]
    assert "Traceback" not in two.stderr and "test acc" in two.stdout
    a, b = load_run(tmp_path / "one"), load_run(tmp_path / "two")
    meta = json.loads((tmp_path / "two" / "run.json").read_text())
    assert meta["world_size"] == 2 and meta["backend"] == "gloo" and meta["devices"] == ["cpu", "cpu"]
    # The same global batches in the same order: the first point agrees up to the order of float sums; later
    # ones drift apart as such differences grow with training, but stay close.
    assert len(a.steps) == len(b.steps)
    assert b.steps[0]["train_loss"] == pytest.approx(a.steps[0]["train_loss"], abs=1e-3)
    for sa, sb in zip(a.steps, b.steps, strict=True):
        assert sb["train_loss"] == pytest.approx(sa["train_loss"], abs=0.05)
    assert abs(a.epochs[-1]["test_acc"] - b.epochs[-1]["test_acc"]) < 0.03
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "tiny-no-dropout.json", "two"]  # no folder per process


@pytest.mark.slow
def test_ctrl_c_stops_every_process_and_the_run_resumes_with_one(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "vgg_studio", *TRAIN, "--epochs", "3", "--nproc-per-node", "2",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # the first finished epoch, then Ctrl-C
        if line.startswith("epoch 1/3:"):
            break
    proc.send_signal(signal.SIGINT)
    start = time.monotonic()
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 130, err[-2000:]
    assert time.monotonic() - start < 60
    assert "Traceback" not in err
    run = load_run(out)
    assert run.info.status == "cancelled" and run.info.epochs_done >= 1
    done = run.info.epochs_done
    r = _cli("train", "--resume", str(out), "--epochs", str(done + 1))
    assert r.returncode == 0, r.stderr[-2000:]
    assert load_run(out).info.epochs_done == done + 1
    assert not [p for p in os.popen("ps -eo args").read().splitlines() if str(out) in p and "vgg_studio" in p]


@pytest.mark.slow
def test_two_machines_on_one_host_make_one_run(tmp_path):
    port = _free_port()
    common = [*TRAIN, "--epochs", "1", "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-endpoint",
              f"127.0.0.1:{port}", "--rdzv-timeout", "60"]
    nodes = [subprocess.Popen([sys.executable, "-m", "vgg_studio", *common, "--node-rank", str(rank), "--out",
                               str(tmp_path / f"node{rank}")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for rank in (0, 1)]
    outs = [node.communicate(timeout=300) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outs[0][1][-1500:] + outs[1][1][-1500:]
    assert (tmp_path / "node0" / "run.json").exists() and not (tmp_path / "node1").exists()
    meta = json.loads((tmp_path / "node0" / "run.json").read_text())
    assert meta["world_size"] == 2 and meta["status"] == "finished"
