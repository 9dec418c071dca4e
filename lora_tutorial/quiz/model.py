"""The bank's model: what a quiz, a question and an option are, and how an answer is checked.

These are plain, immutable objects (:class:`Quiz`, :class:`Question`, :class:`Option`),
made by :mod:`.loader` from the YAML files and used by every view: the notebook widget,
the static HTML copy, the terminal, the handouts and the exports. A question's options are
stored in their one display order (see :func:`.loader.display_order`), so an index here is
a position on screen: 0 is option A.

Numbers are checked exactly, in decimal: a learner who types ``0.40`` for ``0.39 ± 0.01``
is right, as the author wrote it, whatever binary floating point would say.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Sequence, Union


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

        A response of the wrong kind (a number for a choice question, ``nan``, an index
        that no option has) raises :class:`QuizError` saying what the question expects.
        """
        if self.type == "numeric":
            distance = abs(self._number(response) - exact_decimal(self.answer))
            return distance <= exact_decimal(self.tolerance)
        return self._indices(response) == self.correct_indices

    def _number(self, response: object) -> Decimal:
        """``response`` as an exact decimal, or QuizError if it is not a finite number."""
        is_number = isinstance(response, (int, float, Decimal)) and not isinstance(response, bool)
        if is_number and exact_decimal(response).is_finite():
            return exact_decimal(response)
        raise QuizError(f"question '{self.id}' expects a finite number (e.g. 8192 or 0.39), "
                        f"not {response!r}; parse_number() reads one from typed text.")

    def _indices(self, response: object) -> frozenset[int]:
        """The chosen positions, or QuizError if ``response`` is not a collection of them."""
        kind = ("one option index in a collection, e.g. {1}" if self.type == "single" else
                "the collection of chosen option indices, e.g. {0, 2}")
        last = len(self.options) - 1
        if isinstance(response, (str, bytes)) or not isinstance(response, Iterable):
            raise QuizError(f"question '{self.id}' is a {self.type}-answer question: give "
                            f"{kind} (0 is option A), not {response!r}.")
        chosen = list(response)
        wrong = [i for i in chosen if isinstance(i, bool) or not isinstance(i, int)
                 or not 0 <= i <= last]
        if wrong:
            raise QuizError(f"question '{self.id}' has options 0 to {last} (A to "
                            f"{option_letter(last)}); {wrong[0]!r} is not one of them. Give "
                            f"{kind}.")
        return frozenset(chosen)


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

