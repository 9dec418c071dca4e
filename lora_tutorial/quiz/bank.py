"""Load and validate the question bank.

The bank is a folder of YAML files, one per notebook plus a final check (see
``quizzes/README.md`` for the schema). This module turns a file into plain, immutable
Python objects (:class:`Quiz`, :class:`Question`, :class:`Option`) and checks it
*before* a learner ever sees it: a quiz with two "correct" answers to a single-choice
question, or an option without feedback, is a bug in the course, and the validator
names the file and the question so an instructor can fix it in seconds.

Files are read with :func:`yaml.safe_load` only: loading a quiz must never run code.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence, Union

import yaml

PathLike = Union[str, os.PathLike]

#: Environment variable that points ``show("name")`` and the CLI at another bank folder.
QUIZ_DIR_ENV = "LORA_TUTORIAL_QUIZ_DIR"

QUESTION_TYPES = ("single", "multiple", "numeric")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: Radio-button and checkbox labels are one line high in Jupyter, so option texts stay short.
MAX_OPTION_LENGTH = 120

_COMMON_FIELDS = ("id", "type", "question", "hint", "explanation")
_TYPE_FIELDS = {
    "single": ("options",),
    "multiple": ("options",),
    "numeric": ("answer", "tolerance"),
}
_OPTION_FIELDS = ("text", "correct", "feedback")


class QuizError(ValueError):
    """A quiz file could not be found, read or validated.

    ``problems`` holds one :class:`Problem` per thing that is wrong, so a caller can
    report all of them at once instead of stopping at the first.
    """

    def __init__(self, message: str, problems: Sequence["Problem"] = ()):
        super().__init__(message)
        self.problems = list(problems)


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the bank: which file, which question (if any), and what."""

    path: str
    message: str
    question_id: str | None = None

    def __str__(self) -> str:
        if self.question_id is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}: question '{self.question_id}': {self.message}"


@dataclass(frozen=True)
class Option:
    """One answer option. ``feedback`` says *why* choosing it is right or wrong."""

    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Question:
    """One question. Choice questions have ``options``; numeric ones ``answer`` ± ``tolerance``."""

    id: str
    type: str
    question: str
    hint: str
    explanation: str
    options: tuple[Option, ...] = ()
    answer: float | None = None
    tolerance: float | None = None

    @property
    def correct_indices(self) -> frozenset[int]:
        """Positions (0-based, authored order) of the correct options."""
        return frozenset(i for i, option in enumerate(self.options) if option.correct)

    def check(self, response: Union[Iterable[int], float]) -> bool:
        """Is ``response`` right?

        For choice questions ``response`` is the collection of chosen option indices
        (one index for ``single``); it is right when it is exactly the set of correct
        options. For numeric questions it is a number, right when it lies within
        ``tolerance`` of ``answer``.
        """
        if self.type == "numeric":
            return abs(float(response) - self.answer) <= self.tolerance
        return frozenset(response) == self.correct_indices


@dataclass(frozen=True)
class Quiz:
    """The questions of one file. ``name`` is the file's stem, e.g. ``"02_low_rank"``."""

    name: str
    title: str
    path: Path
    questions: tuple[Question, ...]


def parse_number(text: str) -> float | None:
    """Read a learner's number: ``"8192"``, ``"8,192"``, ``"8 192"``, ``"8_192"`` or ``"3.7e7"``.

    Returns None when the text is not a finite number.
    """
    cleaned = re.sub(r"[,_\s]", "", text)
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def bank_dir() -> Path:
    """The folder holding the bank.

    ``$LORA_TUTORIAL_QUIZ_DIR`` wins if set; otherwise it is the repository's
    ``quizzes/`` folder next to the (editable-installed) ``lora_tutorial`` package.
    """
    override = os.environ.get(QUIZ_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import lora_tutorial

    return Path(lora_tutorial.__file__).resolve().parents[1] / "quizzes"


def available_quizzes(directory: PathLike | None = None) -> list[str]:
    """Names (file stems) of the quizzes in ``directory`` (default: :func:`bank_dir`), sorted."""
    folder = Path(directory) if directory is not None else bank_dir()
    return sorted(path.stem for path in folder.glob("*.yaml"))


def resolve(name_or_path: PathLike) -> Path:
    """Turn ``"02_low_rank"`` into ``<bank>/02_low_rank.yaml``; pass existing paths through.

    Raises :class:`QuizError` listing the available names when nothing matches.
    """
    candidate = Path(name_or_path).expanduser()
    if candidate.is_file():
        return candidate
    folder = bank_dir()
    file_name = candidate.name if candidate.suffix == ".yaml" else f"{candidate.name}.yaml"
    if len(candidate.parts) == 1 and (folder / file_name).is_file():
        return folder / file_name
    if not folder.is_dir():
        raise QuizError(
            f"No quiz file {str(name_or_path)!r}, and the quiz folder {folder} does not exist; "
            f"set {QUIZ_DIR_ENV} to the folder holding the quiz YAML files."
        )
    names = ", ".join(available_quizzes(folder)) or "(none)"
    raise QuizError(f"No quiz named {str(name_or_path)!r} in {folder}. Available quizzes: {names}")


def load_quiz(name_or_path: PathLike, ids: Sequence[str] | None = None) -> Quiz:
    """Read and validate one quiz file; keep only ``ids`` (in that order) if given.

    Raises :class:`QuizError` carrying every problem found in the file, or naming the
    ids that the file does not contain.
    """
    path = resolve(name_or_path)
    quiz, problems = _read(path)
    if problems:
        raise QuizError("\n".join(str(p) for p in problems), problems)
    if ids is None:
        return quiz
    by_id = {q.id: q for q in quiz.questions}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise QuizError(f"{path}: no question with id {', '.join(map(repr, unknown))}; "
                        f"ids in this quiz: {', '.join(by_id)}")
    return Quiz(quiz.name, quiz.title, quiz.path, tuple(by_id[i] for i in ids))


def validate(paths: Iterable[PathLike] | None = None) -> list[Problem]:
    """Check quiz files and return every problem found (an empty list means all is well).

    ``paths`` may name files, folders (every ``*.yaml`` inside) or bank names; by default
    the whole bank is checked. Ids must be unique across all files checked together.
    """
    files, problems = _expand(paths)
    first_seen: dict[str, Path] = {}
    for path in files:
        quiz, file_problems = _read(path)
        problems.extend(file_problems)
        for question in quiz.questions if quiz else ():
            first = first_seen.setdefault(question.id, path)
            if first != path:
                message = f"duplicate id '{question.id}' (also used in {first})"
                problems.append(Problem(str(path), message, question.id))
    return problems


def _expand(paths: Iterable[PathLike] | None) -> tuple[list[Path], list[Problem]]:
    """Files to check, each once, and a problem for every path that names nothing."""
    files: list[Path] = []
    problems: list[Problem] = []
    for item in [bank_dir()] if paths is None else paths:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(path.glob("*.yaml"))
            if not found:
                problems.append(Problem(str(path), "no *.yaml quiz files in this folder"))
            files.extend(found)
            continue
        try:
            files.append(resolve(item))
        except QuizError as err:
            problems.append(Problem(str(item), str(err)))
    seen: set[Path] = set()
    unique = []
    for path in files:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            unique.append(path)
    return unique, problems


def _read(path: Path) -> tuple[Quiz | None, list[Problem]]:
    """Parse one file into a :class:`Quiz`, collecting problems instead of raising."""
    where = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        return None, [Problem(where, f"YAML syntax error{line}: {problem}")]
    except (OSError, UnicodeDecodeError) as err:
        return None, [Problem(where, f"cannot read file: {err}")]

    if not isinstance(data, dict):
        return None, [Problem(where, "the file must be a mapping with 'title' and 'questions'")]
    problems = [Problem(where, f"unknown top-level field '{key}'")
                for key in data if key not in ("title", "questions")]
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(Problem(where, "missing field 'title' (a non-empty string)"))
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.append(Problem(where, "missing field 'questions' (a non-empty list)"))
        raw_questions = []

    questions: list[Question] = []
    seen_ids: set[str] = set()
    for number, raw in enumerate(raw_questions, start=1):
        question, question_problems = _parse_question(raw, number, where)
        problems.extend(question_problems)
        if question is None:
            continue
        if question.id in seen_ids:
            message = f"duplicate id '{question.id}' in this file"
            problems.append(Problem(where, message, question.id))
        seen_ids.add(question.id)
        questions.append(question)
    title = title if isinstance(title, str) else path.stem
    return Quiz(path.stem, title, path, tuple(questions)), problems


def _parse_question(raw: object, number: int, where: str) -> tuple[Question | None, list[Problem]]:
    if not isinstance(raw, dict):
        return None, [Problem(where, f"question #{number} is not a mapping of fields")]
    qid = raw.get("id")
    label = qid if isinstance(qid, str) and qid else f"#{number} (no id)"
    problems: list[Problem] = []

    def report(message: str) -> None:
        problems.append(Problem(where, message, label))

    qtype = raw.get("type")
    if qtype not in QUESTION_TYPES and "type" in raw:
        report(f"unknown type {qtype!r}; use one of {', '.join(QUESTION_TYPES)}")
    expected = _COMMON_FIELDS + _TYPE_FIELDS.get(qtype, ())
    for key in expected:
        if key not in raw:
            if qtype == "numeric" and key == "tolerance":
                report("numeric question without a tolerance "
                       "(add 'tolerance: 0' for an exact answer)")
            else:
                report(f"missing field '{key}'")
    type_specific = {key for fields in _TYPE_FIELDS.values() for key in fields}
    for key in raw:
        if key in expected or (key in type_specific and qtype not in QUESTION_TYPES):
            continue
        if key in type_specific:
            report(f"field '{key}' does not belong in a {qtype} question")
        else:
            report(f"unknown field '{key}'")
    for key in ("question", "hint", "explanation"):
        if key in raw and not _text(raw[key]):
            report(f"field '{key}' must be non-empty text")
    if "id" in raw and not (isinstance(qid, str) and ID_PATTERN.match(qid)):
        report("field 'id' must be letters, digits, '-', '_' or '.', "
               "starting with a letter or digit")

    options: tuple[Option, ...] = ()
    answer = tolerance = None
    if qtype in ("single", "multiple") and "options" in raw:
        options = _parse_options(raw["options"], qtype, report)
    elif qtype == "numeric":
        answer = _number(raw, "answer", report)
        tolerance = _number(raw, "tolerance", report)
        if tolerance is not None and tolerance < 0:
            report("field 'tolerance' must not be negative")
            tolerance = None

    if problems:
        return None, problems
    question = Question(qid, qtype, raw["question"], raw["hint"], raw["explanation"],
                        options, answer, tolerance)
    return question, []


def _parse_options(raw_options: object, qtype: str, report) -> tuple[Option, ...]:
    if not isinstance(raw_options, list) or len(raw_options) < 2:
        report("field 'options' must be a list of at least two options")
        return ()
    options: list[Option] = []
    for number, raw in enumerate(raw_options, start=1):
        if not isinstance(raw, dict):
            report(f"option {number} is not a mapping with text, correct and feedback")
            continue
        for key in _OPTION_FIELDS:
            if key not in raw:
                report(f"option {number}: missing field '{key}'")
        for key in raw:
            if key not in _OPTION_FIELDS:
                report(f"option {number}: unknown field '{key}'")
        text, correct, feedback = raw.get("text"), raw.get("correct"), raw.get("feedback")
        if "text" in raw and not _text(text):
            report(f"option {number} has empty text")
        elif isinstance(text, str) and len(text.strip()) > MAX_OPTION_LENGTH:
            report(f"option {number} is longer than {MAX_OPTION_LENGTH} characters; "
                   "move the detail into its feedback")
        if "correct" in raw and not isinstance(correct, bool):
            report(f"option {number}: 'correct' must be true or false")
        if "feedback" in raw and not _text(feedback):
            report(f"option {number} has empty feedback")
        if _text(text) and isinstance(correct, bool) and _text(feedback):
            options.append(Option(text.strip(), correct, feedback))

    texts = [option.text for option in options]
    for text in sorted({t for t in texts if texts.count(t) > 1}):
        report(f"duplicate option text '{text}'")
    if len(options) == len(raw_options):
        n_correct = sum(option.correct for option in options)
        if n_correct == 0:
            report("no correct option")
        elif qtype == "single" and n_correct > 1:
            report(f"single-choice question has {n_correct} correct options (exactly one allowed; "
                   "use type 'multiple' for several)")
    return tuple(options)


def _number(raw: dict, key: str, report) -> float | None:
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        report(f"field '{key}' must be a number")
        return None
    return value


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())
