"""Load, order and validate the question bank.

The bank is a folder of YAML files inside the package (``lora_tutorial/quizzes/``): one
per notebook (``NN_topic.yaml``, any number of them) plus ``final.yaml`` (see
``quizzes/README.md`` at the top of the repository for the schema). This module turns a
file into plain, immutable Python objects (:class:`Quiz`, :class:`Question`,
:class:`Option`) and checks it *before* a learner ever sees it: a quiz with two "correct"
answers to a single-choice question, or an option without feedback, is a bug in the
course, and the validator names the file, the question and the line so an instructor can
fix it in seconds.

**Display order.** Authors write options in any order (usually the right one first).
:func:`display_order` derives one fixed order from the question's id with SHA-256, the
same on every machine, Python version and run; :class:`Question` stores its options in
that order. So the widget, the static HTML copy, the terminal, the handout, the answer
key (its letters A, B, C, ...) and the GIFT and QTI exports all show the same order, and
no position gives the answer away.

Files are read with a :class:`yaml.SafeLoader` only: loading a quiz must never run code.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Iterable, Sequence, Union

import yaml

PathLike = Union[str, os.PathLike]

#: Environment variable that points ``show("name")`` and the CLI at another bank folder.
QUIZ_DIR_ENV = "LORA_TUTORIAL_QUIZ_DIR"

#: The bank that ships inside the package (so a non-editable install finds it too).
BANK_DIR = Path(__file__).resolve().parents[1] / "quizzes"

QUESTION_TYPES = ("single", "multiple", "numeric")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: Radio-button and checkbox labels are one line high in Jupyter, so option texts stay short.
MAX_OPTION_LENGTH = 120

# The lint's limits (see :func:`lint`).
#: No display position may hold more than this share of the single-answer correct options.
MAX_POSITION_SHARE = 0.35
#: At most this share of single-answer questions may have a strictly longest correct option.
MAX_LONGEST_SHARE = 0.25
#: A correct option this many times longer than every wrong one gives the answer away.
GIVEAWAY_RATIO = 1.5
#: Balance and length shares are judged only over at least this many single-answer questions.
MIN_QUESTIONS_FOR_SHARES = 20
#: Two questions whose word sets overlap this much (Jaccard) are near-duplicates.
NEAR_DUPLICATE_OVERLAP = 0.65

_COMMON_FIELDS = ("id", "type", "question", "hint", "explanation")
_OPTIONAL_FIELDS = ("transfer",)
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


class NumberError(ValueError):
    """A learner's answer is not a number; the message says how to write one."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the bank: which file and line, which question (if any), and what."""

    path: str
    message: str
    question_id: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.question_id is None:
            return f"{where}: {self.message}"
        return f"{where}: question '{self.question_id}': {self.message}"


@dataclass(frozen=True)
class Option:
    """One answer option. ``feedback`` says *why* choosing it is right or wrong."""

    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Question:
    """One question. Choice questions have ``options`` (in display order, see
    :func:`display_order`); numeric ones ``answer`` ± ``tolerance``.

    ``transfer`` marks a question that asks to apply an idea to something new (a new
    shape, scenario or decision) rather than to recall a sentence. ``line`` is where the
    question starts in its file.
    """

    id: str
    type: str
    question: str
    hint: str
    explanation: str
    options: tuple[Option, ...] = ()
    answer: float | None = None
    tolerance: float | None = None
    transfer: bool = False
    line: int | None = None

    @property
    def correct_indices(self) -> frozenset[int]:
        """Positions (0-based, display order) of the correct options."""
        return frozenset(i for i, option in enumerate(self.options) if option.correct)

    def check(self, response: Union[Iterable[int], float, Decimal]) -> bool:
        """Is ``response`` right?

        For choice questions ``response`` is the collection of chosen option indices
        (display order; one index for ``single``); it is right when it is exactly the set
        of correct options. For numeric questions it is a number, right when it lies
        within ``tolerance`` of ``answer``, bounds included, computed in decimal so that
        0.39 ± 0.01 accepts 0.38 and 0.40 exactly as written.
        """
        if self.type == "numeric":
            distance = abs(exact_decimal(response) - exact_decimal(self.answer))
            return distance <= exact_decimal(self.tolerance)
        return frozenset(response) == self.correct_indices


@dataclass(frozen=True)
class Quiz:
    """The questions of one file. ``name`` is the file's stem, e.g. ``"02_low_rank"``."""

    name: str
    title: str
    path: Path
    questions: tuple[Question, ...]


def option_letter(index: int) -> str:
    """The label of the option at display position ``index``: 0 -> ``"A"``, 1 -> ``"B"``."""
    return chr(ord("A") + index)


def display_order(question_id: str, correct: Sequence[bool],
                  multiple: bool = False) -> tuple[int, ...]:
    """The authored indices of a question's options, in the order they are shown.

    The order sorts the options by SHA-256 of ``(id, attempt, authored index)``: a fixed
    pseudo-random permutation that depends only on the id and the number of options, never
    on the machine, the Python version or ``PYTHONHASHSEED``. For a multiple-answer
    question (``multiple=True``) a permutation that would put exactly the correct options
    first is skipped (the next attempt is taken), so "tick the first ones" never scores.
    """
    n_options = len(correct)
    n_correct = sum(map(bool, correct))
    for attempt in itertools.count():
        def key(index: int) -> bytes:
            return hashlib.sha256(f"{question_id}\n{attempt}\n{index}".encode()).digest()

        order = tuple(sorted(range(n_options), key=key))
        leading = {order[i] for i in range(n_correct)}
        correct_first = leading == {i for i, c in enumerate(correct) if c}
        if not multiple or n_correct == n_options or not correct_first:
            return order
    raise RuntimeError("unreachable: itertools.count() never ends")  # pragma: no cover


def parse_number(text: str) -> Decimal:
    """Read a learner's number exactly, as a :class:`~decimal.Decimal`.

    Accepted: ``8192``, ``8,192``, ``8 192``, ``8_192`` (separators between groups of
    three digits), ``0.39``, ``3.7e7``, and a Unicode minus (``−5``). Raises
    :class:`NumberError` with a message that says what to type instead, e.g. for
    ``"1,5"``: a comma separates thousands, so a decimal is written with a dot.
    """
    cleaned = text.strip().replace("\u2212", "-")
    for space in ("\u00a0", "\u202f", "\u2009"):
        cleaned = cleaned.replace(space, " ")
    match = _NUMBER.fullmatch(cleaned)
    if match is None:
        if re.fullmatch(r"[+-]?\d+,\d{1,2}", cleaned, re.ASCII):
            raise NumberError(f"{text.strip()!r}: a comma separates thousands (8,192); write a "
                              f"decimal with a dot ({cleaned.replace(',', '.')}).")
        raise NumberError(f"{text.strip()[:40]!r} is not a number; type e.g. 8192, 8,192, "
                          "0.39 or 3.7e7.")
    try:
        value = Decimal(re.sub(r"[, _]", "", cleaned))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise NumberError(f"{text.strip()!r} is not a number.") from None
    if not value.is_finite():  # pragma: no cover - the pattern admits no inf or nan
        raise NumberError(f"{text.strip()!r} is not a finite number.")
    return value


# Digits are ASCII only (re.ASCII): "²" or "٣" are not digits of a number here. Thousands
# separators (one kind per number) sit between groups of exactly three digits.
_NUMBER = re.compile(
    r"[+-]?(?:\d+|\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+|\d{1,3}(?:_\d{3})+)"
    r"(?:\.\d+)?(?:[eE][+-]?\d{1,4})?|[+-]?\.\d+(?:[eE][+-]?\d{1,4})?",
    re.ASCII,
)


def exact_decimal(value: Union[float, int, Decimal]) -> Decimal:
    """A number as the decimal its author wrote: 0.39 (a float) becomes Decimal('0.39')."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(repr(float(value)))


def bank_dir() -> Path:
    """The folder holding the bank.

    ``$LORA_TUTORIAL_QUIZ_DIR`` wins if set; otherwise it is :data:`BANK_DIR`, the
    ``quizzes`` folder inside the installed ``lora_tutorial`` package.
    """
    override = os.environ.get(QUIZ_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return BANK_DIR


def available_quizzes(directory: PathLike | None = None) -> list[str]:
    """Names (file stems) of the quizzes in ``directory`` (default: :func:`bank_dir`), sorted:
    ``01_...`` to ``NN_...`` (any number of notebook quizzes), then ``final``."""
    folder = Path(directory) if directory is not None else bank_dir()
    return sorted(path.stem for path in folder.glob("*.yaml"))


def resolve(name_or_path: PathLike) -> Path:
    """Turn ``"02_low_rank"`` into ``<bank>/02_low_rank.yaml``; pass ``.yaml`` paths through.

    Only quiz files are accepted: a bank name, or a path ending in ``.yaml``/``.yml``
    (so ``run /etc/passwd`` is refused rather than parsed). Raises :class:`QuizError`
    listing the available names when nothing matches.
    """
    candidate = Path(name_or_path).expanduser()
    is_yaml = candidate.suffix in (".yaml", ".yml")
    if is_yaml and candidate.is_file():
        return candidate
    if candidate.is_file() or (candidate.suffix and not is_yaml and len(candidate.parts) > 1):
        raise QuizError(f"{str(name_or_path)!r} is not a quiz: give a bank name (e.g. "
                        "02_low_rank) or a quiz file ending in .yaml.")
    folder = bank_dir()
    file_name = candidate.name if is_yaml else f"{candidate.name}.yaml"
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

    Raises :class:`QuizError` carrying every error found in the file, or naming the ids
    that the file does not contain. (Style findings of :func:`lint` do not stop a quiz
    from loading; ``validate`` reports them.)
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
    the whole bank is checked. Errors (what stops a quiz from loading) come first, then
    the :func:`lint` over every quiz that loaded. Ids must be unique across all files
    checked together.
    """
    files, problems = _expand(paths)
    quizzes = []
    first_seen: dict[str, Path] = {}
    for path in files:
        quiz, file_problems = _read(path)
        problems.extend(file_problems)
        if quiz is None:
            continue
        if not file_problems:
            quizzes.append(quiz)
        for question in quiz.questions:
            first = first_seen.setdefault(question.id, path)
            if first != path:
                message = f"duplicate id '{question.id}' (also used in {first})"
                problems.append(Problem(str(path), message, question.id, question.line))
    return problems + lint(quizzes)


def lint(quizzes: Sequence[Quiz]) -> list[Problem]:
    """Style findings that let a learner pass without understanding, over these quizzes.

    * **Length give-away**: a single-answer question whose correct option is at least
      :data:`GIVEAWAY_RATIO` times as long as every wrong one; a multiple-answer question
      whose correct options are all longer than all its (two or more) wrong ones; and,
      over at least :data:`MIN_QUESTIONS_FOR_SHARES` single-answer questions, more than
      :data:`MAX_LONGEST_SHARE` of them with a strictly longest correct option.
    * **Position balance** (same minimum): no display position may hold more than
      :data:`MAX_POSITION_SHARE` of the single-answer correct options.
    * **Near-duplicates**: two questions whose words (question and right answer) overlap by
      :data:`NEAR_DUPLICATE_OVERLAP` or more (Jaccard), or two numeric questions with the
      same answer whose questions overlap by half of that.
    """
    problems: list[Problem] = []
    located = [(quiz, q) for quiz in quizzes for q in quiz.questions]
    singles = [(quiz, q) for quiz, q in located if q.type == "single"]
    longest = []
    for quiz, question in located:
        if question.type == "numeric":
            continue
        right = [len(o.text) for o in question.options if o.correct]
        wrong = [len(o.text) for o in question.options if not o.correct]
        if question.type == "single" and right[0] > max(wrong):
            longest.append(question.id)
            if right[0] >= GIVEAWAY_RATIO * max(wrong):
                problems.append(Problem(
                    str(quiz.path), f"length give-away: the correct option has {right[0]} "
                    f"characters, every wrong one at most {max(wrong)}; make the right one "
                    "shorter or the wrong ones as specific", question.id, question.line))
        if question.type == "multiple" and len(wrong) >= 2 and min(right) > max(wrong):
            problems.append(Problem(
                str(quiz.path), "length give-away: every correct option is longer than every "
                "wrong one", question.id, question.line))
    where = ", ".join(sorted({str(quiz.path.parent) for quiz in quizzes}))
    if len(singles) >= MIN_QUESTIONS_FOR_SHARES:
        share = len(longest) / len(singles)
        if share > MAX_LONGEST_SHARE:
            problems.append(Problem(where, f"length give-away: the correct option is strictly "
                                    f"the longest in {len(longest)} of {len(singles)} single-"
                                    f"answer questions ({share:.0%}, at most "
                                    f"{MAX_LONGEST_SHARE:.0%}): {', '.join(longest)}"))
        positions = Counter(min(q.correct_indices) for _, q in singles)
        for position, count in sorted(positions.items()):
            if count / len(singles) > MAX_POSITION_SHARE:
                ids = ", ".join(q.id for _, q in singles if min(q.correct_indices) == position)
                problems.append(Problem(where, f"position balance: {count} of {len(singles)} "
                                        f"single-answer correct options ({count / len(singles):.0%}"
                                        f", at most {MAX_POSITION_SHARE:.0%}) are shown at "
                                        f"{option_letter(position)}; move the correct option to "
                                        f"another place in the file for a few of: {ids}"))
    words = [(quiz, q, _words(q)) for quiz, q in located]
    for (quiz_a, a, words_a), (quiz_b, b, words_b) in itertools.combinations(words, 2):
        overlap = len(words_a & words_b) / max(1, len(words_a | words_b))
        same_number = (a.type == b.type == "numeric" and a.answer == b.answer
                       and overlap >= NEAR_DUPLICATE_OVERLAP / 2)
        if overlap >= NEAR_DUPLICATE_OVERLAP or same_number:
            problems.append(Problem(str(quiz_b.path), f"near-duplicate of question '{a.id}' "
                                    f"({quiz_a.path.name}): {overlap:.0%} of their words are "
                                    "shared; ask something the other does not", b.id, b.line))
    return problems


def _words(question: Question) -> set[str]:
    """The lower-case words of a question and its right answer, for near-duplicate checks."""
    right = " ".join(o.text for o in question.options if o.correct)
    return set(re.findall(r"[\w·×.,%]+", f"{question.question} {right}".lower()))


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


# --- reading YAML with line numbers and duplicate keys ------------------------------------

class _Mapping(dict):
    """A YAML mapping that remembers where it and each of its keys start, and the keys that
    appeared twice (YAML itself would silently keep the last value)."""

    line: int = 0
    key_lines: dict
    duplicates: list  # (key, line, first line)


class _LineLoader(yaml.SafeLoader):
    """:class:`yaml.SafeLoader` whose mappings are :class:`_Mapping` objects."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode):
    mapping = _Mapping()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines, mapping.duplicates = {}, []
    yield mapping
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in mapping.key_lines:
                mapping.duplicates.append((key, line, mapping.key_lines[key]))
            else:
                mapping.key_lines[key] = line
    mapping.update(loader.construct_mapping(node))


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _load_yaml(text: str):
    loader = _LineLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _line(mapping: object, key: str | None = None) -> int | None:
    if not isinstance(mapping, _Mapping):
        return None
    return mapping.key_lines.get(key, mapping.line) if key is not None else mapping.line


def _describe(value: object) -> str:
    """How YAML read a value, for messages: ``the boolean false``, ``the number 8192``."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"the text {value[:30]!r}"
    return f"a {type(value).__name__}"


def _read(path: Path) -> tuple[Quiz | None, list[Problem]]:
    """Parse one file into a :class:`Quiz`, collecting problems instead of raising."""
    where = str(path)
    try:
        data = _load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err)
        return None, [Problem(where, f"YAML syntax error: {problem}", line=line)]
    except (OSError, UnicodeDecodeError) as err:
        return None, [Problem(where, f"cannot read file: {err}")]

    if not isinstance(data, dict):
        return None, [Problem(where, "the file must be a mapping with 'title' and 'questions'")]
    problems = [Problem(where, f"unknown top-level field '{key}'", line=_line(data, key))
                for key in data if key not in ("title", "questions")]
    problems += _duplicate_keys(data, where, None)
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        how = f", not {_describe(title)}" if "title" in data and not isinstance(title, str) else ""
        problems.append(Problem(where, f"missing field 'title' (a non-empty string{how})",
                                line=_line(data, "title")))
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.append(Problem(where, "missing field 'questions' (a non-empty list)",
                                line=_line(data, "questions")))
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
            problems.append(Problem(where, message, question.id, question.line))
        seen_ids.add(question.id)
        questions.append(question)
    title = title if isinstance(title, str) else path.stem
    return Quiz(path.stem, title, path, tuple(questions)), problems


def _duplicate_keys(mapping: object, where: str, label: str | None, prefix: str = ""):
    return [Problem(where, f"{prefix}key '{key}' appears twice (first at line {first}); YAML "
                    "keeps only the last value, so delete one", label, line)
            for key, line, first in getattr(mapping, "duplicates", ())]


def _parse_question(raw: object, number: int, where: str) -> tuple[Question | None, list[Problem]]:
    if not isinstance(raw, dict):
        return None, [Problem(where, f"question #{number} is not a mapping of fields")]
    qid = raw.get("id")
    label = qid if isinstance(qid, str) and qid else f"#{number} (no id)"
    problems: list[Problem] = _duplicate_keys(raw, where, label)

    def report(message: str, key: str | None = None, line: int | None = None) -> None:
        problems.append(Problem(where, message, label, line or _line(raw, key)))

    qtype = raw.get("type")
    if "type" in raw and not isinstance(qtype, str):
        report(f"field 'type' must be one word ({', '.join(QUESTION_TYPES)}), "
               f"not {_describe(qtype)}", "type")
        qtype = None
    elif qtype not in QUESTION_TYPES and "type" in raw:
        report(f"unknown type {qtype!r}; use one of {', '.join(QUESTION_TYPES)}", "type")
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
        if key in expected or key in _OPTIONAL_FIELDS or (
                key in type_specific and qtype not in QUESTION_TYPES):
            continue
        if key in type_specific:
            report(f"field '{key}' does not belong in a {qtype} question", key)
        else:
            report(f"unknown field '{key}'", key)
    for key in ("question", "hint", "explanation"):
        if key in raw:
            _check_text(raw[key], f"field '{key}'", lambda m, k=key: report(m, k))
    if "id" in raw and not isinstance(qid, str):
        report(f"field 'id' must be text, not {_describe(qid)}; quote it", "id")
    elif "id" in raw and not ID_PATTERN.match(qid):
        report("field 'id' must be letters, digits, '-', '_' or '.', "
               "starting with a letter or digit", "id")
    transfer = raw.get("transfer", False)
    if not isinstance(transfer, bool):
        report(f"field 'transfer' must be true or false, not {_describe(transfer)}", "transfer")

    options: tuple[Option, ...] = ()
    answer = tolerance = None
    if qtype in ("single", "multiple") and "options" in raw:
        options = _parse_options(raw["options"], qtype, report, label, where, problems)
    elif qtype == "numeric":
        answer = _number(raw, "answer", report)
        tolerance = _number(raw, "tolerance", report)
        if tolerance is not None and tolerance < 0:
            report("field 'tolerance' must not be negative", "tolerance")
            tolerance = None

    if problems:
        return None, problems
    if options:
        order = display_order(qid, [option.correct for option in options], qtype == "multiple")
        options = tuple(options[i] for i in order)
    question = Question(qid, qtype, raw["question"], raw["hint"], raw["explanation"],
                        options, answer, tolerance, transfer, _line(raw))
    return question, []


def _check_text(value: object, what: str, report) -> bool:
    """Report a value that is not non-empty text, saying how YAML read it; True if fine."""
    if isinstance(value, str) and value.strip():
        return True
    if isinstance(value, str) or value is None:
        report(f"{what} must be non-empty text")
    else:
        report(f"{what} must be text, but YAML read it as {_describe(value)}; "
               "put it in quotes")
    return False


def _parse_options(raw_options: object, qtype: str, report, label: str, where: str,
                   problems: list) -> tuple[Option, ...]:
    if not isinstance(raw_options, list) or len(raw_options) < 2:
        report("field 'options' must be a list of at least two options", "options")
        return ()
    options: list[Option] = []
    for number, raw in enumerate(raw_options, start=1):
        if not isinstance(raw, dict):
            report(f"option {number} is not a mapping with text, correct and feedback", "options")
            continue
        problems += _duplicate_keys(raw, where, label, f"option {number}: ")

        def say(message: str, key: str | None = None, raw=raw) -> None:
            report(message, line=_line(raw, key))

        for key in _OPTION_FIELDS:
            if key not in raw:
                say(f"option {number}: missing field '{key}'")
        for key in raw:
            if key not in _OPTION_FIELDS:
                say(f"option {number}: unknown field '{key}'", key)
        text, correct, feedback = raw.get("text"), raw.get("correct"), raw.get("feedback")
        text_ok = "text" in raw and _check_text(text, f"option {number}'s text",
                                                lambda m: say(m, "text"))
        if text_ok and "\n" in text.strip():
            say(f"option {number} spans several lines; an option is one line (detail goes in "
                "its feedback)", "text")
            text_ok = False
        elif text_ok and len(text.strip()) > MAX_OPTION_LENGTH:
            say(f"option {number} is longer than {MAX_OPTION_LENGTH} characters; "
                "move the detail into its feedback", "text")
        if "correct" in raw and not isinstance(correct, bool):
            say(f"option {number}: 'correct' must be true or false, not {_describe(correct)}",
                "correct")
        feedback_ok = "feedback" in raw and _check_text(
            feedback, f"option {number}'s feedback", lambda m: say(m, "feedback"))
        if text_ok and isinstance(correct, bool) and feedback_ok:
            options.append(Option(text.strip(), correct, feedback))

    texts = [option.text for option in options]
    for text in sorted({t for t in texts if texts.count(t) > 1}):
        report(f"duplicate option text '{text}'", "options")
    if len(options) == len(raw_options):
        n_correct = sum(option.correct for option in options)
        if n_correct == 0:
            report("no correct option", "options")
        elif qtype == "single" and n_correct > 1:
            report(f"single-choice question has {n_correct} correct options (exactly one allowed; "
                   "use type 'multiple' for several)", "options")
    return tuple(options)


def _number(raw: dict, key: str, report) -> float | None:
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
            or value in (float("inf"), float("-inf")):
        report(f"field '{key}' must be a number, not {_describe(value)}", key)
        return None
    return value
