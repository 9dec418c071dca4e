"""Item analysis for the instructor: which questions measure understanding, and a gradebook.

Assessment tools (Moodle's quiz statistics, PrairieLearn) report, per question:

* **answered**: how many learners answered it;
* **right on the first try**: the share whose first attempt was right (the course lets
  learners retry, so only the first attempt says what they knew);
* **discrimination**: the point-biserial correlation between a learner's first-try
  correctness on this question (1 or 0) and their score on the *rest* of the same quiz
  (first-try correct answers to its other questions; the "corrected item-total"
  correlation, which leaves the question out of the total so it does not correlate with
  itself). Near 1: the learners who get it right are those who do well overall; near 0 or
  negative: it says little about understanding (ambiguous wording, a wrong key, a guess).
  It is undefined (``None``, an empty CSV cell, "n/a") when everyone got the question right,
  or everyone wrong, or the rest of the quiz is the same for everyone: there is no spread
  to correlate;
* **wrong answers**: how many learners chose each wrong option (or typed each wrong number)
  on their first try;
* **flags**: "does not discriminate" when the index is below
  :data:`DISCRIMINATION_THRESHOLD` with at least :data:`MIN_LEARNERS` learners (with fewer
  the index is noise), and "a wrong answer beats the key" when a wrong option was chosen
  on the first try by more learners than got the question right: the misconception is
  stronger than the teaching, or the key is wrong.

Per learner, the score of a quiz is the number of its questions right on the first try.
:meth:`ItemAnalysis.write_gradebook` writes them as a CSV with one row per learner and one
column per quiz (what a gradebook imports), :meth:`ItemAnalysis.write_items` the per-question
statistics, :meth:`ItemAnalysis.plot` a chart. Learners' names, question ids and typed
answers come from files learners wrote: on a terminal they are shown through ``printable``,
and in a CSV a cell that starts with ``= + - @``, a tab or a carriage return gets a leading
``'``, as OWASP advises against CSV injection, so a spreadsheet shows it and runs nothing.
Every file is written atomically through :mod:`lora_tutorial.common.files`.
"""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..common.files import write_file
from ..common.tables import html_table, markdown_table
from .classroom import read_class
from .loader import load_bank_quiz
from .model import QuizError, option_letter
from .safe_text import printable

#: Below this index a question "does not discriminate" (the usual rule of thumb).
DISCRIMINATION_THRESHOLD = 0.2
#: With fewer learners than this the index is too noisy to flag a question.
MIN_LEARNERS = 5

NOT_DISCRIMINATING = "does not discriminate"
WRONG_BEATS_KEY = "a wrong answer beats the key"

# Colour-blind-safe (Okabe and Ito) and told apart in greyscale by hatching and markers too.
_PLAIN, _FLAGGED = ("#0072B2", "//", "o"), ("#D55E00", "xx", "^")


@dataclass(frozen=True)
class ItemStatistics:
    """One question's statistics; ``wrong`` lists (answer, learners) by first-try choices."""

    quiz: str
    question_id: str
    answered: int
    first_try_correct: int
    discrimination: float | None
    wrong: tuple[tuple[str, int], ...] = ()
    flags: tuple[str, ...] = ()

    @property
    def first_try_percent(self) -> float:
        return 100 * self.first_try_correct / self.answered if self.answered else 0.0


@dataclass
class ItemAnalysis:
    """A class's item statistics (bank order), quiz scores per learner, skipped files."""

    learners: list[str]
    items: list[ItemStatistics]
    scores: list[dict[str, int]]  # per learner: quiz -> questions right on the first try
    quiz_sizes: dict[str, int]  # quiz -> its number of questions
    skipped: list[str] = field(default_factory=list)

    _HEADER = ("Quiz", "Question", "Answered", "First try correct", "Discrimination",
               "Wrong answers chosen first", "Flags")

    def _cells(self) -> list[tuple[str, ...]]:
        return [(printable(item.quiz), printable(item.question_id), str(item.answered),
                 f"{item.first_try_percent:.0f}%", _index_text(item.discrimination, "n/a"),
                 printable(_wrong_text(item)) or "none", "; ".join(item.flags))
                for item in self.items]

    def _score_cells(self) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
        header = ("Learner", *(f"{quiz} (of {size})" for quiz, size in self.quiz_sizes.items()))
        rows = [(printable(name), *(_score_text(scores, quiz) or "–" for quiz in self.quiz_sizes))
                for name, scores in zip(self.learners, self.scores)]
        return header, rows

    def __str__(self) -> str:
        header, rows = self._score_cells()
        lines = [f"Item analysis of {len(self.learners)} learner(s)", "",
                 markdown_table(self._HEADER, self._cells(), align="llrrrll"), "",
                 "Scores (questions right on the first try):", "",
                 markdown_table(header, rows, align="l" + "r" * (len(header) - 1))]
        lines += [f"Skipped {printable(item)}" for item in self.skipped]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        header, rows = self._score_cells()
        return (f"<p>Item analysis of {len(self.learners)} learner(s)</p>"
                + html_table(self._HEADER, self._cells()) + html_table(header, rows))

    def write_items(self, path: str | os.PathLike) -> Path:
        """Save the per-question statistics as CSV (one row per question). Returns the path."""
        header = ["quiz", "question", "answered", "first_try_correct",
                  "first_try_correct_percent", "discrimination", "wrong_answers", "flags"]
        rows = [[item.quiz, csv_safe(item.question_id), item.answered, item.first_try_correct,
                 f"{item.first_try_percent:.1f}", _index_text(item.discrimination, ""),
                 csv_safe(_wrong_text(item)), "; ".join(item.flags)] for item in self.items]
        return _write_csv(path, header, rows)

    def write_gradebook(self, path: str | os.PathLike) -> Path:
        """Save one row per learner and one column per quiz (questions right on the first
        try; empty where the learner answered none of the quiz) as CSV. Returns the path."""
        header = ["learner", *(f"{quiz} (out of {size})" for quiz, size in self.quiz_sizes.items())]
        rows = [[csv_safe(name), *(_score_text(scores, quiz) for quiz in self.quiz_sizes)]
                for name, scores in zip(self.learners, self.scores)]
        return _write_csv(path, header, rows)

    def plot(self, path: str | os.PathLike) -> Path:
        """Save :meth:`figure` as a PNG at ``path``; returns the path written."""
        target = Path(path).expanduser()
        figure = self.figure()
        try:
            write_file(target, lambda scratch: figure.savefig(scratch, dpi=100, format="png"))
        except OSError as err:
            raise QuizError(f"Cannot write the chart {target}: {err.strerror or err}.") from None
        return target

    def figure(self):
        """The chart (a matplotlib Figure): per question, the share right on the first try
        (bars) and the discrimination index (markers); flagged questions in vermilion with
        cross-hatching and triangles, the others in blue with diagonal hatching and circles,
        so the chart reads without colour. Every text is drawn as it is (no mathtext)."""
        from matplotlib.figure import Figure  # only here: the engine needs no matplotlib
        from matplotlib.patches import Patch

        labels = [printable(f"{item.quiz} / {item.question_id}") for item in self.items]
        figure = Figure(figsize=(11, max(3.0, 0.35 * len(self.items) + 2)), layout="constrained")
        share, index = figure.subplots(1, 2, sharey=True, width_ratios=(3, 2))
        for y, item in enumerate(self.items):
            colour, hatch, marker = _FLAGGED if item.flags else _PLAIN
            share.barh(y, item.first_try_percent, color="white", edgecolor=colour, hatch=hatch)
            if item.discrimination is None:
                index.text(0, y, "n/a", va="center", ha="center", fontsize=8)
            else:
                index.plot(item.discrimination, y, marker=marker, color=colour, linestyle="",
                           markersize=7)
        share.set_yticks(range(len(self.items)), labels, fontsize=8, parse_math=False)
        share.invert_yaxis()
        share.set_xlim(0, 100)
        share.set_xlabel("learners right on the first try (%)")
        share.set_ylabel("quiz / question")
        share.set_title("Right on the first try")
        index.axvline(DISCRIMINATION_THRESHOLD, color="black", linestyle="--", linewidth=1)
        index.set_xlim(-1, 1)
        index.set_xlabel("discrimination (corrected item-total correlation, no unit)")
        index.set_title(f"Discrimination (dashed: {DISCRIMINATION_THRESHOLD})")
        share.legend(handles=[Patch(facecolor="white", edgecolor=c, hatch=h, label=text)
                              for (c, h, _), text in ((_PLAIN, "not flagged"),
                                                      (_FLAGGED, "flagged"))],
                     loc="lower right", fontsize=8)
        figure.suptitle(f"Item analysis of {len(self.learners)} learner(s)")
        return figure


def point_biserial(item: list[int], rest: list[float]) -> float | None:
    """The correlation between 0/1 scores ``item`` and scores ``rest`` (Pearson's r, which
    for a 0/1 variable is the point-biserial correlation); None when either has no spread."""
    n = len(item)
    if n < 2:
        return None
    mean_item, mean_rest = sum(item) / n, sum(rest) / n
    covariance = sum((a - mean_item) * (b - mean_rest) for a, b in zip(item, rest))
    spread_item = math.sqrt(sum((a - mean_item) ** 2 for a in item))
    spread_rest = math.sqrt(sum((b - mean_rest) ** 2 for b in rest))
    if spread_item == 0 or spread_rest == 0:
        return None
    return covariance / (spread_item * spread_rest)


def item_analysis(folder: str | os.PathLike) -> ItemAnalysis:
    """The item analysis of the answer files in ``folder`` (a class exchange or any folder
    of answer files; see the module docstring)."""
    records, skipped = read_class(folder)
    bank = _BankLabels()
    # Per learner (two files may give the same name): (quiz, question id) -> record.
    answers = [{(quiz, qid): record for quiz, entry in quizzes.items()
                for qid, record in entry["questions"].items()} for _, quizzes in records]
    keys = sorted({key for learner in answers for key in learner}, key=bank.position)
    scores = [{} for _ in answers]
    for learner, score in zip(answers, scores):
        for (quiz, _), record in learner.items():
            score[quiz] = score.get(quiz, 0) + record["first_try_correct"]
    sizes = {}
    for quiz, _ in keys:
        sizes[quiz] = bank.size(quiz) or len({qid for q, qid in keys if q == quiz})
    items = []
    for key in keys:
        takers = [i for i, learner in enumerate(answers) if key in learner]
        right = [int(answers[i][key]["first_try_correct"]) for i in takers]
        rest = [scores[i][key[0]] - mark for i, mark in zip(takers, right)]
        wrong = _wrong_first_choices([answers[i][key] for i in takers], bank.labels(key))
        items.append(_item(key, len(takers), sum(right), point_biserial(right, rest), wrong))
    return ItemAnalysis([name for name, _ in records], items, scores, sizes, skipped)


def _item(key: tuple[str, str], answered: int, right: int, index: float | None,
          wrong: tuple[tuple[str, int], ...]) -> ItemStatistics:
    flags = []
    if index is not None and index < DISCRIMINATION_THRESHOLD and answered >= MIN_LEARNERS:
        flags.append(NOT_DISCRIMINATING)
    if wrong and wrong[0][1] > right:
        flags.append(WRONG_BEATS_KEY)
    return ItemStatistics(key[0], key[1], answered, right, index, wrong, tuple(flags))


def _wrong_first_choices(records: list[dict], labels: dict[str, str | None]
                         ) -> tuple[tuple[str, int], ...]:
    """How many learners chose each wrong answer at their first attempt, most chosen first.

    ``labels`` maps an option's text to ``"B. text"`` (None for a right option). Every wrong
    option of the bank is listed, chosen or not; a typed number is listed as typed. A record
    whose first attempt was not kept (only the last 20 are) counts for no answer."""
    counts = Counter({label: 0 for label in labels.values() if label is not None})
    for record in records:
        answers = record.get("answers", [])
        if not answers or len(answers) != record["attempts"] or answers[0]["correct"]:
            continue
        chosen = answers[0]["chosen"]
        for pick in [chosen] if isinstance(chosen, str) else chosen:
            label = labels.get(pick, pick)
            if label is not None:
                counts[label] += 1
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


class _BankLabels:
    """The bank's questions, read once per quiz: their order, option letters and counts."""

    def __init__(self):
        self._quizzes: dict[str, list] = {}

    def questions(self, quiz: str) -> list:
        if quiz not in self._quizzes:
            try:
                self._quizzes[quiz] = list(load_bank_quiz(quiz).questions)
            except QuizError:  # no longer in the bank: show what was recorded
                self._quizzes[quiz] = []
        return self._quizzes[quiz]

    def size(self, quiz: str) -> int:
        return len(self.questions(quiz))

    def position(self, key: tuple[str, str]) -> tuple:
        ids = [q.id for q in self.questions(key[0])]
        return (key[0], ids.index(key[1]) if key[1] in ids else len(ids), key[1])

    def labels(self, key: tuple[str, str]) -> dict[str, str | None]:
        return {o.text: None if o.correct else f"{option_letter(i)}. {o.text}"
                for q in self.questions(key[0]) if q.id == key[1]
                for i, o in enumerate(q.options)}


def csv_safe(text: str) -> str:
    """``text`` for a CSV cell: a leading ``'`` if it starts with ``= + - @``, a tab or a
    carriage return, so a spreadsheet shows it as text instead of running it as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _index_text(index: float | None, undefined: str) -> str:
    return undefined if index is None else f"{index:.2f}"


def _wrong_text(item: ItemStatistics) -> str:
    return "; ".join(f"{label} ({count})" for label, count in item.wrong if count)


def _score_text(scores: dict[str, int], quiz: str) -> str:
    return str(scores[quiz]) if quiz in scores else ""


def _write_csv(path: str | os.PathLike, header: list[str], rows: list[list]) -> Path:
    target = Path(path).expanduser()

    def write(scratch: Path) -> None:
        with open(scratch, "w", encoding="utf-8", newline="") as handle:
            table = csv.writer(handle)
            table.writerow(header)
            table.writerows(rows)

    try:
        write_file(target, write)
    except OSError as err:
        raise QuizError(f"Cannot write {target}: {err.strerror or err}.") from None
    return target
