"""The quiz in a terminal: ``python -m lora_tutorial.quiz run 02_low_rank``.

Questions are asked one at a time, with options numbered 1, 2, 3, ... Type the number
(several numbers, e.g. ``1,3``, for "choose every answer that applies"), a number for
numeric questions, or ``h`` for the hint. Each answer is marked at once and followed by
the feedback on what you chose and the explanation; the score comes at the end. End of
input (Ctrl-D, or the end of a piped file) or Ctrl-C stops early and still prints the
score so far. ``--seed N`` shuffles the options reproducibly, so a class cannot pass
around "the answer is 2".

Input and output are plain file objects, so the runner can be tested with scripted input.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from typing import TextIO

from .bank import Question, Quiz, parse_number
from .progress import record_answer
from .render import answer_text, format_number, instructions


@dataclass
class Score:
    """How a terminal run went: questions in the quiz, asked, answered correctly, hints used."""

    total: int
    asked: int = 0
    correct: int = 0
    hints: int = 0
    stopped_early: bool = False

    def __str__(self) -> str:
        text = f"Score: {self.correct}/{self.asked} correct"
        if self.stopped_early:
            missing = self.total - self.asked
            text += f" (stopped early; {missing} of {self.total} questions not answered)"
        if self.hints:
            text += f", {self.hints} hint{'s' if self.hints > 1 else ''} used"
        return text + "."


class _EndOfInput(Exception):
    """The learner closed the input or pressed Ctrl-C."""


def run_quiz(quiz: Quiz, stdin: TextIO | None = None, stdout: TextIO | None = None,
             seed: int | None = None, record: bool = True) -> Score:
    """Ask every question of ``quiz`` on ``stdout``, read answers from ``stdin``.

    Options keep their authored order unless ``seed`` is given, which shuffles them
    with ``random.Random(seed)``. Answers are recorded in the progress file when
    ``record`` is true. Returns the :class:`Score`, which is also printed.
    """
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    rng = random.Random(seed) if seed is not None else None
    score = Score(total=len(quiz.questions))
    print(f"Quiz: {quiz.title} ({score.total} questions). Type h for a hint.\n", file=stdout)
    try:
        for number, question in enumerate(quiz.questions, start=1):
            order = list(range(len(question.options)))
            if rng is not None:
                rng.shuffle(order)
            correct = _ask(question, number, score, order, stdin, stdout)
            score.asked += 1
            score.correct += correct
            if record:
                record_answer(quiz.name, quiz.title, question.id, correct)
    except _EndOfInput:
        score.stopped_early = True
        print("\n\nEnd of input: stopping here.", file=stdout)
    print(score, file=stdout)
    return score


def _ask(question: Question, number: int, score: Score, order: list[int],
         stdin: TextIO, stdout: TextIO) -> bool:
    """Ask one question until the answer is well-formed; print the verdict; return it."""
    print(f"Question {number} of {score.total} ({instructions(question)})", file=stdout)
    print(question.question.strip(), file=stdout)
    for shown, index in enumerate(order, start=1):
        print(f"  {shown}) {question.options[index].text}", file=stdout)
    prompt = {
        "single": f"Your answer (1-{len(order)}, h = hint): ",
        "multiple": f"Your answers (some of 1-{len(order)}, e.g. 1,3; h = hint): ",
        "numeric": "Your answer (a number; h = hint): ",
    }[question.type]
    while True:
        reply = _read(prompt, stdin, stdout)
        if reply.lower() in ("h", "hint"):
            score.hints += 1
            print(f"Hint: {question.hint.strip()}", file=stdout)
            continue
        response = _parse_reply(question, reply, len(order))
        if response is None:
            print("Please answer as asked above (or h for the hint).", file=stdout)
            continue
        break

    if question.type == "numeric":
        correct = question.check(response)
        print("Result: right." if correct else f"Result: not quite, {format_number(response)} is "
              f"{'too high' if response > question.answer else 'too low'}.", file=stdout)
    else:
        chosen = {order[shown - 1] for shown in response}
        correct = question.check(chosen)
        print("Result: right." if correct else "Result: not quite.", file=stdout)
        for shown in sorted(response):
            option = question.options[order[shown - 1]]
            verdict = "right" if option.correct else "wrong"
            print(f"  {shown}) {verdict}: {option.feedback.strip()}", file=stdout)
    if not correct:
        print(f"Answer: {answer_text(question)}", file=stdout)
    print(f"Explanation: {question.explanation.strip()}\n", file=stdout)
    return correct


def _read(prompt: str, stdin: TextIO, stdout: TextIO) -> str:
    print(prompt, end="", file=stdout, flush=True)
    try:
        line = stdin.readline()
    except KeyboardInterrupt:
        raise _EndOfInput from None
    if not line:
        raise _EndOfInput
    return line.strip()


def _parse_reply(question: Question, reply: str, n_options: int):
    """A set of 1-based option numbers, a float for numeric questions, or None if malformed."""
    if question.type == "numeric":
        return parse_number(reply)
    parts = reply.replace(",", " ").split()
    if not parts or not all(p.isdigit() and 1 <= int(p) <= n_options for p in parts):
        return None
    numbers = {int(p) for p in parts}
    if question.type == "single" and len(numbers) != 1:
        return None
    return numbers
