"""Check the bank before a learner sees it: every error of every file, then the lint.

``python -m lora_tutorial.quiz validate`` (and :func:`validate`) reports, one line each
with the file, the line and the question id: what stops a file from loading (see
:mod:`.loader`), ids used twice across files, and the findings of :func:`lint`, the
style rules that keep a quiz from being passed without understanding (no position or
length gives the answer away, no question asks what another already asked).

:func:`length_figures` measures how often a bank's correct option stands out by length
(among the two longest, strictly the longest); the command line prints both figures
after every ``validate`` and warns, without failing, when one is past its limit.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .loader import PathLike, bank_dir, read_quiz, resolve
from .model import Problem, Question, Quiz, QuizError, option_letter

# The lint's limits (see :func:`lint`).
#: No display position may hold more than this share of the single-answer correct options.
MAX_POSITION_SHARE = 0.35
#: At most this share of single-answer questions may have a strictly longest correct option
#: (what guessing "the longest" would score with four options).
MAX_LONGEST_SHARE = 0.25
#: At most this share may have the correct option among their two longest (chance, with four
#: options: 50%); past it, "pick one of the two longest" beats chance.
MAX_TOP_TWO_SHARE = 0.60
#: A correct option this many times longer than every wrong one gives the answer away.
GIVEAWAY_RATIO = 1.5
#: Balance and length shares are judged only over at least this many single-answer questions.
MIN_QUESTIONS_FOR_SHARES = 20
#: Two questions whose word sets overlap this much (Jaccard) are near-duplicates.
NEAR_DUPLICATE_OVERLAP = 0.65


def validate(paths: Iterable[PathLike] | None = None) -> list[Problem]:
    """Check quiz files and return every problem found (an empty list means all is well).

    ``paths`` may name files, folders (every ``*.yaml`` inside) or bank names; by default
    the whole bank is checked. Errors (what stops a quiz from loading) come first, then
    the :func:`lint` over every quiz that loaded. Ids must be unique across all files
    checked together.
    """
    quizzes, problems = _read(paths)
    return problems + lint(quizzes)


@dataclass(frozen=True)
class LengthFigures:
    """How often a bank's correct option stands out by its length alone.

    Over the ``questions`` single-answer questions: ``top_two`` holds the ids whose correct
    option is among the two longest (at most one option is longer; a tie counts against the
    bank, since a guesser cannot tell tied options apart), ``longest`` those whose correct
    option is longer than every other. With four options, guessing scores 50% and 25%.
    """

    questions: int
    top_two: tuple[str, ...]
    longest: tuple[str, ...]

    @property
    def top_two_share(self) -> float:
        return len(self.top_two) / max(1, self.questions)

    @property
    def longest_share(self) -> float:
        return len(self.longest) / max(1, self.questions)

    def __str__(self) -> str:
        return (f"length: the correct option is among the two longest in {len(self.top_two)} of "
                f"{self.questions} single-answer questions ({self.top_two_share:.0%}, at most "
                f"{MAX_TOP_TWO_SHARE:.0%}) and strictly the longest in {len(self.longest)} "
                f"({self.longest_share:.0%}, at most {MAX_LONGEST_SHARE:.0%})")

    def warnings(self) -> list[str]:
        """One line per figure past its limit (none below
        :data:`MIN_QUESTIONS_FOR_SHARES` questions, where a share says little)."""
        if self.questions < MIN_QUESTIONS_FOR_SHARES:
            return []
        found = []
        for ids, share, limit, what in (
                (self.top_two, self.top_two_share, MAX_TOP_TWO_SHARE, "among the two longest"),
                (self.longest, self.longest_share, MAX_LONGEST_SHARE, "strictly the longest")):
            if share > limit:
                found.append(f"length give-away: the correct option is {what} in {len(ids)} of "
                             f"{self.questions} single-answer questions ({share:.0%}, at most "
                             f"{limit:.0%}); shorten the right option or make the wrong ones as "
                             f"specific in some of: {', '.join(ids)}")
        return found


def length_figures(quizzes: Sequence[Quiz]) -> LengthFigures:
    """The :class:`LengthFigures` of these quizzes' single-answer questions, together."""
    top_two, longest = [], []
    singles = [q for quiz in quizzes for q in quiz.questions if q.type == "single"]
    for question in singles:
        right = len(question.options[min(question.correct_indices)].text)
        wrong = [len(o.text) for o in question.options if not o.correct]
        if sum(length > right for length in wrong) < 2:
            top_two.append(question.id)
        if right > max(wrong):
            longest.append(question.id)
    return LengthFigures(len(singles), tuple(top_two), tuple(longest))


def bank_length_figures(paths: Iterable[PathLike] | None = None) -> LengthFigures:
    """:func:`length_figures` of the quiz files that ``paths`` names (files, folders or bank
    names, as for :func:`validate`; default: the whole bank); files that do not load are left
    out, since :func:`validate` reports them."""
    return length_figures(_read(paths)[0])


def _read(paths: Iterable[PathLike] | None) -> tuple[list[Quiz], list[Problem]]:
    """The quizzes that load without errors, and every error (ids used twice across files)."""
    files, problems = _expand(paths)
    quizzes = []
    first_seen: dict[str, Path] = {}
    for path in files:
        quiz, file_problems = read_quiz(path)
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
    return quizzes, problems


def lint(quizzes: Sequence[Quiz]) -> list[Problem]:
    """Style findings that let a learner pass without understanding, over these quizzes.

    * **Length give-away**: a single-answer question whose correct option is at least
      :data:`GIVEAWAY_RATIO` times as long as every wrong one, and a multiple-answer
      question whose correct options are all longer than all its (two or more) wrong ones.
      (How often the correct option is among the longest over a whole bank is
      :func:`length_figures`: a warning, not a problem.)
    * **Position balance** (over at least :data:`MIN_QUESTIONS_FOR_SHARES` single-answer
      questions): no display position may hold more than
      :data:`MAX_POSITION_SHARE` of the single-answer correct options.
    * **Near-duplicates**: two questions whose words (question and right answer) overlap by
      :data:`NEAR_DUPLICATE_OVERLAP` or more (Jaccard), or two numeric questions with the
      same answer whose questions overlap by half of that.
    """
    problems: list[Problem] = []
    located = [(quiz, q) for quiz in quizzes for q in quiz.questions]
    singles = [(quiz, q) for quiz, q in located if q.type == "single"]
    for quiz, question in located:
        if question.type == "numeric":
            continue
        right = [len(o.text) for o in question.options if o.correct]
        wrong = [len(o.text) for o in question.options if not o.correct]
        if question.type == "single" and right[0] >= GIVEAWAY_RATIO * max(wrong):
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

