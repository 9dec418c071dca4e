"""Remember a learner's answers across notebooks, in one small JSON file.

Every checked answer is recorded under its quiz (the file stem, e.g. ``02_low_rank``)
and question id: how many attempts, whether the *first* attempt was right, and whether
it has been answered correctly since. :func:`progress` turns that into a table per
notebook; :func:`reset_progress` forgets it.

The file lives in the user's data directory (``~/.local/share/lora_tutorial`` on Linux,
the platform's equivalent elsewhere), never inside the repository. Set
``LORA_TUTORIAL_PROGRESS`` to another file path to move it; the test suite does, so that
tests and nbval kernels leave the real file alone. Recording is best effort: a quiz
never fails because the file cannot be written, it warns instead.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from .bank import QuizError, available_quizzes, bank_dir, load_quiz

#: Environment variable holding the path of the progress file.
PROGRESS_ENV = "LORA_TUTORIAL_PROGRESS"


def progress_path() -> Path:
    """Where answers are recorded: ``$LORA_TUTORIAL_PROGRESS`` or the user data directory."""
    override = os.environ.get(PROGRESS_ENV)
    if override:
        return Path(override).expanduser()
    try:
        from platformdirs import user_data_path
    except ImportError:  # platformdirs comes with Jupyter; without it follow the XDG convention
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        return base / "lora_tutorial" / "progress.json"
    return user_data_path("lora_tutorial", appauthor=False) / "progress.json"


def load_progress() -> dict:
    """The recorded answers: ``{quiz: {"title": ..., "questions": {id: record}}}``.

    A missing file means no progress yet; an unreadable one is reported with a warning
    and treated as empty rather than stopping the course.
    """
    path = progress_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (OSError, ValueError) as err:
        warnings.warn(f"Ignoring unreadable quiz progress file {path}: {err}", stacklevel=2)
        return {}
    return data.get("quizzes", {}) if isinstance(data, dict) else {}


def record_answer(quiz: str, title: str, question_id: str, correct: bool) -> None:
    """Record one checked answer; the first attempt at a question decides "first try"."""
    quizzes = load_progress()
    entry = quizzes.setdefault(quiz, {"title": title, "questions": {}})
    entry["title"] = title
    record = entry["questions"].setdefault(
        question_id, {"attempts": 0, "first_try_correct": correct, "correct": False}
    )
    record["attempts"] += 1
    record["correct"] = record["correct"] or correct
    _write({"version": 1, "quizzes": quizzes})


def reset_progress(quiz: str | None = None) -> None:
    """Forget the answers to one quiz (by name), or to every quiz when ``quiz`` is None."""
    if quiz is None:
        progress_path().unlink(missing_ok=True)
        return
    quizzes = load_progress()
    if quizzes.pop(quiz, None) is not None:
        _write({"version": 1, "quizzes": quizzes})


def _write(data: dict) -> None:
    """Write atomically (temporary file, then rename) so a crash never leaves half a file."""
    path = progress_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, suffix=".tmp",
                                         delete=False) as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(handle.name, path)
    except OSError as err:
        warnings.warn(f"Could not record quiz progress in {path}: {err}", stacklevel=3)


@dataclass(frozen=True)
class ProgressRow:
    """One line of the progress table."""

    quiz: str
    title: str
    questions: int | None
    answered: int
    first_try_correct: int


class ProgressReport:
    """The per-notebook progress table: HTML in Jupyter, a Markdown table as ``str()``."""

    _HEADER = ("Quiz", "Questions", "Answered", "Correct on first try")

    def __init__(self, rows: list[ProgressRow]):
        self.rows = rows

    def _cells(self) -> list[tuple[str, str, str, str]]:
        return [(f"{row.title} ({row.quiz})", "?" if row.questions is None else str(row.questions),
                 str(row.answered), str(row.first_try_correct)) for row in self.rows]

    def __str__(self) -> str:
        lines = ["| " + " | ".join(self._HEADER) + " |", "|---|---:|---:|---:|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in self._cells()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in self._HEADER)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"
                       for cells in self._cells())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def progress() -> ProgressReport:
    """Your progress: for each quiz in the bank (and any other quiz you answered),
    how many questions it has, how many you answered, and how many you got right first time."""
    recorded = load_progress()
    names = available_quizzes() if bank_dir().is_dir() else []
    names += sorted(name for name in recorded if name not in names)
    rows = []
    for name in names:
        entry = recorded.get(name, {})
        answers = entry.get("questions", {})
        try:
            quiz = load_quiz(name)
            title, total = quiz.title, len(quiz.questions)
        except QuizError:  # answered from a file outside the bank, or a broken bank file
            title, total = entry.get("title", name), None
        rows.append(ProgressRow(name, title, total, len(answers),
                                sum(bool(r.get("first_try_correct")) for r in answers.values())))
    return ProgressReport(rows)
