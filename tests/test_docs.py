"""The docs tell the truth: notebooks they list exist, and their cheap commands run."""

import importlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = {"README.md": README,
        "docs/instructor.md": (ROOT / "docs" / "instructor.md").read_text(encoding="utf-8"),
        "docs/maintainers.md": (ROOT / "docs" / "maintainers.md").read_text(encoding="utf-8")}
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
                if re.search(r"python -m lora_tutorial\.quiz\b", line)})


@pytest.mark.parametrize("doc,command", CHEAP, ids=[f"{d}: {c}" for d, c in CHEAP])
def test_documented_command_runs(doc, command, tmp_path):
    args = shlex.split(command)
    python = args.index("-m") - 1
    args = [sys.executable] + args[python + 1:]
    # Run in an empty folder, so that output files land there and not in the repository.
    result = subprocess.run(args, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"{doc}: `{command}` failed:\n{result.stderr[-2000:]}"


TOOL_COMMAND = re.compile(r"python -m tools\.([a-z_]+)((?:[ \t]+[^\s`|#]+)*)")
TOOL_MENTIONS = sorted({(doc, match.group(1), option) for doc, text in DOCS.items()
                        for match in TOOL_COMMAND.finditer(text)
                        for option in ["", *re.findall(r"(?<![^\s\[])(--[a-z][a-z-]*)",
                                                         match.group(2))]})


@pytest.mark.parametrize("doc, tool, option", TOOL_MENTIONS,
                         ids=[f"{d}: {t} {o}".strip() for d, t, o in TOOL_MENTIONS])
def test_documented_tools_and_their_options_exist(doc, tool, option, capsys):
    """Every ``python -m tools.NAME --option`` in the docs names a real tool and option."""
    assert (ROOT / "tools" / f"{tool}.py").is_file(), f"{doc}: there is no tools/{tool}.py"
    if not option:
        return
    module = importlib.import_module(f"tools.{tool}")
    with pytest.raises(SystemExit):
        module.main(["--help"])
    assert option in capsys.readouterr().out, f"{doc}: tools.{tool} has no {option} option"


def test_the_maintainer_guide_is_linked_from_the_readme():
    assert "](docs/maintainers.md)" in README


def _header_times(notebook: str) -> tuple[str, str]:
    """(minutes to work through, seconds the code runs) as the notebook's header states them."""
    cells = json.loads((ROOT / "solutions" / notebook).read_text(encoding="utf-8"))["cells"]
    header = " ".join("".join(cells[0]["source"]).split())
    minutes = re.search(r"\*\*Time:\*\* about (\d+) minutes", header)
    seconds = re.search(r"the code runs in about (\d+) seconds", header)
    assert minutes, f"{notebook}: the header does not say how long it takes to work through"
    return minutes.group(1), seconds.group(1) if seconds else None


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_readme_times_match_the_notebook_headers(notebook):
    row = re.search(rf"\]\(notebooks/{re.escape(notebook)}\) \|[^|]*\| (\d+) s \| (\d+) min \|",
                    README)
    assert row, f"the README's course table has no run time and minutes for {notebook}"
    minutes, seconds = _header_times(notebook)
    assert row.group(2) == minutes, f"{notebook}: README {row.group(2)} min, header {minutes}"
    if seconds is not None:  # a notebook that trains nothing need not state its seconds
        assert row.group(1) == seconds, f"{notebook}: README {row.group(1)} s, header {seconds}"
