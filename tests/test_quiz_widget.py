"""The notebook quiz, driven from Python: select, Hint, Check, Try again, read the feedback;
and the static HTML copy that GitHub and nbviewer show.

The tests use their own small quiz (written to a temporary file), not the shipped bank, so
rewriting the bank's questions never breaks them."""

import json
import re

import ipywidgets as widgets
import pytest

import lora_tutorial.common.display
from lora_tutorial.common.display import course_html
from lora_tutorial.quiz import QuizWidget, load_quiz, show
from lora_tutorial.quiz.model import option_letter
from lora_tutorial.quiz.render import (
    inline_html, markdown_to_html, option_label, plain_text, static_quiz_html,
)

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IDS = ["fx-single", "fx-multiple", "fx-numeric"]

FIXTURE = """\
title: Counting, a fixture
questions:
  - id: fx-single
    type: single
    question: How many trainable parameters does LoRA add to a `d×k` matrix?
    hint: Count the entries of A (r×k) and of B (d×r).
    options:
      - {text: "`r·(d + k)`", correct: true, feedback: "Right: r·k + d·r."}
      - {text: "`2·r·d`", correct: false, feedback: "Only for square matrices."}
      - {text: "`d·k`", correct: false, feedback: "That is the frozen matrix itself."}
    explanation: A has r·k entries and **B** has d·r.
  - id: fx-multiple
    type: multiple
    question: Which hold for a square d×d weight?
    hint: The fraction is 2r/d.
    options:
      - {text: "Bigger d trains a smaller fraction", correct: true, feedback: "Right, like 1/d."}
      - {text: "Doubling r doubles the count", correct: true, feedback: "Right, linear in r."}
      - {text: "Doubling d doubles the fraction", correct: false, feedback: "It halves."}
    explanation: r·(d + k) is linear while d·k is quadratic.
  - id: fx-numeric
    type: numeric
    question: How many parameters does r = 4 add to a 1024×1024 layer?
    hint: r·(d + k).
    answer: 8192
    tolerance: 0
    explanation: 4 × 2048 = 8,192.
"""


@pytest.fixture(autouse=True)
def _private_progress(private_progress):
    """Every test here records answers into its own file (see tests/conftest.py)."""


@pytest.fixture
def quiz_file(tmp_path):
    path = tmp_path / "fixture_quiz.yaml"
    path.write_text(FIXTURE, encoding="utf-8")
    return path


@pytest.fixture
def quiz(quiz_file):
    return QuizWidget(load_quiz(quiz_file))


def wrong_index(question):
    return next(i for i, option in enumerate(question.options) if not option.correct)


def test_one_vbox_holds_title_every_question_and_the_score(quiz):
    assert isinstance(quiz.box, widgets.VBox)
    assert [q.question.id for q in quiz.questions] == IDS
    assert quiz.box.children[1:-1] == tuple(q.box for q in quiz.questions)
    assert quiz.box.children[-1] is quiz.score
    assert "Counting, a fixture" in quiz.box.children[0].value


def test_each_type_gets_its_input_widget(quiz):
    single, multiple, numeric = quiz.questions
    assert isinstance(single.choice, widgets.RadioButtons) and single.choice.value is None
    labels = [label for label, _ in single.choice.options]
    assert labels == [f"{option_letter(i)}. {plain_text(o.text)}"
                      for i, o in enumerate(single.question.options)]
    assert labels == [option_label(i, o.text) for i, o in enumerate(single.question.options)]
    assert all("`" not in label for label in labels)
    descriptions = [box.description for box in multiple.checkboxes]
    assert descriptions == [option_label(i, o.text)
                            for i, o in enumerate(multiple.question.options)]
    assert isinstance(numeric.number, widgets.Text)
    assert markdown_to_html(single.question.question) in single.prompt.value
    assert "Question 1 of 3" in single.prompt.value


def test_hint_is_shown_before_answering_and_can_be_hidden(quiz):
    question = quiz.questions[0]
    assert question.hint.value == ""
    question.hint_button.click()
    assert markdown_to_html(question.question.hint) in question.hint.value
    assert question.hint_button.description == "Hide hint"
    assert question.feedback.value == "" and question.attempts == 0
    question.hint_button.click()
    assert question.hint.value == "" and question.hint_button.description == "Hint"


def test_check_without_an_answer_asks_for_one(quiz):
    question = quiz.questions[0]
    question.check_button.click()
    assert "Choose an answer first" in question.feedback.value
    assert question.attempts == 0 and not question.check_button.disabled


def test_wrong_then_try_again_then_right(quiz):
    question = quiz.questions[0]
    wrong = wrong_index(question.question)
    question.choice.value = wrong
    question.check_button.click()
    feedback = question.feedback.value
    assert "Not quite" in feedback
    assert inline_html(question.question.options[wrong].feedback) in feedback
    explanation = markdown_to_html(question.question.explanation)
    assert feedback.index("<details>") < feedback.index(explanation)  # folded after a wrong answer
    assert question.choice.disabled and question.check_button.disabled
    assert not question.retry_button.disabled
    assert "0 of 3 right on the first try · 1 of 3 answered" in quiz.score.value

    question.retry_button.click()
    assert question.choice.value is None and question.feedback.value == ""
    assert not question.choice.disabled and not question.check_button.disabled
    assert question.retry_button.disabled

    (right,) = question.question.correct_indices
    question.choice.value = right
    question.check_button.click()
    feedback = question.feedback.value
    assert "Right." in feedback and "<details>" not in feedback
    assert inline_html(question.question.options[right].feedback) in feedback
    assert explanation in feedback
    assert question.attempts == 2 and question.first_try_correct is False
    assert "0 of 3 right on the first try · 1 of 3 answered" in quiz.score.value


def test_multiple_choice_marks_each_chosen_option_and_counts_missed_ones(quiz):
    question = quiz.questions[1]
    correct = sorted(question.question.correct_indices)
    question.checkboxes[correct[0]].value = True
    question.check_button.click()
    feedback = question.feedback.value
    assert "Not quite" in feedback
    assert inline_html(question.question.options[correct[0]].feedback) in feedback
    missed = len(correct) - 1
    assert f"You left out {missed} correct option" in feedback
    assert all(box.disabled for box in question.checkboxes)

    question.retry_button.click()
    assert not any(box.value for box in question.checkboxes)
    for i in correct:
        question.checkboxes[i].value = True
    question.check_button.click()
    assert "Right." in question.feedback.value and "left out" not in question.feedback.value


def test_numeric_accepts_commas_and_says_too_high_or_low(quiz):
    question = quiz.questions[2]
    question.number.value = ""
    question.check_button.click()
    assert "Type a number first" in question.feedback.value and question.attempts == 0
    question.number.value = "not a number"
    question.check_button.click()
    assert "is not a number" in question.feedback.value and question.attempts == 0
    question.number.value = "8,19"
    question.check_button.click()
    assert "comma separates thousands" in question.feedback.value and question.attempts == 0
    question.number.value = "16384"
    question.check_button.click()
    assert "Not quite" in question.feedback.value
    assert "16,384 is too high" in question.feedback.value
    question.retry_button.click()
    assert question.number.value == ""
    question.number.value = "8,192"
    question.check_button.click()
    assert "Right." in question.feedback.value and "8,192 is right" in question.feedback.value


def test_score_counts_first_try_answers(quiz):
    single, multiple, numeric = quiz.questions
    single.choice.value = next(iter(single.question.correct_indices))
    single.check_button.click()
    numeric.number.value = "8192"
    numeric.check_button.click()
    assert "2 of 3 right on the first try · 2 of 3 answered" in quiz.score.value
    assert quiz["fx-numeric"] is numeric
    with pytest.raises(KeyError):
        quiz["missing"]


def test_checking_records_progress(quiz, private_progress):
    question = quiz.questions[0]
    question.choice.value = wrong_index(question.question)
    question.check_button.click()
    data = json.loads(private_progress.read_text())
    record = data["quizzes"]["fixture_quiz"]["questions"]["fx-single"]
    chosen = [question.question.options[wrong_index(question.question)].text]
    assert record == {"attempts": 1, "first_try_correct": False, "correct": False,
                      "answers": [{"chosen": chosen, "correct": False}]}


def test_widget_without_recording_writes_nothing(private_progress, quiz_file):
    quiz = QuizWidget(load_quiz(quiz_file), record=False)
    quiz.questions[2].number.value = "8192"
    quiz.questions[2].check_button.click()
    assert "Right." in quiz.questions[2].feedback.value
    assert not private_progress.exists()


# --- what gets displayed ------------------------------------------------------------

def test_show_displays_one_bundle_with_widget_and_static_html(monkeypatch, quiz_file):
    shown = []
    monkeypatch.setattr(lora_tutorial.common.display, "display",
                        lambda obj, raw=False: shown.append((obj, raw)))
    assert show(quiz_file, ids=IDS[::-1]) is None
    ((bundle, raw),) = shown
    assert raw is True
    assert set(bundle) == {"text/plain", "text/html", WIDGET_MIME}
    expected = course_html(static_quiz_html(load_quiz(quiz_file, ids=IDS[::-1])))
    assert bundle["text/html"] == expected


def test_displayed_text_is_identical_across_runs_but_widget_ids_are_not(monkeypatch, quiz_file):
    shown = []
    monkeypatch.setattr(lora_tutorial.common.display, "display", lambda obj, raw=False: shown.append(obj))
    show(quiz_file)
    show(quiz_file)
    first, second = shown
    assert first["text/html"] == second["text/html"]
    assert first["text/plain"] == second["text/plain"]
    assert first[WIDGET_MIME]["model_id"] != second[WIDGET_MIME]["model_id"]
    assert not re.search(r"0x[0-9a-f]{6,}", first["text/html"] + first["text/plain"])


def test_static_html_and_widget_show_the_same_order(quiz):
    page = static_quiz_html(quiz.quiz)
    outside = re.sub(r"<details>.*?</details>", "", page, flags=re.S)
    for widget in quiz.questions[:2]:
        options = widget.question.options
        shown = [outside.index(f"{option_letter(i)}. {inline_html(o.text)}")
                 for i, o in enumerate(options)]
        assert shown == sorted(shown)
        labels = ([label for label, _ in widget.choice.options] if widget.choice
                  else [box.description for box in widget.checkboxes])
        assert labels == [option_label(i, o.text) for i, o in enumerate(options)]


def test_static_html_shows_questions_and_options_but_folds_answers(quiz_file):
    quiz = load_quiz(quiz_file)
    page = static_quiz_html(quiz)
    outside = re.sub(r"<details>.*?</details>", "", page, flags=re.S)
    for question in quiz.questions:
        assert markdown_to_html(question.question) in outside
        assert markdown_to_html(question.explanation) not in outside
        assert markdown_to_html(question.explanation) in page
        assert markdown_to_html(question.hint) not in outside
        for option in question.options:
            assert inline_html(option.text) in outside
            assert inline_html(option.feedback) not in outside
    assert page.count("<details><summary>Answer and explanation</summary>") == len(quiz.questions)
    assert page.count("<details><summary>Hint</summary>") == len(quiz.questions)
    assert "<strong>Answer:</strong> 8,192 (± 0)" in page


def test_markdown_is_rendered_and_raw_html_escaped():
    assert markdown_to_html("Use `requires_grad`") == "<p>Use <code>requires_grad</code></p>"
    assert "<pre><code" in markdown_to_html("```python\nx = 1\n```")
    assert "&lt;script&gt;" in markdown_to_html("<script>alert(1)</script>")
    assert inline_html("*a*") == "<em>a</em>"
