"""The question bank validates and lints clean; one display order derived from the id; exact
numeric grading; and every kind of malformed file is reported with its file, line and id."""

import subprocess
import sys
import textwrap
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

import lora_tutorial
from lora_tutorial.quiz import QuizError, available_quizzes, bank_dir, load_quiz, validate
from lora_tutorial.quiz.lint import (MAX_LONGEST_SHARE, MAX_POSITION_SHARE, MAX_TOP_TWO_SHARE,
                                     bank_length_figures, lint)
from lora_tutorial.quiz.loader import BANK_DIR, QUIZ_DIR_ENV, display_order
from lora_tutorial.quiz.model import NumberError, parse_number

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
    temptations = ("every parameter of the model", "discards the base model",
                   "guarantees full fine-tuning's accuracy")
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


def test_bank_dir_is_the_top_level_quizzes_folder_of_a_checkout(monkeypatch, tmp_path):
    assert bank_dir() == BANK_DIR == Path(lora_tutorial.__file__).parents[1] / "quizzes"
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
    (right,) = single.correct_indices
    wrong = next(i for i in range(len(single.options)) if i != right)
    assert single.check({right}) and not single.check({wrong}) and not single.check({right, wrong})
    assert multiple.check(multiple.correct_indices)
    assert not multiple.check(set(list(multiple.correct_indices)[:1]))
    assert numeric.check(8192.0) and not numeric.check(8193)


@pytest.mark.parametrize("text, value", [
    ("8192", "8192"), ("8,192", "8192"), (" 8 192 ", "8192"), ("8_192", "8192"),
    ("3.7e7", "3.7e7"), ("0.39", "0.39"), ("1,234,567.5", "1234567.5"), ("−5", "-5"),
    ("-0.5", "-0.5"), (".5", "0.5"), ("8\u202f192", "8192")])
def test_parse_number_accepts_common_spellings_exactly(text, value):
    assert parse_number(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "8192x", "nan", "inf", "²", "1e99999", "8,19",
                                  "81,92", "1,5,0", "8 1 9 2", "٣", "1e", "--5"])
def test_parse_number_rejects_non_numbers(text):
    with pytest.raises(NumberError):
        parse_number(text)


def test_a_decimal_comma_is_not_read_as_thousands():
    with pytest.raises(NumberError, match="comma separates thousands.*1.5"):
        parse_number("1,5")


def test_numeric_tolerance_includes_its_bounds_in_decimal(tmp_path):
    body = """\
      - id: pct
        type: numeric
        question: What percentage?
        hint: Divide.
        answer: 0.39
        tolerance: 0.01
        explanation: Because.
    """
    (question,) = load_quiz(write(tmp_path, "pct", body)).questions
    for accepted in ("0.40", "0.38", "0.39", "0.3900001"):
        assert question.check(parse_number(accepted)), accepted
    for refused in ("0.4000001", "0.3799999", "0.41"):
        assert not question.check(parse_number(refused)), refused
    assert question.check(0.40) and question.check(0.38)  # floats as written, too
    (exact,) = load_quiz("04_counting_parameters", ids=["count-1024"]).questions
    assert exact.check(Decimal("8192")) and not exact.check(Decimal("8192.0001"))


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
    """, "question 'q1': option 2's feedback must be non-empty text"),
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
    assert f"{second}:3: question 'shared': duplicate id 'shared' (also used in {first})" in found
    assert validate([first]) == [] and validate([second]) == []


def test_yaml_syntax_error_reports_its_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("title: Broken\nquestions:\n  - id: q1\n    question: [unclosed\n    hint: x\n",
                    encoding="utf-8")
    (message,) = messages(validate([path]))
    assert message.startswith(f"{path}:") and "YAML syntax error" in message
    line = int(message[len(str(path)) + 1:].split(":")[0])
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
    assert f"{path}:1: missing field 'title' (a non-empty string)" in found
    assert f"{path}:2: missing field 'questions' (a non-empty list)" in found


def test_overlong_option_is_reported(tmp_path):
    body = GOOD_QUESTION.format(id="q1").replace('"Five"', '"' + "very " * 30 + 'long"')
    found = messages(validate([write(tmp_path, "long", body)]))
    assert any("option 2 is longer than 120 characters" in m for m in found), found


def test_validate_command_reports_problems_and_fails(tmp_path):
    body, expected = MALFORMED["no_correct_option"]
    path = write(tmp_path, "bad", body)
    result = cli("validate", str(path))
    assert result.returncode == 1
    assert f"{path}:7: {expected}" in result.stdout  # line 7: the options
    assert "1 problem(s) found" in result.stderr


def test_validate_reports_a_path_that_does_not_exist(tmp_path):
    found = messages(validate([tmp_path / "missing.yaml"]))
    assert len(found) == 1 and "missing.yaml" in found[0]


# --- one display order, derived from the id ---------------------------------------------

def test_display_order_is_a_fixed_permutation_of_the_id():
    flags = [True, False, False, False]
    order = display_order("layer-init", flags)
    assert sorted(order) == [0, 1, 2, 3]
    assert display_order("layer-init", flags) == order
    orders = {display_order(f"q{i}", flags) for i in range(40)}
    assert len(orders) > 10  # different ids, different orders (not the identity everywhere)


def test_display_order_is_the_same_in_another_process_and_hash_seed():
    code = ("from lora_tutorial.quiz import load_quiz\n"
            "print([o.text for q in load_quiz('final').questions for o in q.options])")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**__import__("os").environ, "PYTHONHASHSEED": seed},
                           check=True).stdout for seed in ("0", "12345")}
    assert len(runs) == 1
    here = str([o.text for q in load_quiz("final").questions for o in q.options])
    assert runs == {here + "\n"}


def test_loaded_options_follow_the_display_order_not_the_file(tmp_path):
    body = GOOD_QUESTION.format(id="order-me").replace(
        '      - text: "Five"', '      - text: "Three"\n        correct: false\n'
        '        feedback: One too few.\n      - text: "Five"')
    path = write(tmp_path, "order", body)
    (question,) = load_quiz(path).questions
    authored = ["Four", "Three", "Five"]
    order = display_order("order-me", [True, False, False])
    assert [o.text for o in question.options] == [authored[i] for i in order]


def test_multiple_answer_questions_never_show_the_correct_options_first():
    for correct in ([True, True, False, False], [True, True, True, False], [True, False]):
        for i in range(200):
            order = display_order(f"m{i}", correct, multiple=True)
            k = sum(correct)
            assert {order[j] for j in range(k)} != {j for j, c in enumerate(correct) if c}


def all_questions():
    return [q for name in available_quizzes() for q in load_quiz(name).questions]


def test_bank_balances_positions_and_lengths():
    singles = [q for q in all_questions() if q.type == "single"]
    positions = Counter(min(q.correct_indices) for q in singles)
    assert max(positions.values()) <= MAX_POSITION_SHARE * len(singles), positions
    longest = [q.id for q in singles
               if len(q.options[min(q.correct_indices)].text)
               > max(len(o.text) for o in q.options if not o.correct)]
    assert len(longest) <= MAX_LONGEST_SHARE * len(singles), longest
    top_two = [q.id for q in singles
               if sorted((len(o.text) for o in q.options), reverse=True)[1]
               <= len(q.options[min(q.correct_indices)].text)]
    assert len(top_two) <= MAX_TOP_TWO_SHARE * len(singles), top_two
    for question in all_questions():
        if question.type == "multiple":
            k = len(question.correct_indices)
            assert question.correct_indices != frozenset(range(k)), question.id


def test_final_quiz_asks_mostly_for_transfer():
    questions = load_quiz("final").questions
    assert sum(q.transfer for q in questions) >= len(questions) / 2


def test_bank_claims_match_the_course_corrections():
    text = {q.id: " ".join([q.question, q.explanation] + [o.text + " " + o.feedback
                                                          for o in q.options])
            for q in all_questions()}
    (init,) = load_quiz("03_lora_layer", ids=["layer-init"]).questions
    swapped = next(o for o in init.options if o.correct)
    assert "still learns" in swapped.text and "Hayou" in init.explanation
    assert "80 GB accelerator holds" not in text["ft-memory-7b"] or "141 GB" in text["ft-memory-7b"]
    assert "enable_lora=[True, False, True]" in text["count-fused-c-attn"]
    # Its figures come from results/step_time.json; tests/test_quoted_figures.py checks them.
    assert "recorded benchmark" in text["final-why-faster"]
    summary = next(o for o in load_quiz("final", ids=["final-summary"]).questions[0].options
                   if o.correct)
    assert "wide layers" in summary.text
    assert all("break" not in o.text.lower() or not o.correct for q in all_questions()
               for o in q.options)


# --- the lint -----------------------------------------------------------------------------

def single(qid, right, wrongs, question=None):
    lines = [f"  - id: {qid}", "    type: single", f"    question: {question or qid} asks what?",
             "    hint: Think.", "    options:",
             f'      - {{text: "{right}", correct: true, feedback: Yes.}}']
    lines += [f'      - {{text: "{w}", correct: false, feedback: No.}}' for w in wrongs]
    return "\n".join(lines + ["    explanation: Because.", ""])


def test_lint_reports_a_length_give_away_with_line(tmp_path):
    path = write(tmp_path, "long", single("give", "the long and detailed right answer", ["no", "nope"]))
    found = messages(validate([path]))
    assert any(m.startswith(f"{path}:3: question 'give': length give-away") for m in found), found


def test_lint_reports_multiple_answer_length_give_away(tmp_path):
    body = """\
      - id: multi
        type: multiple
        question: Which?
        hint: Think.
        options:
          - {text: "A long and correct statement", correct: true, feedback: Yes.}
          - {text: "Another long correct statement", correct: true, feedback: Yes.}
          - {text: "Short", correct: false, feedback: No.}
          - {text: "Tiny", correct: false, feedback: No.}
        explanation: Because.
    """
    found = messages(validate([write(tmp_path, "multi", body)]))
    assert any("every correct option is longer than every wrong one" in m for m in found), found


def ids_shown_at(position, n):
    """n ids whose correct option (authored first of four) is shown at ``position``."""
    found = (f"p{i}" for i in range(10_000)
             if display_order(f"p{i}", [True, False, False, False])[position] == 0)
    return [next(found) for _ in range(n)]


def test_lint_reports_position_imbalance_and_warns_of_the_longest_share(tmp_path):
    body = "".join(single(qid, f"Right {qid} long answer", ["W1 x", "W2 y", "W3 z"],
                          question=f"Distinct question number {i} {'x' * i}")
                   for i, qid in enumerate(ids_shown_at(0, 20)))
    path = write(tmp_path, "skewed", body)
    found = messages(validate([path]))
    assert any("position balance: 20 of 20" in m and "shown at A" in m for m in found), found
    assert not any("strictly the longest" in m for m in found), found  # a warning, not a problem
    assert any("strictly the longest in 20 of 20" in w
               for w in bank_length_figures([path]).warnings())
    (quiz,) = [load_quiz(path)]
    assert lint([quiz]) and not lint([load_quiz("02_low_rank")])


def test_lint_reports_near_duplicates(tmp_path):
    first = single("dup-a", "Yes it is", ["No", "Maybe"],
                   question="Does LoRA freeze the pretrained weight matrix")
    second = single("dup-b", "Yes it is", ["No", "Perhaps"],
                    question="Does LoRA freeze the pretrained weight matrix W0")
    path = write(tmp_path, "dups", first + second)
    found = messages(validate([path]))
    assert any(m.startswith(f"{path}:") and "question 'dup-b': near-duplicate of question "
               "'dup-a'" in m for m in found), found


# --- types, lines and duplicate keys -------------------------------------------------------

def test_duplicate_yaml_key_is_reported_with_both_lines(tmp_path):
    body = GOOD_QUESTION.format(id="dup").replace(
        "        correct: false\n", "        correct: false\n        correct: true\n")
    path = write(tmp_path, "dupkey", body)
    found = messages(validate([path]))
    assert any(m.startswith(f"{path}:13: question 'dup': option 2: key 'correct' appears twice "
                            "(first at line 12)") for m in found), found
    with pytest.raises(QuizError):
        load_quiz(path)


def test_yaml_scalars_that_are_not_text_are_explained(tmp_path):
    body = GOOD_QUESTION.format(id="q1").replace('"Five"', "no").replace(
        "hint: Count on your fingers.", "hint: 42")
    found = messages(validate([write(tmp_path, "scalars", body)]))
    assert any(":11: question 'q1': option 2's text must be text, but YAML read it as the "
               "boolean false" in m for m in found), found
    assert any(":6: question 'q1': field 'hint' must be text, but YAML read it as the number 42"
               in m for m in found), found


def test_a_list_as_type_is_reported_everywhere_without_a_crash(tmp_path):
    path = write(tmp_path, "listtype", GOOD_QUESTION.format(id="q1").replace(
        "type: single", "type: [single]"))
    found = messages(validate([path]))
    assert any(":4: question 'q1': field 'type' must be one word" in m for m in found), found
    for command in (["validate", str(path)], ["run", str(path)],
                    ["export", "--format", "markdown", str(path)]):
        result = cli(*command, input="")
        assert result.returncode == 1 and "Traceback" not in result.stderr, command
        assert "field 'type' must be one word" in result.stdout + result.stderr
    with pytest.raises(QuizError, match="must be one word"):
        load_quiz(path)


def test_multi_line_option_text_is_reported(tmp_path):
    body = GOOD_QUESTION.format(id="q1").replace('"Five"', '"Five\\nand more"')
    found = messages(validate([write(tmp_path, "lines", body)]))
    assert any(":11: question 'q1': option 2 spans several lines" in m for m in found), found


# --- where quizzes come from ----------------------------------------------------------

def test_any_number_of_numbered_quizzes_load_in_order(monkeypatch, tmp_path):
    for name in ("final", "10_more", "08_language_model", "01_first", "09_beyond_lora"):
        write(tmp_path, name, GOOD_QUESTION.format(id=f"id-{name}"))
    monkeypatch.setenv(QUIZ_DIR_ENV, str(tmp_path))
    assert available_quizzes() == ["01_first", "08_language_model", "09_beyond_lora", "10_more",
                                   "final"]
    assert load_quiz("09_beyond_lora").questions[0].id == "id-09_beyond_lora"
    assert validate() == [] or all("near-duplicate" in str(p) for p in validate())


def test_only_quiz_files_are_read(tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    with pytest.raises(QuizError, match="not a quiz"):
        load_quiz(secret)
    result = cli("run", str(secret), input="")
    assert result.returncode == 1 and "root:x" not in result.stdout + result.stderr
    assert "not a quiz" in result.stderr


def test_the_bank_ships_as_package_data():
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).parents[1]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"]
    assert setuptools["package-dir"]["lora_tutorial.quizzes"] == "quizzes"
    assert "lora_tutorial.quizzes" in setuptools["packages"]
    assert setuptools["package-data"]["lora_tutorial.quizzes"] == ["*.yaml"]
    assert BANK_DIR == root / "quizzes"
    assert sorted(p.name for p in BANK_DIR.glob("*.yaml")) == [f"{n}.yaml"
                                                                for n in available_quizzes()]
