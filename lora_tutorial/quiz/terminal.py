"""The quiz in a terminal: ``python -m lora_tutorial.quiz run 02_low_rank``.

Questions are asked one at a time, with options lettered A, B, C, ... in the bank's one
display order (the same as in the notebook, the handout and the answer key). Type the
letter or its number (several, e.g. ``a,c`` or ``1 3``, for "choose every answer that
applies"), a number for numeric questions, or ``h`` for the hint. Each answer is marked at
once and followed by the feedback on what you chose and the explanation; the score comes
at the end. End of input (Ctrl-D, or the end of a piped file) or Ctrl-C stops early and
still prints the score so far. ``--seed N`` shuffles the options once more, reproducibly,
so a class taking the quiz in terminals cannot pass around "the answer is B".

Whatever is typed, the runner answers with a message, never a traceback: "²", a number
with a thousand digits, or bytes that are not UTF-8 are simply not an answer.

Input and output are plain file objects, so the runner can be tested with scripted input.
"""

from __future__ import annotations

import random
import re
import sys
from dataclasses import dataclass
from typing import TextIO

from .model import NumberError, Question, Quiz, exact_decimal, option_letter, parse_number
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

    Options are shown in the bank's display order unless ``seed`` is given, which
    shuffles them with ``random.Random(seed)``. Answers are recorded in the progress file when
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
            correct, chosen = _ask(question, number, score, order, stdin, stdout)
            score.asked += 1
            score.correct += correct
            if record:
                note = record_answer(quiz.name, quiz.title, question.id, correct, chosen)
                if note:
                    print(f"Note: {note}\n", file=stdout)
    except _EndOfInput:
        score.stopped_early = True
        print("\n\nEnd of input: stopping here.", file=stdout)
    print(score, file=stdout)
    return score


def _ask(question: Question, number: int, score: Score, order: list[int],
         stdin: TextIO, stdout: TextIO) -> tuple[bool, list[str] | str]:
    """Ask one question until the answer is well-formed; print the verdict; return it and
    what was chosen (the options' texts, or the number as typed)."""
    print(f"Question {number} of {score.total} ({instructions(question)})", file=stdout)
    print(question.question.strip(), file=stdout)
    for shown, index in enumerate(order):
        print(f"  {option_letter(shown)}) {question.options[index].text}", file=stdout)
    last = option_letter(len(order) - 1)
    prompt = {
        "single": f"Your answer (A-{last}, h = hint): ",
        "multiple": f"Your answers (some of A-{last}, e.g. A,C; h = hint): ",
        "numeric": "Your answer (a number; h = hint): ",
    }[question.type]
    while True:
        reply = _read(prompt, stdin, stdout)
        if reply.lower() in ("h", "hint"):
            score.hints += 1
            print(f"Hint: {question.hint.strip()}", file=stdout)
            continue
        try:
            response = _parse_reply(question, reply, len(order))
        except NumberError as err:
            print(f"{err} (Or h for the hint.)", file=stdout)
            continue
        if response is None:
            print("Please answer as asked above (or h for the hint).", file=stdout)
            continue
        break

    if question.type == "numeric":
        correct = question.check(response)
        print("Result: right." if correct else f"Result: not quite, {format_number(response)} is "
              f"{'too high' if response > exact_decimal(question.answer) else 'too low'}.", file=stdout)
        chosen_record: list[str] | str = reply
    else:
        chosen = {order[shown] for shown in response}
        correct = question.check(chosen)
        print("Result: right." if correct else "Result: not quite.", file=stdout)
        for shown in sorted(response):
            option = question.options[order[shown]]
            verdict = "right" if option.correct else "wrong"
            print(f"  {option_letter(shown)}) {verdict}: {option.feedback.strip()}", file=stdout)
        chosen_record = [question.options[i].text for i in sorted(chosen)]
    if not correct and question.type == "numeric":
        print(f"Answer: {answer_text(question)}", file=stdout)
    elif not correct:  # by the letters shown here (they differ from the bank's with --seed)
        right = "; ".join(f"{option_letter(shown)}. {question.options[i].text}"
                          for shown, i in enumerate(order) if question.options[i].correct)
        print(f"Answer: {right}", file=stdout)
    print(f"Explanation: {question.explanation.strip()}\n", file=stdout)
    return correct, chosen_record



def _read(prompt: str, stdin: TextIO, stdout: TextIO) -> str:
    print(prompt, end="", file=stdout, flush=True)
    try:
        line = stdin.readline()
    except KeyboardInterrupt:
        raise _EndOfInput from None
    except (UnicodeDecodeError, ValueError):  # bytes that are not text: not an answer
        return "\ufffd"
    if not line:
        raise _EndOfInput
    return line.strip()


def _parse_reply(question: Question, reply: str, n_options: int):
    """A set of 0-based display positions, a Decimal for numeric questions, or None if the
    reply is not an answer. Raises :class:`NumberError` for a malformed number."""
    if question.type == "numeric":
        return parse_number(reply)
    positions = set()
    for part in reply.replace(",", " ").split():
        if re.fullmatch(r"[A-Za-z]", part, re.ASCII):
            position = ord(part.upper()) - ord("A")
        elif re.fullmatch(r"[0-9]{1,3}", part, re.ASCII):
            position = int(part) - 1
        else:
            return None
        if not 0 <= position < n_options:
            return None
        positions.add(position)
    if not positions or (question.type == "single" and len(positions) != 1):
        return None
    return positions
