"""How long a notebook takes a learner, by one stated rubric instead of a guess.

The course's audience knows Python and PyTorch basics and matrix multiplication, nothing
more. For that learner, time goes to reading prose and formulas, reading and running code
and looking at what it prints, doing exercises, answering quiz questions and playing with
widgets. The rubric prices each of these once (:data:`RUBRIC`); :func:`estimate` counts them
in a learner notebook (``notebooks/``, where exercises are unsolved) and adds them up.

"Going deeper" sections (``## N · Going deeper: ...``) are optional: their time is reported
apart and is not part of the main path's time in the headers, the README and the
instructor guide (``tests/test_study_time.py`` keeps all three equal to this estimate).

    python -m tools.study_time            # a table of every notebook
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from lora_tutorial.common.cli import command
from lora_tutorial.common.tables import markdown_table
from lora_tutorial.quiz import load_quiz

ROOT = Path(__file__).resolve().parents[1]
PROG = "python -m tools.study_time"

RUBRIC = {
    "words per minute": 130,        # technical prose with formulas, read to understand it
    "seconds per code line": 4,     # reading a line of code before running it
    "minutes per code cell": 0.5,   # running it, reading its output, a table or a plot
    "minutes per exercise": 10,     # writing a solution and running its checker, once or twice
    "minute per quiz question": 1,
    "minutes per widget": 3,        # moving its controls until the picture makes sense
}
"""What each part of a notebook costs this learner, in one place (the README states it)."""

ROUND_TO = 5
"""Estimates are rounded up to whole multiples of this many minutes."""

GOING_DEEPER = re.compile(r"^##\s.*Going deeper", re.MULTILINE)
SECTION = re.compile(r"^##\s", re.MULTILINE)


@dataclass(frozen=True)
class Parts:
    """What a stretch of notebook holds, counted the rubric's way."""

    words: int = 0
    code_lines: int = 0
    code_cells: int = 0
    exercises: int = 0
    quiz_questions: int = 0
    widgets: int = 0

    def minutes(self) -> float:
        return (self.words / RUBRIC["words per minute"]
                + self.code_lines * RUBRIC["seconds per code line"] / 60
                + self.code_cells * RUBRIC["minutes per code cell"]
                + self.exercises * RUBRIC["minutes per exercise"]
                + self.quiz_questions * RUBRIC["minute per quiz question"]
                + self.widgets * RUBRIC["minutes per widget"])

    def __add__(self, other: Parts) -> Parts:
        return Parts(*(a + b for a, b in zip(vars(self).values(), vars(other).values())))


@dataclass(frozen=True)
class Estimate:
    """A notebook's time by the rubric: the main path, and the optional Going deeper."""

    notebook: str
    main: Parts
    deeper: Parts

    @property
    def main_minutes(self) -> int:
        return _rounded(self.main.minutes())

    @property
    def deeper_minutes(self) -> int:
        return _rounded(self.deeper.minutes()) if self.deeper != Parts() else 0


def _rounded(minutes: float) -> int:
    return max(ROUND_TO, math.ceil(minutes / ROUND_TO) * ROUND_TO)


def _words(markdown: str) -> int:
    """Words a learner reads: HTML tags, link targets and bare markup do not count."""
    text = re.sub(r"<[^>]+>", " ", markdown)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return sum(1 for token in text.split() if re.search(r"\w", token))


def _quiz_questions(call: ast.Call) -> int:
    """The questions a ``quiz.show("name", ids=[...])`` call shows."""
    name = call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) else None
    for keyword in call.keywords:
        if keyword.arg == "ids" and isinstance(keyword.value, (ast.List, ast.Tuple)):
            return len(keyword.value.elts)
    if name is None:
        raise ValueError(f"cannot tell which quiz this call shows: {ast.unparse(call)}")
    return len(load_quiz(name).questions)


def _code_parts(source: str, widgets: set[str]) -> Parts:
    lines = [line for line in source.splitlines()
             if line.strip() and not line.lstrip().startswith(("#", "%"))]
    exercises = quiz = widget = 0
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and ".widgets" in node.module:
            widgets.update(alias.asname or alias.name for alias in node.names)
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name.startswith("check_"):
            exercises += 1
        elif name == "show" and getattr(getattr(func, "value", None), "id", "") == "quiz":
            quiz += _quiz_questions(node)
        elif name in widgets:
            widget += 1
    return Parts(code_lines=len(lines), code_cells=1, exercises=exercises,
                 quiz_questions=quiz, widgets=widget)


def estimate(path: Path) -> Estimate:
    """Count a learner notebook's parts, main path and Going deeper apart."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    main, deeper, in_deeper, widgets = Parts(), Parts(), False, set()
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            if SECTION.search(source):
                in_deeper = bool(GOING_DEEPER.search(source))
            part = Parts(words=_words(source))
        elif cell["cell_type"] == "code":
            part = _code_parts(source, widgets)
        else:
            continue
        if in_deeper:
            deeper = deeper + part
        else:
            main = main + part
    return Estimate(path.stem, main, deeper)


def course_estimates(folder: Path = ROOT / "notebooks") -> list[Estimate]:
    return [estimate(path) for path in sorted(folder.glob("[0-9][0-9]_*.ipynb"))]


@command(PROG)
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "notebooks",
                        help="the learner notebooks to estimate (default: notebooks/)")
    args = parser.parse_args(argv)
    rows = []
    for e in course_estimates(args.folder):
        m = e.main
        rows.append((e.notebook, m.words, m.code_lines, m.code_cells, m.exercises,
                     m.quiz_questions, m.widgets, e.main_minutes, e.deeper_minutes))
    print(markdown_table(["notebook", "words", "code lines", "code cells", "exercises",
                          "quiz questions", "widgets", "main path (min)", "going deeper (min)"],
                         rows))
    total = sum(e.main_minutes for e in course_estimates(args.folder))
    print(f"\nmain path, whole course: {total} minutes (about {total / 60:.1f} hours)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
