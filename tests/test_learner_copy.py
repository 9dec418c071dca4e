"""The instructor's learner copy: solutions out, skeletons in, committed notebooks untouched."""

import ast
import json

import pytest

from lora_tutorial.learner_copy import (DEFAULT_SOURCE, LEARNER_MARKER, SOLUTION_MARKER,
                                        TODO_BODY, make_learner_copy, strip_solution)

SOLUTION = f'''{SOLUTION_MARKER}
@torch.no_grad()
def merge(W0, A, B,
          scaling):
    """Return the merged weight."""
    return W0 + scaling * B @ A


class Layer(nn.Module):
    def __init__(self, base):
        super().__init__()
        self.base = base

    def forward(self, x):
        return self.base(x)


config = make_config(r=8)
'''


def test_strip_solution_keeps_headers_and_drops_bodies():
    stripped = strip_solution(SOLUTION)
    ast.parse(stripped)
    assert stripped.startswith(LEARNER_MARKER)
    assert "@torch.no_grad()\ndef merge(W0, A, B,\n          scaling):" in stripped
    assert '"""Return the merged weight."""' in stripped
    assert "class Layer(nn.Module):\n    def __init__(self, base):" in stripped
    assert "    def forward(self, x):\n        " + TODO_BODY in stripped
    assert stripped.count(TODO_BODY) == 3
    for solution_line in ("W0 + scaling", "self.base = base", "make_config"):
        assert solution_line not in stripped
    assert "\nconfig = ...  # your code here" in stripped
    assert "# ... your code here ..." not in stripped


def test_other_statements_leave_one_placeholder():
    stripped = strip_solution(f"{SOLUTION_MARKER}\nmodel.eval()\nprint(model)\n")
    assert stripped.count("# ... your code here ...") == 1
    assert "model.eval()" not in stripped


def test_copy_of_a_notebook(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# Title"},
        {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": SOLUTION,
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "ok"}]},
        {"cell_type": "code", "metadata": {}, "execution_count": 2, "source": "check(merge)",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "✓"}]},
    ]}
    (source / "01_x.ipynb").write_text(json.dumps(notebook))
    assert make_learner_copy(tmp_path / "out", source) == {"01_x.ipynb": 1}
    copy = json.loads((tmp_path / "out" / "01_x.ipynb").read_text())
    assert copy["cells"][0]["source"] == "# Title"
    assert copy["cells"][1]["source"].startswith(LEARNER_MARKER)
    assert all(c.get("outputs", []) == [] for c in copy["cells"])
    assert copy["cells"][2]["source"] == "check(merge)"
    with pytest.raises(FileNotFoundError, match="No notebooks"):
        make_learner_copy(tmp_path / "out2", tmp_path / "out2")


def test_every_course_notebook_with_exercises_is_stripped(tmp_path):
    report = make_learner_copy(tmp_path, DEFAULT_SOURCE)
    exercise_notebooks = [name for name in report if not name.startswith("10_")]
    assert exercise_notebooks and all(report[name] >= 1 for name in exercise_notebooks)
    for path in tmp_path.glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert not "".join(cell["source"]).startswith(SOLUTION_MARKER)
    committed = json.loads((DEFAULT_SOURCE / "01_full_finetuning_and_freezing.ipynb")
                           .read_text())
    assert any("".join(c["source"]).startswith(SOLUTION_MARKER) for c in committed["cells"])


def test_one_line_definitions_become_valid_skeletons():
    stripped = strip_solution(f"{SOLUTION_MARKER}\ndef double(x): return 2 * x\n")
    ast.parse(stripped)
    assert f"def double(x):\n    {TODO_BODY}" in stripped
    assert "2 * x" not in stripped
