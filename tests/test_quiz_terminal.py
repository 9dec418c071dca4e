"""The terminal runner with scripted input: all right, all wrong, hints, bad input (never a
traceback), end of input; options lettered in the bank's one display order."""

import io
import json
import random
import re
import subprocess
import sys

import pytest

from lora_tutorial.quiz import load_quiz, run_quiz
from lora_tutorial.quiz.model import option_letter

IDS = ["count-formula", "count-square-fraction", "count-1024"]  # single, multiple, numeric


def cli(*args, **kwargs):
    """Run ``python -m lora_tutorial.quiz ARGS`` and capture its output."""
    return subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", *args],
                          capture_output=True, text=True, **kwargs)


@pytest.fixture(autouse=True)
def _private_progress(private_progress):
    """Every test here records answers into its own file (see tests/conftest.py)."""


@pytest.fixture
def quiz():
    return load_quiz("04_counting_parameters", ids=IDS)


def right_reply(question):
    if question.type == "numeric":
        return f"{question.answer:.0f}"
    return ",".join(str(i + 1) for i in sorted(question.correct_indices))


def wrong_reply(question):
    if question.type == "numeric":
        return str(question.answer + 1000)
    return str(next(i for i, o in enumerate(question.options) if not o.correct) + 1)


def run(quiz, lines, **kwargs):
    out = io.StringIO()
    stdin = io.StringIO("".join(line + "\n" for line in lines))
    score = run_quiz(quiz, stdin=stdin, stdout=out, **kwargs)
    return score, out.getvalue()


def test_all_right(quiz):
    score, text = run(quiz, [right_reply(q) for q in quiz.questions])
    assert (score.asked, score.correct, score.stopped_early) == (3, 3, False)
    assert text.count("Result: right.") == 3 and "not quite" not in text
    assert text.rstrip().endswith("Score: 3/3 correct.")
    for question in quiz.questions:
        assert question.question.strip() in text
        assert f"Explanation: {question.explanation.strip()}" in text
    for index in quiz.questions[0].correct_indices:
        assert quiz.questions[0].options[index].feedback.strip() in text


def test_all_wrong_shows_feedback_and_the_right_answer(quiz):
    score, text = run(quiz, [wrong_reply(q) for q in quiz.questions])
    assert (score.asked, score.correct) == (3, 0)
    assert text.count("Result: not quite") == 3
    single, multiple, numeric = quiz.questions
    chosen = single.options[int(wrong_reply(single)) - 1]
    assert f"wrong: {chosen.feedback.strip()}" in text
    (right,) = single.correct_indices
    assert f"Answer: {option_letter(right)}. {single.options[right].text}" in text
    assert "Result: not quite, 9,192 is too high." in text
    assert "Answer: 8,192 (± 0)" in text
    assert text.rstrip().endswith("Score: 0/3 correct.")


def test_hint_is_shown_on_h_and_counted(quiz):
    first = quiz.questions[0]
    replies = ["h", right_reply(first)] + [right_reply(q) for q in quiz.questions[1:]]
    score, text = run(quiz, replies)
    assert f"Hint: {first.hint.strip()}" in text
    assert score.hints == 1 and score.correct == 3
    assert "Score: 3/3 correct, 1 hint used." in text


def test_malformed_replies_are_asked_again(quiz):
    single = quiz.questions[0]
    n = len(single.options)
    score, text = run(quiz, ["", "x", str(n + 1), "1,2", right_reply(single)]
                      + [right_reply(q) for q in quiz.questions[1:]])
    assert text.count("Please answer as asked above") == 4
    assert score.correct == 3


def test_end_of_input_stops_cleanly_with_the_score_so_far(quiz):
    score, text = run(quiz, [right_reply(quiz.questions[0])])
    assert (score.asked, score.correct, score.stopped_early) == (1, 1, True)
    assert "End of input: stopping here." in text
    assert text.rstrip().endswith(
        "Score: 1/1 correct (stopped early; 2 of 3 questions not answered).")


def test_empty_input_ends_at_once(quiz):
    score, text = run(quiz, [])
    assert (score.asked, score.correct) == (0, 0)
    assert "Score: 0/0 correct (stopped early; 3 of 3 questions not answered)." in text


def test_seed_shuffles_options_reproducibly(quiz):
    single = quiz.questions[0]
    order = list(range(len(single.options)))
    seed = next(s for s in range(100) if _first_order(s, len(order)) != order)
    shuffled = _first_order(seed, len(order))
    (right,) = single.correct_indices
    reply = str(shuffled.index(right) + 1)
    score, text = run(quiz, [reply], seed=seed)
    assert score.correct == 1
    option_lines = [line for line in text.splitlines() if line.startswith("  ") and ") " in line]
    listed = [line.split(") ", 1)[1] for line in option_lines[:len(order)]]
    assert listed == [single.options[i].text for i in shuffled]
    assert run(quiz, [reply], seed=seed)[1] == text


def _first_order(seed, n):
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def test_display_order_and_letters_without_seed(quiz):
    _, text = run(quiz, [])
    for number, option in enumerate(quiz.questions[0].options):
        assert f"  {option_letter(number)}) {option.text}" in text


def test_letters_and_numbers_are_both_accepted(quiz):
    single, multiple, numeric = quiz.questions
    (right,) = single.correct_indices
    letters = ",".join(option_letter(i).lower() for i in sorted(multiple.correct_indices))
    score, _ = run(quiz, [option_letter(right), letters, "8192"])
    assert score.correct == 3
    score, _ = run(quiz, [str(right + 1), right_reply(multiple), "8 192"])
    assert score.correct == 3


NASTY = ["²", "1e99999", "\x00", "💥", "٣", "%s%n", "\u202e1", "NaN", "inf", "--", "1,5",
         "h\x1b[2J"]
NOT_AN_OPTION = ["9" * 5000, "-1", "0", "1" * 20, "A1"]  # numbers, but not option numbers


def test_nothing_typed_ever_raises(quiz):
    for question in quiz.questions:
        lines = NASTY + (NOT_AN_OPTION if question.options else []) + [right_reply(question)]
        one = type(quiz)(quiz.name, quiz.title, quiz.path, (question,))
        score, text = run(one, lines)
        assert score.correct == 1 and "Traceback" not in text, question.id
    _, text = run(type(quiz)(quiz.name, quiz.title, quiz.path, (quiz.questions[2],)), ["1,5"])
    assert "a comma separates thousands" in text


def test_bytes_that_are_not_utf8_give_no_traceback():
    result = subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", "run", "final"],
                            input=b"\xff\xfe\x80\n\xc3\n", capture_output=True)
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr
    assert b"Please answer as asked above" in result.stdout


def test_answers_are_recorded(quiz, private_progress):
    run(quiz, [wrong_reply(quiz.questions[0]), right_reply(quiz.questions[1])])
    data = json.loads(private_progress.read_text())
    recorded = data["quizzes"]["04_counting_parameters"]["questions"]
    assert recorded["count-formula"]["first_try_correct"] is False
    assert recorded["count-square-fraction"]["first_try_correct"] is True
    assert "count-1024" not in recorded


def test_run_command_ends_cleanly_at_end_of_input():
    result = cli("run", "02_low_rank", "--seed", "3", input="h\n4\n")
    assert result.returncode == 0, result.stderr
    assert "Hint:" in result.stdout
    expected = (r"Score: [01]/1 correct \(stopped early; 8 of 9 questions not answered\), "
                r"1 hint used\.")
    assert re.search(expected, result.stdout)


def test_run_command_reports_an_unknown_quiz():
    result = cli("run", "nope")
    assert result.returncode == 1
    assert "No quiz named 'nope'" in result.stderr and "02_low_rank" in result.stderr
