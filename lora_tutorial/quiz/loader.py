"""Read the question bank: YAML files into the :mod:`.model`'s objects, in one display order.

The bank is a folder of YAML files, ``quizzes/`` at the top of the repository: one per
notebook (``NN_topic.yaml``, any number of them) plus ``final.yaml`` (``quizzes/README.md``
gives the schema). It ships inside every install as the data package
``lora_tutorial.quizzes`` (see :func:`bank_dir`).

:func:`load_quiz` turns a file into a :class:`~.model.Quiz` and refuses a file with
errors (a single-choice question with two "correct" options, an option without
feedback), naming the file, the line and the question, so an instructor fixes it in
seconds. :func:`read_quiz` does the same but returns the problems, for :mod:`.lint`.

**Display order.** Authors write options in any order (usually the right one first).
:func:`display_order` derives one fixed order from the question's id with SHA-256, the
same on every machine, Python version and run; :class:`~.model.Question` stores its
options in that order. So the widget, the static HTML copy, the terminal, the handout,
the answer key (its letters A, B, C, ...) and the GIFT and QTI exports all show the same
order, and no position gives the answer away.

Files are read with a :class:`yaml.SafeLoader` only: loading a quiz must never run code.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
from pathlib import Path
from typing import Sequence, Union

import yaml

from .model import Option, Problem, Question, Quiz, QuizError
from .safe_text import CONTROL, printable

PathLike = Union[str, os.PathLike]

#: Environment variable that points ``show("name")`` and the CLI at another bank folder.
QUIZ_DIR_ENV = "LORA_TUTORIAL_QUIZ_DIR"

_PACKAGE = Path(__file__).resolve().parents[1]
#: Where the bank is in an installed package: the data package ``lora_tutorial.quizzes``,
#: which pyproject.toml builds from the repository's ``quizzes/`` folder.
INSTALLED_BANK = _PACKAGE / "quizzes"
#: Where the bank is in a source checkout (a clone on ``PYTHONPATH``, or ``pip install -e .``,
#: which imports the package from the checkout): ``quizzes/`` beside ``lora_tutorial/``.
CHECKOUT_BANK = _PACKAGE.parent / "quizzes"


def _shipped_bank() -> Path:
    """The bank that comes with the package: :data:`CHECKOUT_BANK` when the package is
    imported from a checkout of this project (its pyproject.toml beside the package),
    else :data:`INSTALLED_BANK`."""
    project = _PACKAGE.parent / "pyproject.toml"
    try:
        in_checkout = 'name = "lora-tutorial"' in project.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        in_checkout = False
    return CHECKOUT_BANK if in_checkout else INSTALLED_BANK


#: The bank that comes with the package (see :func:`_shipped_bank`), found once at import.
BANK_DIR = _shipped_bank()

QUESTION_TYPES = ("single", "multiple", "numeric")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: Radio-button and checkbox labels are one line high in Jupyter, so option texts stay short.
MAX_OPTION_LENGTH = 120

_COMMON_FIELDS = ("id", "type", "question", "hint", "explanation")
_OPTIONAL_FIELDS = ("transfer",)
_TYPE_FIELDS = {
    "single": ("options",),
    "multiple": ("options",),
    "numeric": ("answer", "tolerance"),
}
_OPTION_FIELDS = ("text", "correct", "feedback")

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


def bank_dir() -> Path:
    """The folder holding the bank.

    ``$LORA_TUTORIAL_QUIZ_DIR`` wins if set; otherwise it is :data:`BANK_DIR`, the bank
    that came with the package: ``lora_tutorial/quizzes/`` inside an installed package (a
    wheel, ``pip install .``), ``quizzes/`` at the top of a checkout (``pip install -e .``,
    or the repository on ``PYTHONPATH``).
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


def is_bank_name(name: object) -> bool:
    """Is ``name`` the name of a quiz in a bank (``02_low_rank``), not a path?

    Names that come from outside (a learner's answer file) must pass this before they are
    looked up, so ``/etc/passwd`` or ``../../secret`` never makes the engine read a file
    outside the bank.
    """
    return isinstance(name, str) and bool(ID_PATTERN.match(name)) and ".." not in name \
        and not name.endswith((".yaml", ".yml"))


def load_bank_quiz(name: str) -> Quiz:
    """The quiz called ``name`` in the bank, and only there (see :func:`is_bank_name`)."""
    if not is_bank_name(name):
        raise QuizError(f"{printable(str(name))!r} is not the name of a quiz in the bank "
                        "(letters, digits, '-', '_' or '.', e.g. 02_low_rank).")
    return load_quiz(name)


def load_quiz(name_or_path: PathLike, ids: Sequence[str] | None = None) -> Quiz:
    """Read and validate one quiz file; keep only ``ids`` (in that order) if given.

    Raises :class:`QuizError` carrying every error found in the file, or naming the ids
    that the file does not contain. (Style findings of :func:`lint` do not stop a quiz
    from loading; ``validate`` reports them.)
    """
    path = resolve(name_or_path)
    quiz, problems = read_quiz(path)
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
    if isinstance(value, int) and abs(value) >= 10**18:
        return "a number too large for a quiz"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"the text {value[:30]!r}"
    return f"a {type(value).__name__}"


def read_quiz(path: Path) -> tuple[Quiz | None, list[Problem]]:
    """Parse one file into a :class:`Quiz`, collecting problems instead of raising."""
    where = str(path)
    if path.exists() and not path.is_file():
        return None, [Problem(where, "not a regular file (a folder, a pipe or a device); "
                                     "a quiz is a .yaml file")]
    try:
        data = _load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(err, "problem", None) or str(err)
        return None, [Problem(where, f"YAML syntax error: {problem}", line=line)]
    except (OSError, UnicodeDecodeError) as err:
        return None, [Problem(where, f"cannot read file: {err}")]
    except ValueError as err:  # a value YAML recognised but Python cannot hold: 2020-02-30
        return None, [Problem(where, f"a value cannot be read: {err}")]
    except RecursionError:
        return None, [Problem(where, "YAML nested too deeply to read; a quiz file is a mapping "
                                     "of questions, a few levels deep")]

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
    else:
        _check_text(title, "field 'title'", lambda message: problems.append(
            Problem(where, message, line=_line(data, "title"))))
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
    """Report a value that is not non-empty text, saying how YAML read it, or that holds a
    control character (a terminal would obey it, an XML export cannot hold it); True if fine."""
    if isinstance(value, str) and value.strip():
        control = CONTROL.search(value)
        if control is None:
            return True
        report(f"{what} holds the control character {printable(control.group())}, which a "
               "terminal would obey and a QTI (XML) export cannot hold; delete it")
    elif isinstance(value, str) or value is None:
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
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
        report(f"field '{key}' must be a number, not {_describe(value)}", key)
        return None
    return value


def _finite(value: int | float) -> bool:
    """True for a number that a float can hold (8192, 0.39), False for nan, inf, 10**400."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
