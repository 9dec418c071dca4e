"""The solved notebooks (``solutions/``, the instructor's key) run, and every checker passes.

The learner notebooks in ``notebooks/`` are checked as shipped by nbval (each checker says
"not attempted yet"); this runs the other state: every solution filled in, every checker
must print "✓ Correct" and none may say "not attempted".
"""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from lora_tutorial.course.exercises import CORRECT, NOT_ATTEMPTED
from tools.learner_copy import DEFAULT_SOURCE, SOLUTION_MARKER

# Every notebook the course has; a missing solutions/ folder fails here instead of skipping.
NOTEBOOKS = sorted(path.name for path in (Path(__file__).resolve().parents[1] / "notebooks")
                   .glob("*.ipynb"))


def _text(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", [])
                   if output["output_type"] == "stream")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solved_notebook_runs_and_every_checker_passes(name, tmp_path, monkeypatch):
    path = DEFAULT_SOURCE / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: every course notebook has its solved version in "
                    "solutions/ (notebooks/ is generated from it by "
                    "tools/make_learner_notebooks.py).")
    notebook = nbformat.read(path, as_version=4)
    # The same settings as tools/execute_notebooks.py; run in a scratch folder so files the
    # notebook writes do not land in solutions/.
    monkeypatch.setenv("LORA_TUTORIAL_PROGRESS", str(tmp_path / "progress.json"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("LORA_TUTORIAL_DEVICE", "cpu")
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    cells = notebook.cells
    solutions = [i for i, cell in enumerate(cells)
                 if cell.cell_type == "code" and cell.source.startswith(SOLUTION_MARKER)]
    if not name.startswith("11_"):
        assert solutions, f"{name} has no exercise (no cell starts with the solution marker)"
    for index in solutions:
        checker = next(cell for cell in cells[index + 1:] if cell.cell_type == "code")
        assert CORRECT in _text(checker), (
            f"{name}: the checker after solution cell {index} printed "
            f"{_text(checker)[:300]!r}, not {CORRECT!r}")
    said = [i for i, cell in enumerate(cells) if NOT_ATTEMPTED in _text(cell)]
    assert not said, f"{name}: cells {said} say {NOT_ATTEMPTED!r} although solved"
