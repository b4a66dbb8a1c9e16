"""`vgg-studio summary` output, byte for byte, against stored golden files (as torchinfo tests its printouts).

A deliberate change of the output: run `pytest tests/test_golden_summary.py --update-golden`, then review the
diff of tests/golden/ like any other change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vgg_studio import cli

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
@pytest.mark.parametrize("preset", ["vgg11", "d2l-small"])
def test_summary_output_matches_golden_file(preset, fmt, capsys, update_golden):
    assert cli.main(["summary", "--preset", preset, "--format", fmt]) == 0
    out = capsys.readouterr().out
    path = GOLDEN / f"summary-{preset}.{ 'txt' if fmt == 'table' else fmt}"
    if update_golden:
        path.parent.mkdir(exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert path.is_file(), f"{path} is missing; create it with --update-golden"
    assert out == path.read_text(encoding="utf-8"), f"output differs from {path}; if meant, rerun with --update-golden"
