"""`vgg-studio summary` and `save-preset` as a newcomer uses them."""

import csv
import io
import json
import subprocess
import sys

import pytest

from vgg_studio.cli import main
from vgg_studio.spec import PRESET_NAMES, load, preset
from vgg_studio.summary import summarize


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_table_for_every_preset(capsys, name):
    code, out, err = run(capsys, "summary", "--preset", name)
    assert code == 0 and err == ""
    total = summarize(preset(name)).total_params
    assert f"Total parameters: {total:,}" in out


def test_table_reads_like_the_seed(capsys):
    _, out, _ = run(capsys, "summary", "--preset", "vgg11")
    lines = out.splitlines()
    assert any(line.startswith("block1.conv1") and "Conv2d" in line and "(1, 64, 224, 224)" in line
               and "640" in line for line in lines)
    assert any(line.startswith("flatten") and "(1, 25088)" in line for line in lines)
    assert any(line.startswith("fc1 ") and "102,764,544" in line for line in lines)
    assert "Total parameters: 128,806,154" in out
    assert "79.8% of the total" in out


def test_json_document(capsys):
    code, out, _ = run(capsys, "summary", "--preset", "d2l-small", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["total_params"] == 43_093_322
    first = doc["layers"][0]
    assert set(first) >= {"name", "block", "type", "output_shape", "params", "flops"}
    assert first["output_shape"] == [1, 16, 224, 224] and first["block"] == 1
    assert doc["layers"][-1]["block"] is None and doc["layers"][-1]["output_shape"] == [1, 10]
    assert sum(layer["params"] for layer in doc["layers"]) == doc["total_params"]
    assert sum(layer["flops"] for layer in doc["layers"]) == doc["total_flops"]


def test_csv(capsys):
    _, out, _ = run(capsys, "summary", "--preset", "tiny", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["name"] == "block1.conv1" and rows[0]["output_shape"] == "1x32x28x28"
    assert sum(int(r["params"]) for r in rows) == summarize(preset("tiny")).total_params


def test_overrides(capsys):
    _, out, _ = run(capsys, "summary", "--preset", "vgg11", "--input-size", "32", "--ratio", "4", "--classes", "100",
                    "--in-channels", "3", "--format", "json")
    doc = json.loads(out)
    assert doc["input_shape"] == [1, 3, 32, 32]
    assert doc["layers"][0]["output_shape"] == [1, 16, 32, 32] and doc["layers"][-1]["output_shape"] == [1, 100]


def test_arch_file_and_save_preset(capsys, tmp_path):
    path = tmp_path / "mine.json"
    code, out, _ = run(capsys, "save-preset", "vgg16", str(path))
    assert code == 0 and load(path) == preset("vgg16")
    code, out, _ = run(capsys, "summary", "--arch", str(path), "--format", "json")
    assert json.loads(out)["total_params"] == summarize(preset("vgg16")).total_params


def test_warning_for_flooring_sizes(capsys):
    code, _, err = run(capsys, "summary", "--preset", "vgg11", "--input-size", "100")
    assert code == 0 and "warning: Block 3: the pool floors 25x25 to 12x12" in err


def write(tmp_path, text):
    path = tmp_path / "arch.json"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("make_argv, words", [
    (lambda t: ["--arch", write(t, '{"blocks": [[1,64],[1,128],[2,256],[2,512],[2,512],[1,512]], '
                                   '"input_size": 32}')], "Block 6: its pool would make the 1x1 feature map 0x0"),
    (lambda t: ["--arch", write(t, '{"blocks": [[1, 0]]}')], "Block 1: output channels must be between 1"),
    (lambda t: ["--arch", write(t, '{"blocks": [[1, -8]]}')], "Block 1: output channels must be between 1"),
    (lambda t: ["--preset", "vgg11", "--ratio", "128"], "use a ratio of at most 64"),
    (lambda t: ["--arch", write(t, '{"blocks": [[1, 64], [1, 12')], "looks truncated"),
    (lambda t: ["--arch", write(t, '{"blocks": [[1, 64]], "dropout": "high"}')], "'dropout' must be a number"),
    (lambda t: ["--arch", str(t / "missing.json")], "No such architecture file"),
    (lambda t: ["--preset", "vgg11", "--input-size", "0"], "Input size must be between 1"),
    (lambda t: ["--preset", "tiny", "--kernel-size", "3,5,5"], "gives 3 sizes for 2 blocks"),
    (lambda t: ["--arch", write(t, '{"blocks": [[1, 64, 4]]}')], "Block 1: the kernel size must be odd"),
])
def test_bad_input_exits_2_with_a_message(capsys, tmp_path, make_argv, words):
    code, out, err = run(capsys, "summary", *make_argv(tmp_path))
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_unknown_preset_and_flags_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["summary", "--preset", "vgg12"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_entry_point_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "vgg_studio", "summary", "--preset", "vgg11", "--ratio", "128"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "ratio of at most 64" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "vgg_studio", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "summary" in proc.stdout


def test_a_finished_command_ends_its_process_after_what_an_ordinary_exit_does_first(tmp_path):
    """`run` ends the process without unloading torch's modules, but other threads finish, exit handlers run and
    every line is written (here into a pipe, which buffers)."""
    program = ("import atexit, sys, threading, time\n"
               "atexit.register(lambda: print('exit handler ran'))\n"
               "threading.Thread(target=lambda: (time.sleep(0.5), print('worker finished'))).start()\n"
               "sys.argv = ['vgg-studio', 'summary', '--preset', 'vgg11', '--format', 'csv']\n"
               "from vgg_studio.cli import run\n"
               "run()\n")
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stderr
    assert any(line.startswith("name,block,") for line in lines) and any(line.startswith("fc3,") for line in lines)
    assert "worker finished" in lines and lines[-1] == "exit handler ran"


# --- version 2 knobs from the command line ----------------------------------------------------------------

def test_input_100_builds_with_every_head_and_gap_says_where_the_parameters_went(capsys):
    """The fc head sizes its first Linear from the 3x3 map (44.9 M); adaptive pools to 7x7 first, so it has
    VGG-11's 224 numbers; gap leaves the first (and only) Linear with 0.1%."""
    totals = {}
    for head in ("fc", "adaptive", "gap"):
        code, out, err = run(capsys, "summary", "--preset", "vgg11", "--input-size", "100", "--head", head)
        assert code == 0 and "Traceback" not in err
        totals[head] = int(out.split("Total parameters: ")[1].split()[0].replace(",", ""))
    assert totals["adaptive"] == summarize(preset("vgg11")).total_params
    assert totals["gap"] < totals["fc"] < totals["adaptive"]
    assert "The classifier (fc1, no hidden layers) holds 5,130 parameters, 0.1%; the blocks hold 99.9%, " \
           "the most in block 5" in out
    assert "First Linear" not in out and "gap head" in out.splitlines()[0]


def test_batch_norm_and_kernel_flags(capsys):
    code, out, _ = run(capsys, "summary", "--preset", "tiny", "--batch-norm", "--kernel-size", "3,5",
                       "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["batch_norm"] is True and doc["head"] == "fc"
    assert [b["kernel_size"] for b in doc["blocks"]] == [3, 5]
    assert [layer["name"] for layer in doc["layers"][:3]] == ["block1.conv1", "block1.bn1", "block1.relu1"]
    _, out, _ = run(capsys, "summary", "--preset", "vgg11-bn", "--no-batch-norm", "--format", "json")
    assert json.loads(out)["total_params"] == summarize(preset("vgg11")).total_params


def test_receptive_field_in_table_json_and_csv(capsys):
    _, out, _ = run(capsys, "summary", "--preset", "vgg11")
    header = next(line for line in out.splitlines() if line.startswith("Layer"))
    assert header.split()[-2:] == ["RF", "Stride"]
    pool5 = next(line for line in out.splitlines() if line.startswith("block5.pool"))
    assert pool5.split()[-2:] == ["150", "32"]
    assert "The last conv (block5.conv2) sees 134×134 of the 224×224 input; after its pool each cell sees " \
           "150×150." in out
    _, out, _ = run(capsys, "summary", "--preset", "vgg16", "--format", "json")
    doc = json.loads(out)
    assert doc["blocks"][-1]["receptive_field"] == 212 and doc["layers"][0]["receptive_field"] == 3
    assert doc["layers"][-1]["receptive_field"] is None
    _, out, _ = run(capsys, "summary", "--preset", "tiny", "--format", "csv")
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(out))}
    assert rows["block2.pool"]["receptive_field"] == "14" and rows["block2.pool"]["effective_stride"] == "4"
    assert rows["fc1"]["receptive_field"] == ""


def test_bad_kernel_flag_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["summary", "--preset", "tiny", "--kernel-size", "4"])
    assert info.value.code == 2 and "kernel sizes must be odd" in capsys.readouterr().err
