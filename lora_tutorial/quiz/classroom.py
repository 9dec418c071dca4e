"""The instructor's live view of a workshop: which questions a class gets wrong, and how.

Each learner runs ``python -m lora_tutorial.quiz answers -o alice.json`` (or
``lora_tutorial.quiz.export_answers("alice.json")`` in a notebook) and drops the file into
a shared folder. The instructor runs::

    python -m lora_tutorial.quiz class answers/ --chart class.png

and gets, per question: how many learners answered it, the share right on the first try,
and the most chosen wrong option (its letter and text in the bank's display order, or the
wrong number most often typed), as a table and as a bar chart. The wrong option that most
of a class picks is the misconception to discuss next.

On a JupyterHub, learners hand in with ``lora_tutorial.quiz.submit()`` instead, into an
exchange folder only the instructor reads (:mod:`.exchange`); the same command reads it,
trusting each file's owner there rather than the name it holds (:func:`read_class`). The
item analysis and the gradebook are in :mod:`.analysis`.

Files that are not answer files are skipped and named in the summary's ``skipped`` list,
so one broken file never hides the rest of the class; so is anything in the folder that is
not a regular file (a pipe would make reading wait forever) and any quiz an answer file
names by something other than a bank name (``../secret`` or ``/etc/x.yaml`` would make the
summary read a file outside the bank). What learners wrote (their names, the numbers they
typed) is shown, never obeyed: control characters appear as escapes (``\\x1b``) in the
table, and the chart draws ``$`` as a dollar sign, not as the start of a formula.
Matplotlib is imported only to draw the chart, so the rest of the quiz engine stays light.
"""

from __future__ import annotations

import json
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..common.files import write_file
from ..common.tables import html_table, markdown_table
from .loader import is_bank_name, load_bank_quiz
from .model import QuizError, option_letter
from .progress import structure_problem
from .safe_text import printable

#: An answer file is small (at most 20 answers per question); a larger file is skipped.
MAX_ANSWER_FILE_BYTES = 10_000_000


@dataclass(frozen=True)
class QuestionSummary:
    """One question's line: answered, right on the first try, most chosen wrong answer."""

    quiz: str
    question_id: str
    answered: int
    first_try_correct: int
    top_wrong: str | None = None  # "C. text" or the wrong number typed
    top_wrong_count: int = 0

    @property
    def first_try_percent(self) -> float:
        return 100 * self.first_try_correct / self.answered if self.answered else 0.0


@dataclass
class ClassSummary:
    """Every question a class answered, in bank order, plus the files that were skipped."""

    learners: list[str]
    rows: list[QuestionSummary]
    skipped: list[str] = field(default_factory=list)

    _HEADER = ("Quiz", "Question", "Answered", "First try correct", "Most chosen wrong answer")

    def _cells(self) -> list[tuple[str, ...]]:
        return [(printable(row.quiz), printable(row.question_id), str(row.answered),
                 f"{row.first_try_percent:.0f}%",
                 "none" if row.top_wrong is None else
                 f"{printable(row.top_wrong)} ({row.top_wrong_count}×)")
                for row in self.rows]

    def __str__(self) -> str:
        names = ", ".join(printable(name) for name in self.learners) or "none"
        lines = [f"{len(self.learners)} learner(s): {names}", "",
                 markdown_table(self._HEADER, self._cells(), align="llrrl")]
        lines += [f"Skipped {printable(item)}" for item in self.skipped]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return f"<p>{len(self.learners)} learner(s)</p>" + html_table(self._HEADER, self._cells())

    def plot(self, path: str | os.PathLike) -> Path:
        """Save a horizontal bar chart (PNG) of first-try correct % per question, each bar
        labelled with its most chosen wrong answer. Returns the path written.

        Every text is drawn as it is (``parse_math=False``): a learner's ``$\\frac{$`` is
        text, not a formula for matplotlib's mathtext to choke on."""
        from matplotlib.figure import Figure  # only here: the engine needs no matplotlib

        target = Path(path).expanduser()
        labels = [printable(f"{row.quiz} / {row.question_id}") for row in self.rows]
        height = max(2.5, 0.35 * len(self.rows) + 1.5)
        figure = Figure(figsize=(10, height), layout="constrained")
        axes = figure.add_subplot()
        positions = range(len(self.rows))
        axes.barh(positions, [row.first_try_percent for row in self.rows], color="#4c72b0")
        for y, row in zip(positions, self.rows):
            note = f"{row.answered} answered" + (
                f"; wrong pick: {printable(row.top_wrong[:40])}" if row.top_wrong else "")
            axes.text(1, y, note, va="center", fontsize=8, parse_math=False,
                      color="white" if row.first_try_percent > 50 else "black")
        axes.set_yticks(list(positions), labels, fontsize=8, parse_math=False)
        axes.invert_yaxis()
        axes.set_xlim(0, 100)
        axes.set_xlabel("learners right on the first try (%)")
        axes.set_ylabel("quiz / question")
        axes.set_title(f"Quiz results of {len(self.learners)} learner(s)")
        try:
            write_file(target, lambda scratch: figure.savefig(scratch, dpi=100, format="png"))
        except OSError as err:
            raise QuizError(f"Cannot write the chart {target}: {err.strerror or err}.") from None
        return target


def read_answer_file(path: Path) -> tuple[str, dict]:
    """The learner's name and recorded quizzes in one answer file; QuizError if it is not one
    (or is not a regular file: a pipe is never opened, since reading it could wait forever)."""
    try:
        info = path.stat()
    except OSError as err:
        raise QuizError(f"{path.name}: cannot be read ({err.strerror or err})") from None
    if not stat.S_ISREG(info.st_mode):
        raise QuizError(f"{path.name}: not a regular file (a folder, a pipe or a device)")
    if info.st_size > MAX_ANSWER_FILE_BYTES:
        raise QuizError(f"{path.name}: {info.st_size:,} bytes, too large for an answer file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise QuizError(f"{path.name}: not a readable JSON file ({err})") from None
    except RecursionError:
        raise QuizError(f"{path.name}: not an answer file (JSON nested too deeply)") from None
    if not isinstance(data, dict) or data.get("format") != "lora_tutorial.answers":
        raise QuizError(f"{path.name}: not an answer file from "
                        "'python -m lora_tutorial.quiz answers'")
    problem = structure_problem(data.get("quizzes"))
    if problem is not None or not isinstance(data.get("learner", ""), str):
        raise QuizError(f"{path.name}: unexpected content ({problem or 'learner is not text'})")
    return data.get("learner") or path.stem, data["quizzes"]


def read_class(folder: str | os.PathLike) -> tuple[list[tuple[str, dict]], list[str]]:
    """Every learner's name and recorded quizzes in ``folder``'s ``*.json`` answer files, in
    file-name order, and what was skipped (files that are not answer files, quizzes not
    named by a bank name). QuizError if ``folder`` is not a folder or holds no answer files.

    In a class exchange (a sticky folder, see :mod:`.exchange`) a file counts only if the
    account that owns it is the one its name names, and the learner is listed by that name,
    not by whatever the file says inside."""
    from .exchange import is_exchange, submission_problem

    directory = Path(folder).expanduser()
    if not directory.is_dir():
        raise QuizError(f"{directory} is not a folder; give the folder holding the learners' "
                        "answer files (*.json).")
    exchange = is_exchange(directory)
    learners, skipped = [], []
    for path in sorted(directory.glob("*.json")):
        try:
            problem = submission_problem(path) if exchange else None
            if problem is not None:
                raise QuizError(f"{path.name}: {problem}")
            name, quizzes = read_answer_file(path)
        except QuizError as err:
            skipped.append(str(err))
            continue
        for quiz_name in [q for q in quizzes if not is_bank_name(q)]:
            skipped.append(f"{path.name}: quiz {quiz_name!r} (not the name of a quiz in the "
                           "bank, so it is not looked up)")
            del quizzes[quiz_name]
        learners.append((path.stem if exchange else name, quizzes))
    if not learners and not skipped:
        raise QuizError(f"No answer files (*.json) in {directory}.")
    return learners, skipped


def class_summary(folder: str | os.PathLike) -> ClassSummary:
    """Summarise every ``*.json`` answer file in ``folder`` (see the module docstring)."""
    records, skipped = read_class(folder)
    answered: Counter = Counter()
    first_right: Counter = Counter()
    wrong: dict[tuple[str, str], Counter] = {}
    for _, quizzes in records:
        for quiz_name, entry in quizzes.items():
            for qid, record in entry["questions"].items():
                key = (quiz_name, qid)
                answered[key] += 1
                first_right[key] += record["first_try_correct"]
                picks = set()  # each learner counts once per wrong answer
                for attempt in record.get("answers", []):
                    if attempt["correct"]:
                        continue
                    chosen = attempt["chosen"]
                    picks.update([chosen] if isinstance(chosen, str) else chosen)
                wrong.setdefault(key, Counter()).update(picks)
    bank: dict[str, list] = {}  # quiz name -> its questions, read once

    def questions(quiz: str) -> list:
        if quiz not in bank:
            try:
                bank[quiz] = list(load_bank_quiz(quiz).questions)
            except QuizError:  # a quiz no longer in the bank: show what was recorded
                bank[quiz] = []
        return bank[quiz]

    def position(key: tuple[str, str]) -> tuple:
        ids = [q.id for q in questions(key[0])]
        return (key[0], ids.index(key[1]) if key[1] in ids else len(ids), key[1])

    rows = []
    for key in sorted(answered, key=position):
        labels = {o.text: None if o.correct else f"{option_letter(i)}. {o.text}"
                  for q in questions(key[0]) if q.id == key[1]
                  for i, o in enumerate(q.options)}
        counts = Counter()
        for pick, count in wrong.get(key, Counter()).items():
            label = labels.get(pick, pick)
            if label is not None:  # None: a right option, ticked in a wrong multiple answer
                counts[label] += count
        top = min(counts.items(), key=lambda item: (-item[1], item[0])) if counts else None
        rows.append(QuestionSummary(key[0], key[1], answered[key], first_right[key],
                                    top[0] if top else None, top[1] if top else 0))
    return ClassSummary([name for name, _ in records], rows, skipped)
