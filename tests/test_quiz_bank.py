"""The question bank validates, and every kind of malformed file is reported precisely."""

import subprocess
import sys
import textwrap

import pytest

from lora_tutorial.quiz import QuizError, available_quizzes, bank_dir, load_quiz, validate
from lora_tutorial.quiz.bank import QUIZ_DIR_ENV, parse_number

NOTEBOOK_QUIZZES = [
    "01_full_finetuning_and_freezing", "02_low_rank", "03_lora_layer", "04_counting_parameters",
    "05_lora_vs_full_finetuning", "06_merge_and_swap", "07_peft",
]

GOOD_QUESTION = """\
  - id: {id}
    type: single
    question: What is two plus two?
    hint: Count on your fingers.
    options:
      - text: "Four"
        correct: true
        feedback: Right, 2 + 2 = 4.
      - text: "Five"
        correct: false
        feedback: One too many.
    explanation: Addition.
"""


def write(tmp_path, name, body, title="A test quiz"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"title: {title}\nquestions:\n{textwrap.dedent(body)}", encoding="utf-8")
    return path


def cli(*args, **kwargs):
    """Run ``python -m lora_tutorial.quiz ARGS`` and capture its output."""
    return subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", *args],
                          capture_output=True, text=True, **kwargs)


def messages(problems):
    return [str(problem) for problem in problems]


# --- the real bank -------------------------------------------------------------------

def test_bank_validates_without_problems():
    assert messages(validate()) == []


def test_validate_command_exits_zero_on_the_bank():
    result = cli("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_bank_has_every_planned_quiz_with_enough_questions():
    names = available_quizzes()
    assert set(NOTEBOOK_QUIZZES + ["final"]) <= set(names)
    for name in NOTEBOOK_QUIZZES:
        quiz = load_quiz(name)
        assert len(quiz.questions) >= 6, name
        assert {q.type for q in quiz.questions} >= {"single", "multiple"}, name
    assert len(load_quiz("final").questions) >= 15


def test_bank_mixes_all_three_question_types():
    types = {q.type for name in available_quizzes() for q in load_quiz(name).questions}
    assert types == {"single", "multiple", "numeric"}


def test_final_summary_question_rebuts_each_tempting_wrong_answer():
    (question,) = load_quiz("final", ids=["final-summary"]).questions
    right = [o for o in question.options if o.correct]
    wrong = [o for o in question.options if not o.correct]
    assert len(right) == 1 and "frozen" in right[0].text and "checkpoint" in right[0].text
    wrong_text = " ".join(o.text.lower() for o in wrong)
    temptations = ("all of the model's parameters", "removes the base model",
                   "guarantees the same accuracy")
    for temptation in temptations:
        assert temptation in wrong_text
    for option in wrong:
        assert len(option.feedback.split()) >= 15, option.text


def test_counting_answers_are_the_published_numbers():
    questions = load_quiz("04_counting_parameters").questions
    answers = {q.id: q.answer for q in questions if q.type == "numeric"}
    assert answers["count-1024"] == 4 * (1024 + 1024) == 8192
    assert answers["count-4096"] == 8 * (4096 + 4096) == 65536
    assert answers["count-gpt3"] == 96 * 2 * 8 * (12288 + 12288) == 37_748_736
    assert answers["count-llama"] == 32 * 2 * 8 * (4096 + 4096) == 4_194_304


def test_bank_dir_is_the_repository_quizzes_folder(monkeypatch, tmp_path):
    assert (bank_dir() / "final.yaml").is_file()
    monkeypatch.setenv(QUIZ_DIR_ENV, str(tmp_path))
    write(tmp_path, "mine", GOOD_QUESTION.format(id="q1"))
    assert bank_dir() == tmp_path
    assert available_quizzes() == ["mine"]
    assert load_quiz("mine").questions[0].id == "q1"


# --- loading ---------------------------------------------------------------------------

def test_load_by_name_and_by_path_give_the_same_quiz():
    by_name = load_quiz("02_low_rank")
    by_path = load_quiz(bank_dir() / "02_low_rank.yaml")
    assert by_name.questions == by_path.questions
    assert by_name.name == "02_low_rank"


def test_ids_select_questions_in_the_given_order():
    quiz = load_quiz("04_counting_parameters", ids=["count-4096", "count-formula"])
    assert [q.id for q in quiz.questions] == ["count-4096", "count-formula"]


def test_unknown_id_is_an_error_listing_the_ids():
    with pytest.raises(QuizError, match="no question with id 'nope'.*count-formula"):
        load_quiz("04_counting_parameters", ids=["nope"])


def test_unknown_name_lists_the_available_quizzes():
    with pytest.raises(QuizError) as err:
        load_quiz("02_low_rnak")
    assert "02_low_rnak" in str(err.value)
    assert "02_low_rank" in str(err.value) and "final" in str(err.value)


def test_question_check_for_each_type():
    ids = ["count-formula", "count-square-fraction", "count-1024"]
    quiz = load_quiz("04_counting_parameters", ids=ids)
    single, multiple, numeric = quiz.questions
    assert single.check({0}) and not single.check({1}) and not single.check({0, 1})
    assert multiple.check(multiple.correct_indices)
    assert not multiple.check(set(list(multiple.correct_indices)[:1]))
    assert numeric.check(8192.0) and not numeric.check(8193)


@pytest.mark.parametrize("text, value", [("8192", 8192), ("8,192", 8192), (" 8 192 ", 8192),
                                         ("8_192", 8192), ("3.7e7", 3.7e7), ("0.39", 0.39)])
def test_parse_number_accepts_common_spellings(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["", "abc", "8192x", "nan", "inf"])
def test_parse_number_rejects_non_numbers(text):
    assert parse_number(text) is None


# --- malformed files: each problem names the file, the question and what is wrong -----------

MALFORMED = {
    "missing_field": ("""\
      - id: q1
        type: single
        question: What?
        options:
          - {text: "A", correct: true, feedback: Yes.}
          - {text: "B", correct: false, feedback: No.}
        explanation: Because.
    """, "question 'q1': missing field 'hint'"),
    "no_correct_option": ("""\
      - id: q1
        type: single
        question: What?
        hint: Think.
        options:
          - {text: "A", correct: false, feedback: No.}
          - {text: "B", correct: false, feedback: No.}
        explanation: Because.
    """, "question 'q1': no correct option"),
    "single_with_several_correct": ("""\
      - id: q1
        type: single
        question: What?
        hint: Think.
        options:
          - {text: "A", correct: true, feedback: Yes.}
          - {text: "B", correct: true, feedback: Also yes.}
        explanation: Because.
    """, "question 'q1': single-choice question has 2 correct options"),
    "duplicate_option_text": ("""\
      - id: q1
        type: multiple
        question: What?
        hint: Think.
        options:
          - {text: "A", correct: true, feedback: Yes.}
          - {text: "A", correct: false, feedback: No.}
        explanation: Because.
    """, "question 'q1': duplicate option text 'A'"),
    "empty_feedback": ("""\
      - id: q1
        type: single
        question: What?
        hint: Think.
        options:
          - {text: "A", correct: true, feedback: Yes.}
          - {text: "B", correct: false, feedback: "  "}
        explanation: Because.
    """, "question 'q1': option 2 has empty feedback"),
    "numeric_without_tolerance": ("""\
      - id: q1
        type: numeric
        question: How many?
        hint: Count.
        answer: 8192
        explanation: Because.
    """, "question 'q1': numeric question without a tolerance"),
    "duplicate_id_in_file": (GOOD_QUESTION.format(id="q1") + GOOD_QUESTION.format(id="q1"),
                             "question 'q1': duplicate id 'q1' in this file"),
    "unknown_option_field": ("""\
      - id: q1
        type: single
        question: What?
        hint: Think.
        options:
          - {text: "A", correct: true, feedbak: Yes.}
          - {text: "B", correct: false, feedback: No.}
        explanation: Because.
    """, "question 'q1': option 1: unknown field 'feedbak'"),
    "unknown_type": ("""\
      - id: q1
        type: essay
        question: What?
        hint: Think.
        explanation: Because.
    """, "question 'q1': unknown type 'essay'"),
    "correct_not_boolean": ("""\
      - id: q1
        type: single
        question: What?
        hint: Think.
        options:
          - {text: "A", correct: "true", feedback: Yes.}
          - {text: "B", correct: false, feedback: No.}
        explanation: Because.
    """, "question 'q1': option 1: 'correct' must be true or false"),
    "answer_not_a_number": ("""\
      - id: q1
        type: numeric
        question: How many?
        hint: Count.
        answer: "lots"
        tolerance: 0
        explanation: Because.
    """, "question 'q1': field 'answer' must be a number"),
    "options_on_numeric": ("""\
      - id: q1
        type: numeric
        question: How many?
        hint: Count.
        answer: 3
        tolerance: 0
        options: []
        explanation: Because.
    """, "question 'q1': field 'options' does not belong in a numeric question"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_question_is_reported_with_file_and_id(tmp_path, case):
    body, expected = MALFORMED[case]
    path = write(tmp_path, case, body)
    found = messages(validate([path]))
    assert any(message.startswith(str(path)) and expected in message for message in found), found
    with pytest.raises(QuizError) as err:
        load_quiz(path)
    assert expected in str(err.value)
    assert err.value.problems


def test_question_without_id_is_reported_by_position(tmp_path):
    without_id = GOOD_QUESTION.replace("  - id: {id}\n    ", "  - ")
    path = write(tmp_path, "noid", GOOD_QUESTION.format(id="q1") + without_id)
    assert any("question '#2 (no id)': missing field 'id'" in m for m in messages(validate([path])))


def test_duplicate_ids_across_files_name_both_files(tmp_path):
    first = write(tmp_path, "a", GOOD_QUESTION.format(id="shared"))
    second = write(tmp_path, "b", GOOD_QUESTION.format(id="shared"))
    found = messages(validate([tmp_path]))
    assert found == [f"{second}: question 'shared': duplicate id 'shared' (also used in {first})"]
    assert validate([first]) == [] and validate([second]) == []


def test_yaml_syntax_error_reports_its_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("title: Broken\nquestions:\n  - id: q1\n    question: [unclosed\n    hint: x\n",
                    encoding="utf-8")
    (message,) = messages(validate([path]))
    assert message.startswith(f"{path}: YAML syntax error at line ")
    line = int(message.split("at line ")[1].split(":")[0])
    assert 4 <= line <= 6


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "unsafe.yaml"
    path.write_text("title: !!python/object/apply:os.system ['echo hacked']\nquestions: []\n",
                    encoding="utf-8")
    (message,) = messages(validate([path]))
    assert "YAML syntax error" in message and "python/object" in message


def test_file_level_problems(tmp_path):
    path = write(tmp_path, "empty", "", title="''")
    found = messages(validate([path]))
    assert f"{path}: missing field 'title' (a non-empty string)" in found
    assert f"{path}: missing field 'questions' (a non-empty list)" in found


def test_overlong_option_is_reported(tmp_path):
    body = GOOD_QUESTION.format(id="q1").replace('"Five"', '"' + "very " * 30 + 'long"')
    found = messages(validate([write(tmp_path, "long", body)]))
    assert any("option 2 is longer than 120 characters" in m for m in found), found


def test_validate_command_reports_problems_and_fails(tmp_path):
    body, expected = MALFORMED["no_correct_option"]
    path = write(tmp_path, "bad", body)
    result = cli("validate", str(path))
    assert result.returncode == 1
    assert f"{path}: {expected}" in result.stdout
    assert "1 problem(s) found" in result.stderr


def test_validate_reports_a_path_that_does_not_exist(tmp_path):
    found = messages(validate([tmp_path / "missing.yaml"]))
    assert len(found) == 1 and "missing.yaml" in found[0]
