"""The learner copy: solutions folded away, skeletons in, and the course's source never harmed."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lora_tutorial.course.exercises import CORRECT, NOT_ATTEMPTED
from tools.learner_copy import (DEFAULT_SOURCE, LEARNER_MARKER, SOLUTION_MARKER,
                                        SOLUTION_SUMMARY, TODO_BODY, StripError,
                                        learner_notebook, make_learner_copy, strip_solution)

ROOT = Path(__file__).resolve().parents[1]
LEARNER_NOTEBOOKS = ROOT / "notebooks"

SOLUTION = f'''{SOLUTION_MARKER}
@torch.no_grad()
def merge(W0, A, B,
          scaling: float = 2.0, *, inplace=False) -> torch.Tensor:
    """Return the merged weight."""
    return W0 + scaling * B @ A


class Layer(nn.Module):
    def __init__(self, base, r=8):
        super().__init__()
        self.base = base

    def forward(self, x):
        return self.base(x)


config = make_config(r=8)
'''


def _notebook(*cells: dict) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)}


def _code(source: str, cell_id: str = "c1", output: str = "ok") -> dict:
    return {"cell_type": "code", "id": cell_id, "metadata": {}, "execution_count": 1,
            "source": source, "outputs": [{"output_type": "stream", "name": "stdout",
                                           "text": output}]}


def _write(folder: Path, name: str, notebook: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(notebook))
    return path


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_strip_solution_keeps_headers_and_drops_bodies():
    stripped = strip_solution(SOLUTION)
    ast.parse(stripped)
    assert stripped.startswith(LEARNER_MARKER)
    assert "def merge(W0, A, B, scaling: float, *, inplace) -> torch.Tensor:" in stripped
    assert '"""Return the merged weight."""' in stripped
    assert "class Layer(nn.Module):\n    def __init__(self, base, r):" in stripped
    assert "    def forward(self, x):\n        " + TODO_BODY in stripped
    assert stripped.count(TODO_BODY) == 3
    for solution_line in ("W0 + scaling", "self.base = base", "make_config"):
        assert solution_line not in stripped
    assert "\nconfig = ...  # your code here" in stripped
    assert "# ... your code here ..." not in stripped


def test_no_default_value_or_decorator_of_a_solution_is_left():
    stripped = strip_solution(SOLUTION)
    for giveaway in ("@torch.no_grad", "= 2.0", "=False", "r=8", "= 8"):
        assert giveaway not in stripped


def test_other_statements_leave_one_placeholder():
    stripped = strip_solution(f"{SOLUTION_MARKER}\nmodel.eval()\nprint(model)\n")
    assert stripped.count("# ... your code here ...") == 1
    assert "model.eval()" not in stripped


def test_one_line_definitions_become_valid_skeletons():
    stripped = strip_solution(f"{SOLUTION_MARKER}\ndef double(x): return 2 * x\n")
    ast.parse(stripped)
    assert f"def double(x):\n    {TODO_BODY}" in stripped
    assert "2 * x" not in stripped


def test_copy_of_a_notebook_folds_each_solution_under_its_skeleton(tmp_path):
    notebook = _notebook({"cell_type": "markdown", "id": "m0", "metadata": {},
                          "source": "# Title"},
                         _code(SOLUTION, "sol"), _code("check(merge)", "chk", output="✓"))
    _write(tmp_path / "src", "01_x.ipynb", notebook)
    assert make_learner_copy(tmp_path / "out", tmp_path / "src") == {"01_x.ipynb": 1}
    copy = json.loads((tmp_path / "out" / "01_x.ipynb").read_text())
    cells = copy["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "markdown", "code"]
    assert _source(cells[1]).startswith(LEARNER_MARKER)
    folded = _source(cells[2])
    assert folded.startswith(SOLUTION_SUMMARY) and folded.endswith("</details>")
    assert "```python\n@torch.no_grad()\ndef merge(W0, A, B," in folded
    assert SOLUTION_MARKER not in folded
    assert len({c["id"] for c in cells}) == 4
    assert all(c.get("outputs", []) == [] for c in cells)
    assert _source(cells[3]) == "check(merge)"
    with pytest.raises(FileNotFoundError, match="No notebooks"):
        make_learner_copy(tmp_path / "out2", tmp_path / "empty")


@pytest.mark.parametrize("out", [".", "inner", "inner/deeper", ".."])
def test_refuses_to_write_into_or_around_its_source(tmp_path, out):
    source = tmp_path / "course" / "solutions"
    path = _write(source, "01_x.ipynb", _notebook(_code(SOLUTION)))
    before = path.read_text()
    with pytest.raises(ValueError, match="Refusing to write the learner copy"):
        make_learner_copy(source / out, source)
    assert path.read_text() == before
    assert sorted(p.name for p in source.iterdir()) == ["01_x.ipynb"]


def test_the_command_line_refuses_to_overwrite_the_course(tmp_path):
    path = _write(tmp_path / "notebooks", "01_x.ipynb", _notebook(_code(SOLUTION)))
    before = path.read_text()
    result = subprocess.run([sys.executable, "-m", "tools.learner_copy",
                             "--source", str(tmp_path / "notebooks"),
                             "--out", str(tmp_path / "notebooks")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "Refusing to write the learner copy" in result.stderr
    assert path.read_text() == before


@pytest.mark.parametrize("line", ["%timeit merge(W0, A, B)", "!pip install peft",
                                  "def f(x) return x"])
def test_a_solution_that_is_not_python_names_its_notebook_and_cell(tmp_path, line):
    notebook = _notebook({"cell_type": "markdown", "id": "m0", "metadata": {}, "source": "x"},
                         _code(SOLUTION, "ok"), _code(f"{SOLUTION_MARKER}\n{line}\n", "bad"))
    _write(tmp_path / "src", "02_y.ipynb", _notebook(_code(SOLUTION)))
    _write(tmp_path / "src", "03_z.ipynb", notebook)
    with pytest.raises(StripError, match=r"03_z\.ipynb, cell 2: the solution cannot be "
                                         r"stripped, line 1") as info:
        make_learner_copy(tmp_path / "out", tmp_path / "src")
    assert ("IPython magic" in str(info.value)) == line.startswith(("%", "!"))
    assert not (tmp_path / "out").exists()  # nothing written, not even the good notebook


# The course itself: notebooks/ is generated from solutions/ (docs: EXERCISES design).

def _solutions() -> list[Path]:
    if not DEFAULT_SOURCE.is_dir():
        pytest.fail(f"{DEFAULT_SOURCE} is missing: the solved notebooks belong there, and "
                    "notebooks/ is generated from them (tools/make_learner_notebooks.py).")
    return sorted(DEFAULT_SOURCE.glob("*.ipynb"))


def _comparable(notebook: dict) -> list[tuple[str, str]]:
    return [(cell["cell_type"], _source(cell)) for cell in notebook["cells"]]


def test_learner_notebooks_are_exactly_the_learner_copy_of_the_solutions():
    solutions = _solutions()
    assert sorted(p.name for p in LEARNER_NOTEBOOKS.glob("*.ipynb")) == [p.name for p in
                                                                       solutions]
    stale = []
    for path in solutions:
        expected, _ = learner_notebook(json.loads(path.read_text(encoding="utf-8")), str(path))
        shipped = json.loads((LEARNER_NOTEBOOKS / path.name).read_text(encoding="utf-8"))
        if _comparable(shipped) != _comparable(expected):
            stale.append(path.name)
    assert not stale, (f"notebooks/{', '.join(stale)} differ from the learner copy of "
                       "solutions/: edit solutions/, then run tools/make_learner_notebooks.py.")


def test_every_solved_notebook_with_exercises_has_solution_cells():
    solutions = _solutions()
    counts = {path.name: sum(_source(c).startswith(SOLUTION_MARKER)
                             for c in json.loads(path.read_text())["cells"]
                             if c["cell_type"] == "code") for path in solutions}
    assert all(count >= 1 for name, count in counts.items() if not name.startswith("11_")), counts


def _output_text(cell: dict) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "error":
            parts.append(f"ERROR {output['ename']}")
        parts.append("".join(output.get("text", "")))
        parts.append("".join(output.get("data", {}).get("text/plain", "")))
    return "".join(parts)


def test_learner_notebooks_store_not_attempted_checkers():
    """As shipped, every checker says "not attempted yet" (nbval re-runs them as stored)."""
    _solutions()
    checked = 0
    for path in sorted(LEARNER_NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "code" or not _source(cell).startswith(LEARNER_MARKER):
                continue
            after = next(c for c in cells[index + 1:] if c["cell_type"] == "code")
            text = _output_text(after)
            assert NOT_ATTEMPTED in text and CORRECT not in text and "ERROR" not in text, (
                f"{path.name}: the checker after cell {index} stored {text[:200]!r}; run "
                "tools/make_learner_notebooks.py to store the learner notebooks' outputs.")
            checked += 1
    assert checked >= 7


def test_make_learner_notebooks_writes_only_the_named_copies(tmp_path):
    _write(tmp_path / "solutions", "01_x.ipynb", _notebook(_code(SOLUTION)))
    _write(tmp_path / "solutions", "02_y.ipynb", _notebook(_code(SOLUTION)))
    result = subprocess.run([sys.executable, "-m", "tools.make_learner_notebooks",
                             "--source", str(tmp_path / "solutions"), "--out",
                             str(tmp_path / "notebooks"), "--no-execute", "02_y"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "02_y.ipynb: 1 solution cell(s) stripped\n"
    assert [p.name for p in (tmp_path / "notebooks").iterdir()] == ["02_y.ipynb"]
