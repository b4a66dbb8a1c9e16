"""The README's two commands are the ones CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_opens_with_two_commands_and_ci_runs_the_second():
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```bash") + 1:]
    install_launch, install_test = block[0], block[1]
    assert block[2] == "```"
    assert install_launch.endswith("vgg-studio") and "pip install" in install_launch
    assert install_test.endswith("pytest") and ".[test]" in install_test
    assert install_test in (ROOT / ".ci" / "run").read_text().splitlines()


def test_ci_lints_with_ruff_before_the_tests():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ".venv/bin/ruff check ." in lines
    assert lines.index(".venv/bin/ruff check .") < max(i for i, line in enumerate(lines) if line.endswith("pytest"))
