"""Exports, checked structurally: handout (no answers), answer key (everything), Moodle GIFT."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lora_tutorial.quiz import (
    Option, Question, Quiz, available_quizzes, load_quiz, to_gift, to_key, to_markdown,
)
from lora_tutorial.quiz.export import gift_escape


def cli(*args, **kwargs):
    """Run ``python -m lora_tutorial.quiz ARGS`` and capture its output."""
    return subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", *args],
                          capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def bank():
    return [load_quiz(name) for name in available_quizzes()]


def all_questions(quizzes):
    return [q for quiz in quizzes for q in quiz.questions]


def test_handout_has_questions_and_options_but_no_answers(bank):
    text = to_markdown(bank)
    questions = all_questions(bank)
    for question in questions:
        assert question.question.strip() in text
        assert question.explanation.strip() not in text
        assert question.hint.strip() not in text
        for option in question.options:
            assert f"- [ ] {option.text}" in text
            assert option.feedback.strip() not in text
    assert "[x]" not in text
    assert text.count("- [ ] ") == sum(len(q.options) for q in questions)
    assert text.count("Your answer: ") == sum(q.type == "numeric" for q in questions)
    titles = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    assert titles == [quiz.title for quiz in bank]


def test_answer_key_has_answers_feedback_hints_and_explanations(bank):
    text = to_key(bank)
    questions = all_questions(bank)
    for question in questions:
        assert f"(`{question.id}`, {question.type})" in text
        assert f"**Explanation:** {question.explanation.strip()}" in text
        assert f"**Hint:** {question.hint.strip()}" in text
        for option in question.options:
            assert option.feedback.strip() in text
    assert text.count("- [x] ") == sum(len(q.correct_indices) for q in questions)
    assert text.count("- [ ] ") == sum(len(q.options) - len(q.correct_indices) for q in questions)
    assert "**Answer:** 37,748,736 (± 0)" in text


def test_gift_escape_handles_every_special_character():
    assert gift_escape("a~b=c#d{e}f:g") == r"a\~b\=c\#d\{e\}f\:g"
    assert gift_escape("back\\slash") == "back\\\\slash"
    assert gift_escape("two\nlines") == "two\\nlines"
    assert gift_escape("  padded  ") == "padded"


def _strip_escapes(text):
    return re.sub(r"\\.", "", text)


def gift_blocks(text):
    return [block for block in text.split("\n\n") if block.startswith("::")]


def test_gift_has_one_well_formed_block_per_question(bank):
    text = to_gift(bank)
    questions = all_questions(bank)
    blocks = gift_blocks(text)
    assert len(blocks) == len(questions)
    assert text.count("$CATEGORY: lora_tutorial/") == len(bank)
    for question, block in zip(questions, blocks):
        bare = _strip_escapes(block)
        assert block.startswith(f"::{question.id}::[markdown]")
        assert bare.count("{") == 1 and bare.count("}") == 1 and bare.rstrip().endswith("}")
        assert bare.count("####") == 1
        answers = bare[bare.index("{") + 1:bare.index("####")]
        if question.type == "numeric":
            answer, tolerance = re.fullmatch(r"#([\d.]+):([\d.]+)", answers.strip()).groups()
            assert (float(answer), float(tolerance)) == (question.answer, question.tolerance)
        elif question.type == "single":
            assert answers.count("=") == 1 and answers.count("~") == len(question.options) - 1
        else:
            weights = [float(w) for w in re.findall(r"~%(-?[\d.]+)%", answers)]
            assert len(weights) == len(question.options)
            assert sum(w for w in weights if w > 0) == pytest.approx(100, abs=0.001)
            if len(question.correct_indices) < len(question.options):
                assert sum(w for w in weights if w < 0) == pytest.approx(-100, abs=0.001)


def test_gift_escapes_specials_in_every_field():
    tricky = "a: {b} = ~c #d"
    quiz = Quiz("t", "T", Path("t.yaml"), (
        Question("q-1", "single", tricky, tricky, tricky,
                 (Option(tricky, True, tricky), Option("plain", False, "no"))),
        Question("q-2", "multiple", "Which?", "h", "e",
                 (Option("x", True, "y"), Option("y", True, "y"), Option("z", True, "y"),
                  Option("w", False, "n"))),
        Question("q-3", "numeric", "How many?", "h", "e", answer=2.236, tolerance=0.01),
    ))
    text = to_gift([quiz])
    escaped = r"a\: \{b\} \= \~c \#d"
    assert f"::q-1::[markdown]{escaped} {{" in text
    assert f"\t={escaped}#{escaped}" in text
    assert f"####{escaped}" in text
    assert "\t~%33.33333%x#y" in text and "\t~%-100%w#n" in text
    assert "{#2.236:0.01" in text
    assert tricky not in text


def test_export_command_writes_a_file(tmp_path):
    out = tmp_path / "final.gift"
    result = cli("export", "--format", "gift", "final", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert len(gift_blocks(out.read_text(encoding="utf-8"))) == len(load_quiz("final").questions)


def test_export_command_defaults_to_the_whole_bank():
    result = cli("export", "--format", "markdown")
    assert result.returncode == 0, result.stderr
    titles = [line[2:] for line in result.stdout.splitlines() if line.startswith("# ")]
    assert titles == [load_quiz(name).title for name in available_quizzes()]
