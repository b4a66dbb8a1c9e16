"""Property tests (hypothesis): whatever a file or a flag holds, the answer is a result or one message, never a
traceback; commands exit 0 or 2 (issue 11's acceptance). Kept quick: modest example counts, no deadline."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vgg_studio import cli, training_data
from vgg_studio.data import DataError
from vgg_studio.spec import PRESET_NAMES, SpecError, from_json, load, validate

QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=25)
sizes = st.integers(min_value=-3, max_value=600) | json_values
blocks = st.lists(st.lists(sizes, min_size=0, max_size=3)
                  | st.fixed_dictionaries({"num_convs": sizes, "out_channels": sizes}) | json_values, max_size=8)
architectures = st.fixed_dictionaries({}, optional={
    "format": st.just("vgg-studio.architecture") | json_values, "version": st.just(1) | json_values,
    "name": st.text(max_size=30) | json_values, "blocks": blocks | json_values, "input_size": sizes,
    "in_channels": sizes, "ratio": sizes, "hidden": st.lists(sizes, max_size=4) | json_values,
    "dropout": st.floats() | json_values, "num_classes": sizes, "extra": json_values,
})


def _spec_or_message(call):
    try:
        spec = call()
    except SpecError as exc:
        message = str(exc)
    else:
        validate(spec)  # a loaded spec can always be checked
        return
    assert message.strip() and "Traceback" not in message


@QUICK
@given(doc=architectures | json_values)
def test_any_json_document_is_an_architecture_or_one_message(doc):
    _spec_or_message(lambda: from_json(json.dumps(doc)))


@QUICK
@given(raw=st.binary(max_size=3000))
def test_any_bytes_on_disk_are_an_architecture_or_one_message(raw):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "arch.json"
        path.write_bytes(raw)
        _spec_or_message(lambda: load(path))


# ---- every flag of `summary`, and of `train` as far as validation ------------------------------------------------

argv_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
flag_values = (st.integers(min_value=-10**30, max_value=10**30).map(str) | st.integers(-2, 300).map(str)
               | argv_text | st.sampled_from([*PRESET_NAMES, "table", "json", "csv", "auto", "cpu", "sgd", "0.05"]))


def _options(command: str) -> list[argparse.Action]:
    parser = cli.build_parser()
    sub = next(a for a in parser._subparsers._group_actions if isinstance(a, argparse._SubParsersAction))
    return [a for a in sub.choices[command]._actions if a.option_strings and a.dest != "help"]


def _argv(command: str, draw_values: dict[str, str]) -> list[str]:
    argv = [command]
    for action in _options(command):
        if action.dest in draw_values:
            flag = action.option_strings[0]
            argv += [flag] if action.nargs == 0 else [flag, draw_values[action.dest]]
    return argv


def _exit_status(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own "error: ..." (status 2), or --help (0)
        code = exc.code if isinstance(exc.code, int) else 2
    err = capsys.readouterr().err
    return code, err


def _flag_draws(command: str):
    return st.dictionaries(st.sampled_from([a.dest for a in _options(command)]), flag_values, max_size=5)


@QUICK
@given(values=_flag_draws("summary"))
def test_summary_with_any_flag_values_exits_0_or_2(values, capsys):
    code, err = _exit_status(_argv("summary", values), capsys)
    assert code in (0, 2) and "Traceback" not in err, err


@pytest.fixture
def no_training(monkeypatch, tmp_path):
    """`train` goes as far as loading data, which then stops it: no training, no run folder in the user's home."""
    monkeypatch.setenv("VGG_STUDIO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("VGG_STUDIO_DATA", str(tmp_path / "data"))

    def stop(*args, **kwargs):
        raise DataError("stopped before training (property test)")

    monkeypatch.setattr(training_data, "load_dataset", stop)


@QUICK
@given(values=_flag_draws("train"))
def test_train_with_any_flag_values_stops_with_exit_2_before_training(values, capsys, no_training, tmp_path):
    code, err = _exit_status(_argv("train", values), capsys)
    assert code in (0, 2) and "Traceback" not in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
