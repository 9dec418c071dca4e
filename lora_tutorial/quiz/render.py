"""Turn questions into HTML: the Markdown renderer and the static, kernel-free quiz.

Questions are written in Markdown. In Jupyter they become HTML inside widgets; on GitHub,
nbviewer or an HTML export there is no kernel, so every quiz also carries a *static*
HTML copy: questions and options in the open, the hint and the answer each folded inside
a ``<details>`` element so a reader can test themselves before peeking. The static copy
depends only on the quiz file, never on the session, so re-running a notebook stores
byte-identical output (nbval compares it).
"""

from __future__ import annotations

import html

import mistune

from .model import Question, Quiz, option_letter

# Raw HTML in a question is shown as text: the bank is Markdown, and escaping keeps what
# a learner sees identical in Jupyter, on GitHub and in the terminal.
_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])

_INSTRUCTIONS = {
    "single": "Choose one answer.",
    "multiple": "Choose every answer that applies.",
    "numeric": "Answer with a number.",
}
_MARKERS = {"single": "○", "multiple": "☐"}


def markdown_to_html(text: str) -> str:
    """Render a Markdown block (paragraphs, lists, code) to HTML."""
    return _markdown(text).strip()


def inline_html(text: str) -> str:
    """Render one line of Markdown (an option) without the surrounding ``<p>``."""
    rendered = markdown_to_html(text)
    if rendered.startswith("<p>") and rendered.endswith("</p>") and rendered.count("<p>") == 1:
        return rendered[3:-4]
    return rendered


def plain_text(text: str) -> str:
    """An option as plain text for widget labels, which cannot show Markdown.

    Drops backticks and bold marks: ``"`r` is **small**"`` becomes ``"r is small"``.
    """
    return text.replace("`", "").replace("**", "")


def option_label(index: int, text: str) -> str:
    """A widget label: the option's letter and its plain text, ``"B. r is small"``."""
    return f"{option_letter(index)}. {plain_text(text)}"


def format_number(value) -> str:
    """``8192`` -> ``"8,192"``; non-integers keep the digits the author (or learner) wrote."""
    if float(value).is_integer() and abs(float(value)) < 1e16:
        return f"{int(value):,}"
    return str(value)


def instructions(question: Question) -> str:
    """The one-line instruction for a question type ("Choose one answer.")."""
    return _INSTRUCTIONS[question.type]


def answer_text(question: Question) -> str:
    """The right answer in Markdown: ``"8,192 (± 0)"``, or the correct options' letters and
    texts in display order (``"B. ...; D. ..."``)."""
    if question.type == "numeric":
        return f"{format_number(question.answer)} (± {format_number(question.tolerance)})"
    return "; ".join(f"{option_letter(i)}. {option.text}"
                     for i, option in enumerate(question.options) if option.correct)


def static_question_html(question: Question) -> str:
    """One question as static HTML, with hint and answer inside closed ``<details>``."""
    parts = [markdown_to_html(question.question), f"<p><em>{instructions(question)}</em></p>"]
    if question.type == "numeric":
        parts.append("<p>Your answer: ________</p>")
    else:
        marker = _MARKERS[question.type]
        items = "".join(f"<li>{marker} {option_letter(i)}. {inline_html(o.text)}</li>"
                        for i, o in enumerate(question.options))
        parts.append(f"<ul>{items}</ul>")
    parts.append(f"<details><summary>Hint</summary>{markdown_to_html(question.hint)}</details>")
    answer = [f"<p><strong>Answer:</strong> {inline_html(answer_text(question))}</p>"]
    if question.options:
        lines = "".join(
            f"<li>{'✓' if o.correct else '✗'} {option_letter(i)}. {inline_html(o.text)}: "
            f"{inline_html(o.feedback)}</li>"
            for i, o in enumerate(question.options)
        )
        answer.append(f"<ul>{lines}</ul>")
    answer.append(markdown_to_html(question.explanation))
    parts.append(f"<details><summary>Answer and explanation</summary>{''.join(answer)}</details>")
    return f"<li>{''.join(parts)}</li>"


def static_quiz_html(quiz: Quiz) -> str:
    """The whole quiz as static HTML for readers without a kernel."""
    items = "\n".join(static_question_html(q) for q in quiz.questions)
    return (
        f'<div class="lora-quiz">\n<h4>Quiz: {html.escape(quiz.title)}</h4>\n'
        "<p><em>Static copy: run this cell in Jupyter to answer interactively with hints and "
        "feedback. Open a fold to see the hint or the answer.</em></p>\n"
        f"<ol>\n{items}\n</ol>\n</div>"
    )
