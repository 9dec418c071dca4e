"""The docs tell the truth: notebooks they list exist, and their cheap commands run."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = {"README.md": README,
        "docs/instructor.md": (ROOT / "docs" / "instructor.md").read_text(encoding="utf-8")}
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


def bash_lines(text: str) -> list[str]:
    """Command lines of the ```bash blocks, comments and blank lines dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.split(" #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_readme_table_lists_every_notebook_and_only_real_ones():
    linked = re.findall(r"\]\(notebooks/([^)]+\.ipynb)\)", README)
    assert linked, "the README's course table links no notebook"
    assert sorted(linked) == NOTEBOOKS


def test_ci_runs_exactly_the_readme_test_command():
    setup = [line for line in bash_lines(README) if line.startswith("python3 -m venv")]
    assert len(setup) == 2, "the README gives two set-up commands"
    assert setup[0].endswith("jupyter lab notebooks/")
    assert setup[1].endswith("python -m pytest")
    assert setup[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


CHEAP = sorted({(doc, line) for doc, text in DOCS.items() for line in bash_lines(text)
                if re.search(r"python -m lora_tutorial\.(quiz|learner_copy)\b", line)})


@pytest.mark.parametrize("doc,command", CHEAP, ids=[f"{d}: {c}" for d, c in CHEAP])
def test_documented_command_runs(doc, command, tmp_path):
    args = shlex.split(command)
    python = args.index("-m") - 1
    args = [sys.executable] + args[python + 1:]
    # Run in an empty folder, so that output files land there and not in the repository.
    result = subprocess.run(args, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"{doc}: `{command}` failed:\n{result.stderr[-2000:]}"
