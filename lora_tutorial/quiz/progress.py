"""Remember a learner's answers across notebooks, in one small JSON file.

Every checked answer is recorded under its quiz (the file stem, e.g. ``02_low_rank``)
and question id: how many attempts, whether the *first* attempt was right, whether it has
been answered correctly since, and what was chosen each time (the options' texts, or the
number typed). :func:`progress` turns that into a table per notebook;
:func:`reset_progress` forgets it; :func:`export_answers` copies it into a file to hand
to an instructor (see :mod:`lora_tutorial.quiz.classroom`).

The file lives in the user's data directory (``~/.local/share/lora_tutorial`` on Linux,
the platform's equivalent elsewhere), never inside the repository. Set
``LORA_TUTORIAL_PROGRESS`` to another file path to move it; the test suite does, so that
tests and nbval kernels leave the real file alone.

Two notebooks open at once are two processes writing the same file. Each update therefore
reads, changes and writes the file while holding an exclusive lock on ``<file>.lock``
(``fcntl.flock`` on Linux and macOS, ``msvcrt.locking`` on Windows), and writes
atomically (:mod:`lora_tutorial.common.files`), so no answer is lost and no reader sees
half a file. A file that is not valid JSON, or not the structure below, is moved aside
(``progress.json.broken-<time>``) with a message, never silently overwritten. What this
version does not know is kept: a top-level field it does not use is written back as it
was, and a file from a *newer* version (a higher ``version``) is read but never written.
A path that is not a file (a folder, a pipe) is refused, and nothing there is touched.
Recording is best effort: a quiz never fails because the file cannot be written; the
caller gets a note to show instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from ..common.files import write_text
from ..common.tables import html_table, markdown_table
from .loader import available_quizzes, bank_dir, load_bank_quiz
from .model import QuizError
from .safe_text import printable

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    import msvcrt

#: Environment variable holding the path of the progress file.
PROGRESS_ENV = "LORA_TUTORIAL_PROGRESS"
#: The progress file's format version (version 1 files, without ``answers``, still load).
VERSION = 2
#: At most this many attempts per question are kept, so the file stays small.
MAX_ANSWERS = 20


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


def structure_problem(quizzes: object) -> str | None:
    """What is wrong with a ``quizzes`` mapping read from a file, or None if it is sound.

    Expected: ``{quiz: {"title": str, "questions": {id: record}}}`` where a record has
    ``attempts`` (an int), ``first_try_correct`` and ``correct`` (booleans) and optionally
    ``answers``: a list of ``{"chosen": [option text, ...] or "typed number", "correct": bool}``.
    """
    if not isinstance(quizzes, dict):
        return "'quizzes' is not a mapping"
    for quiz, entry in quizzes.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("title", ""), str) \
                or not isinstance(entry.get("questions"), dict):
            return f"quiz {quiz!r} is not a mapping with a title and questions"
        for qid, record in entry["questions"].items():
            if not isinstance(record, dict):
                return f"question {quiz}/{qid} is not a mapping"
            attempts = record.get("attempts")
            if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
                return f"question {quiz}/{qid}: 'attempts' is not a whole number"
            for key in ("first_try_correct", "correct"):
                if not isinstance(record.get(key), bool):
                    return f"question {quiz}/{qid}: {key!r} is not true or false"
            answers = record.get("answers", [])
            if not isinstance(answers, list) or not all(
                    isinstance(a, dict) and isinstance(a.get("correct"), bool)
                    and (isinstance(a.get("chosen"), str) or (
                        isinstance(a.get("chosen"), list)
                        and all(isinstance(t, str) for t in a["chosen"])))
                    for a in answers):
                return f"question {quiz}/{qid}: 'answers' is not a list of recorded answers"
    return None


@contextlib.contextmanager
def _locked(path: Path, doing: str):
    """Hold an exclusive lock on ``<path>.lock`` (blocking until the other writer is done).

    A ``path`` that is not a file is refused first (QuizError saying what could not be
    ``doing``), so nothing is created beside it."""
    _refuse_a_non_file(path, doing)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        else:  # pragma: no cover - Windows: LK_LOCK retries for 10 s, then raises OSError
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
            else:  # pragma: no cover
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)


def _refuse_a_non_file(path: Path, doing: str) -> None:
    """Raise QuizError if ``path`` exists but is not a regular file (a folder, a pipe):
    it is not a progress file, so it is neither read, moved aside nor written."""
    try:
        mode = path.stat().st_mode
    except OSError:  # nothing there (yet), or a broken link: the writer will say
        return
    if stat.S_ISDIR(mode):
        what, instead = "a folder", f", e.g. {path / 'progress.json'}"
    elif not stat.S_ISREG(mode):
        what, instead = "not a regular file", ""
    else:
        return
    raise QuizError(f"Cannot {doing} {path}: it is {what}, not a progress file, and it was "
                    f"left as it is. Set {PROGRESS_ENV} to the path of a file{instead}.")


def _version(document: dict) -> int:
    """The file's format version (1 when it has none)."""
    return document.get("version", 1)


def _load(path: Path) -> tuple[dict, str | None]:
    """The whole document (``version``, ``quizzes`` and any field a newer version added)
    and a note (or None). A broken file is moved aside, with a note; a file of a newer
    version is never moved: it is read if it can be, else left alone, with a note."""
    _refuse_a_non_file(path, "read the quiz progress in")
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}, None
    except (OSError, UnicodeDecodeError) as err:
        reason = f"cannot be read ({err})"
    else:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as err:
            reason = f"is not valid JSON ({err})"
        else:
            reason = _document_problem(data)
            if reason is None:
                return data, None
            if _newer(data):
                return {}, (f"Quiz progress file {path} was written by a newer version of "
                            f"lora_tutorial (format {data['version']}; this one reads "
                            f"{VERSION}) and {reason}; it is left as it is. Upgrade "
                            "lora_tutorial to record answers in it.")
    aside = path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while aside.exists():
        n += 1
        aside = aside.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    try:
        os.replace(path, aside)
    except OSError as err:
        return {}, (f"Quiz progress file {path} {reason}, and it could not be moved aside "
                    f"({err}); answers are not recorded until it is fixed or removed.")
    return {}, (f"Quiz progress file {path} {reason}; it was moved to {aside.name} and a new "
                "record was started.")


def _newer(data: object) -> bool:
    """Does ``data`` say it is a progress file of a newer format than this version's?"""
    version = data.get("version") if isinstance(data, dict) else None
    return isinstance(version, int) and not isinstance(version, bool) and version > VERSION


def _document_problem(data: object) -> str | None:
    """Why ``data`` (a parsed file) is not a progress file, or None if it is one."""
    if not isinstance(data, dict):
        return "is not a JSON object"
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return "has an unexpected structure: 'version' is not a whole number from 1 up"
    problem = structure_problem(data.get("quizzes", {}))
    return None if problem is None else f"has an unexpected structure: {problem}"


def _writable(document: dict, path: Path) -> dict:
    """``document`` ready to write back as this version's format; QuizError (nothing
    written) if it comes from a newer version, whose fields this version cannot keep right."""
    if _version(document) > VERSION:
        raise QuizError(f"Quiz progress file {path} was written by a newer version of "
                        f"lora_tutorial (format {_version(document)}; this one writes "
                        f"{VERSION}); it is left as it is. Upgrade lora_tutorial to record "
                        "answers in it, or set "
                        f"{PROGRESS_ENV} to another file.")
    document.setdefault("quizzes", {})
    return {**document, "version": VERSION}


def load_progress() -> dict:
    """The recorded answers: ``{quiz: {"title": ..., "questions": {id: record}}}``.

    A missing file means no progress yet. A broken one is moved aside (with a warning);
    reading then starts from an empty record. Raises :class:`QuizError` when the path is
    not a file (a folder, say).
    """
    path = progress_path()
    if not path.exists():
        return {}
    try:
        with _locked(path, "read the quiz progress in"):
            document, note = _load(path)
    except OSError as err:  # the folder cannot hold a lock file: read without one
        document, note = _load(path)
        note = note or f"Quiz progress {path} read without a lock: {err}"
    if note:
        import warnings

        warnings.warn(note, stacklevel=2)
    return document.get("quizzes", {})


def record_answer(quiz: str, title: str, question_id: str, correct: bool,
                  chosen: list[str] | str | None = None) -> str | None:
    """Record one checked answer; the first attempt at a question decides "first try".

    ``chosen`` is what the learner chose: the texts of the chosen options, or the number
    as typed. Returns None, or a note for the learner (the file was broken and moved
    aside, cannot be written, is a folder, or comes from a newer version), which the
    widget and the terminal show.
    """
    path = progress_path()
    try:
        with _locked(path, "record quiz progress in"):
            document, note = _load(path)
            if note and path.exists():  # could not be moved aside: never overwrite it
                return note
            document = _writable(document, path)
            entry = document["quizzes"].setdefault(quiz, {"title": title, "questions": {}})
            entry["title"] = title
            record = entry["questions"].setdefault(
                question_id, {"attempts": 0, "first_try_correct": correct, "correct": False}
            )
            record["attempts"] += 1
            record["correct"] = record["correct"] or correct
            if chosen is not None:
                answers = record.setdefault("answers", [])
                answers.append({"chosen": chosen, "correct": correct})
                del answers[:-MAX_ANSWERS]
            write_text(path, _json_text(document))
    except QuizError as err:
        return str(err)
    except OSError as err:
        return f"Could not record quiz progress in {path}: {err}"
    return note


def reset_progress(quiz: str | None = None) -> None:
    """Forget the answers to one quiz (by name), or to every quiz when ``quiz`` is None.

    Raises :class:`QuizError` with the reason when the file cannot be changed.
    """
    path = progress_path()
    try:
        if quiz is None:
            _refuse_a_non_file(path, "reset the quiz progress in")
            path.unlink(missing_ok=True)
            return
        with _locked(path, "reset the quiz progress in"):
            document, _ = _load(path)
            if quiz in document.get("quizzes", {}):
                document = _writable(document, path)
                del document["quizzes"][quiz]
                write_text(path, _json_text(document))
    except OSError as err:
        raise QuizError(f"Cannot reset the quiz progress in {path}: {err.strerror or err}. "
                        f"Set {PROGRESS_ENV} to a file you can write.") from None


def export_answers(path: str | os.PathLike, name: str | None = None) -> Path:
    """Copy your recorded answers into ``path`` (e.g. ``"alice.json"``) for your instructor.

    ``name`` is how the instructor's summary will list you (default: the file's stem);
    anything works, a nickname included. Returns the path written. Raises
    :class:`QuizError` when the file cannot be written.
    """
    target = Path(path).expanduser()
    text = answers_text(name if name is not None else target.stem)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text(target, text)
    except OSError as err:
        raise QuizError(f"Cannot write {target}: {err.strerror or err}.") from None
    return target


def answers_text(learner: str) -> str:
    """The JSON text of an answer file: your recorded answers, listed under ``learner``.

    What :func:`export_answers` writes and :func:`~lora_tutorial.quiz.exchange.submit` hands
    in, and what the instructor's class report reads.
    """
    return _json_text({"format": "lora_tutorial.answers", "version": VERSION,
                       "learner": learner, "quizzes": load_progress()})


def _json_text(data: dict) -> str:
    """``data`` as the JSON text of a progress or answer file.

    Text is written as itself (``"é"``), except a lone surrogate, which a browser can send
    as typed text but UTF-8 cannot hold: then every non-ASCII character is escaped
    (``"\\u00e9"``), which reads back the same.
    """
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, indent=1, sort_keys=True)
    return text


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
        return [(printable(f"{row.title} ({row.quiz})"),
                 "?" if row.questions is None else str(row.questions),
                 str(row.answered), str(row.first_try_correct)) for row in self.rows]

    def __str__(self) -> str:
        return markdown_table(self._HEADER, self._cells(), align="lrrr")

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return html_table(self._HEADER, self._cells())


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
            quiz = load_bank_quiz(name)
            title, total = quiz.title, len(quiz.questions)
        except QuizError:  # answered from a file outside the bank, or a broken bank file
            title, total = entry.get("title", name), None
        rows.append(ProgressRow(name, title, total, len(answers),
                                sum(r["first_try_correct"] for r in answers.values())))
    return ProgressReport(rows)
