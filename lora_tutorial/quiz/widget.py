"""The quiz inside a notebook: ipywidgets for a live kernel, static HTML for everyone else.

``show("02_low_rank")`` displays one :class:`QuizWidget`: a single ``VBox`` holding one
:class:`QuestionWidget` per question and a score line. Each question offers

* **Hint**: shows (or hides) the hint, before or after answering;
* **Check**: marks the answer right or wrong and shows the feedback of each chosen
  option (why it is right or wrong), then the explanation; the choice is locked;
* **Try again**: clears the answer so the learner can have another go.

Every check is recorded in the learner's progress file, and the first one decides
"correct on the first try" (see :mod:`lora_tutorial.quiz.progress`).

What gets displayed (through :func:`lora_tutorial.common.display.show_widget`) is one output
with two versions of the same quiz: the widget view for Jupyter with a kernel, and static
HTML for GitHub, nbviewer and HTML exports, where widgets cannot run. The widget view
holds a random model id, which nbval ignores; the static HTML and the plain-text repr
depend only on the quiz file, so a notebook that shows a quiz re-runs to identical output.

Options are labelled A, B, C, ... in the bank's one display order (see
:func:`lora_tutorial.quiz.loader.display_order`), the same as in the static copy, the
terminal, the handout and the answer key. A number that cannot be read (``1,5``, ``²``)
gets a message saying how to type it, and is not counted as an attempt.

Every widget is an attribute, so tests and curious learners can drive a quiz from
Python: set ``question.choice.value`` (or ``question.checkboxes[i].value``, or
``question.number.value``), call ``question.check_button.click()`` and read
``question.feedback.value``. Choice values are display positions: 0 is option A.
"""

from __future__ import annotations

import html
import os
from typing import Sequence

import ipywidgets as widgets

from ..common.display import show_widget
from .loader import load_quiz
from .model import NumberError, Question, Quiz, exact_decimal, option_letter, parse_number
from .progress import record_answer
from .render import (
    answer_text,
    format_number,
    inline_html,
    instructions,
    markdown_to_html,
    option_label,
    static_quiz_html,
)

_RIGHT = '<span style="color:#1a7f37"><b>✓ Right.</b></span>'
_WRONG = '<span style="color:#cf222e"><b>✗ Not quite.</b></span>'


class QuestionWidget:
    """The widgets of one question and the logic behind its three buttons.

    ``on_change`` is called after every check, so the quiz can update its score line.
    """

    def __init__(self, question: Question, number: int, total: int, quiz: Quiz, on_change=None,
                 record: bool = True):
        self.question = question
        self.quiz = quiz
        self.record = record
        self.on_change = on_change
        self.attempts = 0
        self.first_try_correct: bool | None = None  # None until the first check
        self.prompt = widgets.HTML(
            f"<b>Question {number} of {total}</b> <em>({instructions(question)})</em>"
            f"{markdown_to_html(question.question)}"
        )
        self.choice: widgets.RadioButtons | None = None
        self.checkboxes: list[widgets.Checkbox] = []
        self.number: widgets.Text | None = None
        if question.type == "single":
            self.choice = widgets.RadioButtons(
                options=[(option_label(i, o.text), i) for i, o in enumerate(question.options)],
                value=None, layout=widgets.Layout(width="auto"),
            )
            inputs = self.choice
        elif question.type == "multiple":
            self.checkboxes = [
                widgets.Checkbox(value=False, description=option_label(i, o.text), indent=False,
                                 layout=widgets.Layout(width="auto"))
                for i, o in enumerate(question.options)
            ]
            inputs = widgets.VBox(self.checkboxes)
        else:
            self.number = widgets.Text(placeholder="a number, e.g. 8192 or 8,192",
                                       layout=widgets.Layout(width="18em"))
            inputs = self.number
        self.hint_button = widgets.Button(description="Hint", tooltip="Show a hint")
        self.check_button = widgets.Button(description="Check", button_style="primary")
        self.retry_button = widgets.Button(description="Try again", disabled=True)
        self.hint = widgets.HTML("")
        self.feedback = widgets.HTML("")
        self.hint_button.on_click(self._toggle_hint)
        self.check_button.on_click(self._check)
        self.retry_button.on_click(self._retry)
        self.box = widgets.VBox(
            [self.prompt, inputs,
             widgets.HBox([self.hint_button, self.check_button, self.retry_button]),
             self.hint, self.feedback],
            layout=widgets.Layout(border="1px solid #d0d7de", padding="0.5em", margin="0.5em 0"),
        )

    @property
    def answered(self) -> bool:
        return self.first_try_correct is not None

    def selection(self) -> frozenset[int]:
        """Indices of the options currently chosen (display order: 0 is option A)."""
        if self.choice is not None:
            return frozenset() if self.choice.value is None else frozenset({self.choice.value})
        return frozenset(i for i, box in enumerate(self.checkboxes) if box.value)

    def _toggle_hint(self, _button=None) -> None:
        showing = bool(self.hint.value)
        self.hint.value = "" if showing else f"<b>Hint:</b> {markdown_to_html(self.question.hint)}"
        self.hint_button.description = "Hint" if showing else "Hide hint"

    def _check(self, _button=None) -> None:
        question = self.question
        if question.type == "numeric":
            if not self.number.value.strip():
                self.feedback.value = "<em>Type a number first (commas are fine).</em>"
                return
            try:
                value = parse_number(self.number.value)
            except NumberError as err:
                self.feedback.value = f"<em>{html.escape(str(err))}</em>"
                return
            correct = question.check(value)
            body = self._numeric_feedback(value, correct)
            chosen_record: list[str] | str = self.number.value.strip()
        else:
            chosen = self.selection()
            if not chosen:
                self.feedback.value = "<em>Choose an answer first.</em>"
                return
            correct = question.check(chosen)
            body = self._choice_feedback(chosen)
            chosen_record = [question.options[i].text for i in sorted(chosen)]
        self.attempts += 1
        if self.first_try_correct is None:
            self.first_try_correct = correct
        note = None
        if self.record:
            note = record_answer(self.quiz.name, self.quiz.title, question.id, correct,
                                 chosen_record)
        if note:
            body += f"<p><em>{html.escape(note)}</em></p>"
        explanation = markdown_to_html(question.explanation)
        if correct:
            explanation_html = f"<p><b>Explanation.</b></p>{explanation}"
        else:
            answer = inline_html(answer_text(question))
            explanation_html = ("<details><summary>Show the answer and explanation</summary>"
                                f"<p><b>Answer:</b> {answer}</p>{explanation}</details>")
        self.feedback.value = f"{_RIGHT if correct else _WRONG}{body}{explanation_html}"
        self._lock(True)
        if self.on_change is not None:
            self.on_change()

    def _choice_feedback(self, chosen: frozenset[int]) -> str:
        items = []
        for i in sorted(chosen):
            option = self.question.options[i]
            mark = "✓" if option.correct else "✗"
            items.append(f"<li>{mark} <b>{option_letter(i)}. {inline_html(option.text)}</b>: "
                         f"{inline_html(option.feedback)}</li>")
        missed = len(self.question.correct_indices - chosen)
        if missed:
            plural = "s" if missed > 1 else ""
            items.append(f"<li>You left out {missed} correct option{plural}.</li>")
        return f"<ul>{''.join(items)}</ul>"

    def _numeric_feedback(self, value: float, correct: bool) -> str:
        shown = html.escape(format_number(value))
        if correct:
            return f"<p>{shown} is right.</p>"
        direction = "too high" if value > exact_decimal(self.question.answer) else "too low"
        return f"<p>{shown} is {direction}.</p>"

    def _retry(self, _button=None) -> None:
        if self.choice is not None:
            self.choice.value = None
        for box in self.checkboxes:
            box.value = False
        if self.number is not None:
            self.number.value = ""
        self.feedback.value = ""
        self._lock(False)

    def _lock(self, locked: bool) -> None:
        for control in [self.choice, self.number, *self.checkboxes]:
            if control is not None:
                control.disabled = locked
        self.check_button.disabled = locked
        self.retry_button.disabled = not locked


class QuizWidget:
    """A whole quiz: a title, one :class:`QuestionWidget` per question and a score line,
    in a single ``VBox`` (``.box``). Displaying it shows the widgets in a live notebook
    and the static HTML copy everywhere else."""

    def __init__(self, quiz: Quiz, record: bool = True):
        self.quiz = quiz
        total = len(quiz.questions)
        self.questions = [
            QuestionWidget(q, n, total, quiz, on_change=self._update_score, record=record)
            for n, q in enumerate(quiz.questions, start=1)
        ]
        self.score = widgets.HTML("")
        self._update_score()
        title = widgets.HTML(f"<h4>Quiz: {html.escape(quiz.title)}</h4>")
        self.box = widgets.VBox([title, *(q.box for q in self.questions), self.score])

    def __getitem__(self, question_id: str) -> QuestionWidget:
        """The widget of the question with this id."""
        for question in self.questions:
            if question.question.id == question_id:
                return question
        raise KeyError(question_id)

    def _update_score(self) -> None:
        total = len(self.questions)
        answered = sum(q.answered for q in self.questions)
        first = sum(bool(q.first_try_correct) for q in self.questions)
        self.score.value = (f"<b>Score:</b> {first} of {total} right on the first try "
                            f"· {answered} of {total} answered")

    def static_html(self) -> str:
        """The kernel-free HTML version of this quiz."""
        return static_quiz_html(self.quiz)

    def display(self) -> None:
        """Display the live widgets, with the static HTML copy in the same output."""
        show_widget(self.box, self.static_html())

    _ipython_display_ = display


def show(name_or_path: str | os.PathLike, ids: Sequence[str] | None = None) -> None:
    """Display a quiz in the notebook.

    ``name_or_path`` is a bank name such as ``"02_low_rank"`` (the file
    ``quizzes/02_low_rank.yaml``) or the path of any quiz file; ``ids`` keeps only those
    questions, in that order. Returns nothing, so the quiz is displayed exactly once even
    as a cell's last line; build a :class:`QuizWidget` yourself to keep a handle on it.
    """
    QuizWidget(load_quiz(name_or_path, ids=ids)).display()
