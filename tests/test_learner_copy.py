"""The learner copy: solutions folded away, skeletons in, and the course's source never harmed."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lora_tutorial.course.exercises import CORRECT, NOT_ATTEMPTED
from refusal import unchanged
from tools import learner_copy
from tools.learner_copy import (DEFAULT_SOURCE, LEARNER_MARKER, SOLUTION_MARKER,
                                SOLUTION_SUMMARY, TODO_BODY, NotebookError, OutputError,
                                StripError, learner_notebook, make_learner_copy, strip_solution)

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


def test_a_default_the_docstring_states_is_kept_as_interface():
    stripped = strip_solution(f'''{SOLUTION_MARKER}
class Layer(nn.Module):
    def __init__(self, base, r=4, alpha=8, dropout=0.0, *, bias=False, name="x"):
        """Called as Layer(base, r, alpha, dropout=0.0, name="x"): no dropout unless asked."""
        super().__init__()
''')
    ast.parse(stripped)
    assert ('def __init__(self, base, r, alpha, dropout=0.0, *, bias, name=\'x\'):'
            in stripped)   # r=4, alpha=8 and bias=False are not stated, so they go


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
    _write(tmp_path / "notebooks", "01_x.ipynb", _notebook(_code(SOLUTION)))
    with unchanged(tmp_path):
        result = subprocess.run([sys.executable, "-m", "tools.learner_copy",
                                 "--source", str(tmp_path / "notebooks"),
                                 "--out", str(tmp_path / "notebooks")],
                                capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    assert result.stderr.startswith("python -m tools.learner_copy: error: Refusing to write "
                                    "the learner copy")
    assert "Traceback" not in result.stderr


def test_a_link_into_the_source_named_like_a_copy_is_refused(tmp_path):
    source = tmp_path / "solutions"
    solved = _write(source, "01_x.ipynb", _notebook(_code(SOLUTION)))
    _write(source, "02_y.ipynb", _notebook(_code(SOLUTION)))
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_x.ipynb").symlink_to(solved)
    with unchanged(tmp_path), pytest.raises(OutputError) as info:
        make_learner_copy(tmp_path / "notebooks", source)
    assert str(info.value).startswith(f"Refusing to write {tmp_path / 'notebooks' / '01_x.ipynb'}"
                                      f": it is a link to {solved}, inside the source folder")
    assert "Remove the link" in str(info.value)


def test_a_link_through_a_linked_folder_into_the_source_is_refused(tmp_path):
    source = tmp_path / "solutions"
    _write(source, "01_x.ipynb", _notebook(_code(SOLUTION)))
    (tmp_path / "alias").symlink_to(source)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_x.ipynb").symlink_to(tmp_path / "alias" / "01_x.ipynb")
    with unchanged(tmp_path), pytest.raises(OutputError, match="inside the source folder"):
        make_learner_copy(tmp_path / "notebooks", source)


def test_a_link_elsewhere_is_replaced_by_the_copy_and_its_target_left_alone(tmp_path):
    source = tmp_path / "solutions"
    _write(source, "01_x.ipynb", _notebook(_code(SOLUTION)))
    elsewhere = tmp_path / "elsewhere.ipynb"
    elsewhere.write_text("keep me")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_x.ipynb").symlink_to(elsewhere)
    make_learner_copy(tmp_path / "notebooks", source)
    assert elsewhere.read_text() == "keep me"
    copy = tmp_path / "notebooks" / "01_x.ipynb"
    assert not copy.is_symlink()
    assert _source(json.loads(copy.read_text())["cells"][0]).startswith(LEARNER_MARKER)


def test_an_output_named_like_a_copy_that_is_a_folder_is_refused(tmp_path):
    source = tmp_path / "solutions"
    _write(source, "01_x.ipynb", _notebook(_code(SOLUTION)))
    (tmp_path / "notebooks" / "01_x.ipynb").mkdir(parents=True)
    with unchanged(tmp_path), pytest.raises(OutputError, match="01_x.ipynb: it is a folder"):
        make_learner_copy(tmp_path / "notebooks", source)


@pytest.mark.parametrize("out", ["a_file", "a_file/inside", "dangling_link"])
def test_an_out_folder_that_is_a_file_is_refused(tmp_path, capsys, out):
    source = tmp_path / "solutions"
    _write(source, "01_x.ipynb", _notebook(_code(SOLUTION)))
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "dangling_link").symlink_to(tmp_path / "nowhere")
    with unchanged(tmp_path):
        status = learner_copy.main(["--source", str(source), "--out", str(tmp_path / out)])
    assert status == 1
    err = capsys.readouterr().err
    assert err.startswith("python -m tools.learner_copy: error: Refusing to write the learner "
                          f"copy into {tmp_path / out}: ")
    assert "is a file, not a folder. Choose a folder for --out." in err


BROKEN_NOTEBOOKS = {
    "no cells": ('{"nbformat": 4, "metadata": {}}',
                 'is not a notebook: it has no list of "cells"'),
    "not an object": ("[1, 2]", 'is not a notebook: it has no list of "cells"'),
    "cells not a list": ('{"cells": {"source": "x"}}', 'it has no list of "cells"'),
    "a cell not an object": ('{"cells": ["print(1)"]}',
                             "cell 0 is not a JSON object but str 'print(1)'"),
    "no source": ('{"cells": [{"cell_type": "markdown", "source": "x"}, '
                  '{"cell_type": "code", "metadata": {}}]}',
                  'cell 1 has no "source", which every notebook cell needs'),
    "no cell_type": ('{"cells": [{"source": "x"}]}',
                     'cell 0 has no "cell_type", which every notebook cell needs'),
    "cell_type not a string": ('{"cells": [{"cell_type": 3, "source": "x"}]}',
                               'cell 0: its "cell_type" must be a string, not 3'),
    "a number in the source": ('{"cells": [{"cell_type": "code", "source": ["x = 1\\n", 2]}]}',
                               'cell 0: item 1 of its "source" is int 2, not a string'),
    "source a number": ('{"cells": [{"cell_type": "code", "source": 7}]}',
                        'cell 0: its "source" must be a string or a list of strings, not int 7'),
    "not JSON": ("this is not JSON", "is not a notebook: it is not valid JSON (Expecting value "
                                     "at line 1, column 1)"),
    "not UTF-8": (b'{"cells": "\xff"}', "is not a notebook: it is not UTF-8 text (byte 11: "),
}


@pytest.mark.parametrize("case", BROKEN_NOTEBOOKS, ids=list(BROKEN_NOTEBOOKS))
def test_a_broken_notebook_is_named_and_nothing_is_written(tmp_path, capsys, case):
    content, message = BROKEN_NOTEBOOKS[case]
    source = tmp_path / "solutions"
    _write(source, "01_good.ipynb", _notebook(_code(SOLUTION)))
    broken = source / "02_broken.ipynb"
    if isinstance(content, bytes):
        broken.write_bytes(content)
    else:
        broken.write_text(content)
    with unchanged(tmp_path), pytest.raises(NotebookError) as info:
        make_learner_copy(tmp_path / "notebooks", source)
    assert str(info.value).startswith(str(broken))
    assert message in str(info.value)
    with unchanged(tmp_path):
        status = learner_copy.main(["--source", str(source), "--out", str(tmp_path / "out")])
    assert status == 1
    err = capsys.readouterr().err
    assert err == f"python -m tools.learner_copy: error: {info.value}\n"


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


def test_make_learner_notebooks_says_when_storing_the_outputs_failed(tmp_path):
    _write(tmp_path / "solutions", "01_x.ipynb", _notebook(_code("1 / 0", "boom")))
    result = subprocess.run([sys.executable, "-m", "tools.make_learner_notebooks",
                             "--source", str(tmp_path / "solutions"), "--out",
                             str(tmp_path / "notebooks")],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[-2].startswith("python -m tools.execute_notebooks: error: ")
    assert "cell 0 raised ZeroDivisionError: division by zero" in lines[-2]
    assert lines[-1].startswith("python -m tools.make_learner_notebooks: error: storing the "
                                "outputs failed (the line above says why)")
