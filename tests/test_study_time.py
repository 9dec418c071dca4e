"""The stated times follow one rubric (tools/study_time.py), in every place that states them.

A learner plans an evening, an instructor a day, from these numbers. They are not typed by
feel: the rubric prices reading, code, exercises, quiz questions and widgets once, and the
notebook headers, the README and the instructor guide must all state what it computes for the
learner notebooks as they are now. Add a section, and the test says which times to update.
"""

import json
import re
from pathlib import Path

import pytest

from tools.study_time import RUBRIC, Parts, course_estimates, estimate

ROOT = Path(__file__).resolve().parents[1]
README = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())  # prose wraps anywhere
INSTRUCTOR = (ROOT / "docs" / "instructor.md").read_text(encoding="utf-8")
ESTIMATES = {e.notebook: e for e in course_estimates()}


def _header(notebook: str) -> str:
    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
    return " ".join("".join(cells[0]["source"]).split())


@pytest.mark.parametrize("notebook", sorted(ESTIMATES))
def test_each_header_states_the_rubric_time(notebook):
    e = ESTIMATES[notebook]
    header = _header(notebook)
    stated = re.search(r"\*\*Time:\*\* about (\d+) minutes", header)
    assert stated and int(stated.group(1)) == e.main_minutes, \
        f"{notebook}: the header says {stated and stated.group(1)} min, the rubric {e.main_minutes}"
    deeper = re.search(r"Going deeper sections add about (\d+) minutes", header)
    if e.deeper_minutes:
        assert deeper and int(deeper.group(1)) == e.deeper_minutes, \
            f"{notebook}: Going deeper takes {e.deeper_minutes} min by the rubric; say so in the header"
    else:
        assert deeper is None, f"{notebook} has no Going deeper section, but its header times one"


@pytest.mark.parametrize("notebook", sorted(ESTIMATES))
def test_the_instructor_guide_states_the_same_self_study_time(notebook):
    row = re.search(rf"\| {notebook[:2]} [^|]*\| (\d+) \| (\d+|—) \|", INSTRUCTOR)
    assert row, f"docs/instructor.md's self-study table has no row for {notebook}"
    e = ESTIMATES[notebook]
    assert int(row.group(1)) == e.main_minutes
    assert row.group(2) == (str(e.deeper_minutes) if e.deeper_minutes else "—")


def test_the_readme_states_the_rubric_and_the_course_total():
    for part, value in RUBRIC.items():
        assert f"{value:g} {part}" in README, f"the README does not state the rubric's '{value:g} {part}'"
    hours = sum(e.main_minutes for e in ESTIMATES.values()) / 60
    assert f"about {round(hours)} hours" in README, f"the README must say about {round(hours)} hours"


def _notebook(cells) -> dict:
    return {"cells": [{"cell_type": kind, "source": source, "metadata": {}} for kind, source in cells]}


def test_the_rubric_counts_each_part_and_keeps_going_deeper_apart(tmp_path):
    path = tmp_path / "99_toy.ipynb"
    path.write_text(json.dumps(_notebook([
        ("markdown", "## 1 · Main\nsix words are read [here](x.ipynb)."),
        ("code", "from lora_tutorial.course.widgets.rank import rank_explorer\n# a comment\nx = 1\n"),
        ("code", "rank_explorer()\ncheck_my_layer(MyLayer)\n"
                 "quiz.show('01_full_finetuning_and_freezing', ids=['a', 'b', 'c'])"),
        ("markdown", "## 2 · Going deeper: a proof\none two three"),
        ("code", "y = 2"),
    ])), encoding="utf-8")
    e = estimate(path)
    assert e.main == Parts(words=7, code_lines=5, code_cells=2, exercises=1, quiz_questions=3, widgets=1)
    assert e.deeper == Parts(words=8, code_lines=1, code_cells=1)
    expected = (7 / 130 + 5 * 4 / 60 + 2 * 0.5 + 10 + 3 * 1 + 3)
    assert e.main.minutes() == pytest.approx(expected)
    assert e.main_minutes == 20 and e.deeper_minutes == 5
