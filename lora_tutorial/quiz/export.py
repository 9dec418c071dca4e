"""Export quizzes for the classroom: a handout, an answer key, and Moodle GIFT.

* ``markdown``: the learner handout, questions and options only, to print or share.
* ``key``: the instructor's answer key: every question with its answer, the feedback
  on each option, the hint and the explanation.
* ``gift``: Moodle's GIFT text format, to import the bank into a learning platform.
  GIFT gives ``~ = # { } :`` a meaning, so every such character in our text is escaped
  with a backslash (a backslash itself becomes ``\\\\``, a newline ``\\n``, exactly as
  Moodle's own GIFT exporter writes them). Single-choice questions use ``=``/``~``;
  multiple-answer questions give each correct option an equal share of 100% and each
  wrong one an equal share of -100%; numeric questions use ``{#answer:tolerance}``.

Each function takes a list of :class:`~lora_tutorial.quiz.bank.Quiz` and returns text.
"""

from __future__ import annotations

from typing import Callable, Sequence

from .bank import Question, Quiz
from .render import answer_text, instructions

_GIFT_SPECIAL = "~=#{}:"


def to_markdown(quizzes: Sequence[Quiz]) -> str:
    """The learner handout: questions and options, no hints or answers."""
    out = []
    for quiz in quizzes:
        out.append(f"# {quiz.title}\n")
        for number, question in enumerate(quiz.questions, start=1):
            out.append(f"## Question {number}\n\n*{instructions(question)}*\n\n"
                       f"{question.question.strip()}\n")
            if question.type == "numeric":
                out.append("Your answer: ______________\n")
            else:
                out.append("\n".join(f"- [ ] {option.text}" for option in question.options) + "\n")
    return "\n".join(out)


def to_key(quizzes: Sequence[Quiz]) -> str:
    """The instructor's answer key: answers, per-option feedback, hints and explanations."""
    out = []
    for quiz in quizzes:
        out.append(f"# Answer key: {quiz.title}\n\n*File: `{quiz.path.name}`*\n")
        for number, question in enumerate(quiz.questions, start=1):
            out.append(f"## Question {number} (`{question.id}`, {question.type})\n\n"
                       f"{question.question.strip()}\n")
            for option in question.options:
                mark = "x" if option.correct else " "
                out.append(f"- [{mark}] {option.text}  \n  *Feedback:* {option.feedback.strip()}")
            if question.options:
                out.append("")
            out.append(f"**Answer:** {answer_text(question)}\n")
            out.append(f"**Hint:** {question.hint.strip()}\n")
            out.append(f"**Explanation:** {question.explanation.strip()}\n")
    return "\n".join(out)


def gift_escape(text: str) -> str:
    """Escape text for GIFT: backslash first, then ``~ = # { } :``, then newlines."""
    text = text.strip().replace("\\", "\\\\")
    for char in _GIFT_SPECIAL:
        text = text.replace(char, "\\" + char)
    return text.replace("\r", "").replace("\n", "\\n")


def _gift_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _gift_weight(share: int, sign: int) -> str:
    """``%33.33333%``-style weight: Moodle accepts these five-decimal fractions."""
    return f"%{sign * 100 / share:.5f}".rstrip("0").rstrip(".") + "%"


def _gift_question(question: Question) -> str:
    head = f"::{gift_escape(question.id)}::[markdown]{gift_escape(question.question)}"
    general = f"\n####{gift_escape(question.explanation)}"
    if question.type == "numeric":
        answer = f"{_gift_number(question.answer)}:{_gift_number(question.tolerance)}"
        return f"{head} {{#{answer}{general}\n}}"
    n_right = len(question.correct_indices)
    n_wrong = len(question.options) - n_right
    lines = []
    for option in question.options:
        if question.type == "single":
            prefix = "=" if option.correct else "~"
        else:
            weight = _gift_weight(n_right, 1) if option.correct else _gift_weight(n_wrong, -1)
            prefix = "~" + weight
        lines.append(f"\t{prefix}{gift_escape(option.text)}#{gift_escape(option.feedback)}")
    return head + " {\n" + "\n".join(lines) + general + "\n}"


def to_gift(quizzes: Sequence[Quiz]) -> str:
    """Moodle GIFT: one ``$CATEGORY`` per quiz, question ids as titles, Markdown text."""
    out = []
    for quiz in quizzes:
        out.append(f"// {quiz.title.replace(chr(10), ' ')}\n$CATEGORY: lora_tutorial/{quiz.name}\n")
        out.extend(_gift_question(question) + "\n" for question in quiz.questions)
    return "\n".join(out)


#: The formats ``python -m lora_tutorial.quiz export --format ...`` understands.
FORMATS: dict[str, Callable[[Sequence[Quiz]], str]] = {
    "markdown": to_markdown,
    "key": to_key,
    "gift": to_gift,
}
