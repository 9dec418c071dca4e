"""tools/execute_notebooks.py: outputs stored from one clean run; a failing cell is named and
leaves the notebook as it was."""

import subprocess
import sys
from pathlib import Path

import nbformat

from refusal import unchanged

ROOT = Path(__file__).resolve().parents[1]


def notebook(tmp_path: Path, *sources: str) -> Path:
    path = tmp_path / "demo.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s)
                                                   for s in sources]), path)
    return path


def run(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.execute_notebooks", *map(str, paths)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_outputs_are_stored_from_a_clean_run(tmp_path):
    path = notebook(tmp_path, "import os\nx = 20", "print(x + 1, os.environ['OMP_NUM_THREADS'])")
    result = run(path)
    assert result.returncode == 0, result.stderr
    cells = nbformat.read(path, as_version=4).cells
    assert [c.execution_count for c in cells] == [1, 2]
    assert cells[1].outputs[0].text == "21 1\n"


def test_a_cell_that_raises_is_named_and_the_notebook_left_as_it_was(tmp_path):
    path = notebook(tmp_path, "x = 1", "x / 0", "print('never')")
    with unchanged(tmp_path):
        result = run(path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"python -m tools.execute_notebooks: error: {path}: cell 1 raised ZeroDivisionError: "
        "division by zero; the notebook was left as it was. Run it in JupyterLab to see the "
        "traceback.")
    assert "Traceback" not in result.stderr
