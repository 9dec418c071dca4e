"""The loader takes any file and answers with a quiz or with problems (QuizError), never with
a traceback or a hang: deep nesting, aliases, values Python cannot hold, pipes, random text."""

import os
import subprocess
import sys
import textwrap

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lora_tutorial.quiz import QuizError, load_quiz, to_gift, to_key, to_markdown, to_qti, validate
from lora_tutorial.quiz.loader import is_bank_name, load_bank_quiz

FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", *args],
                          capture_output=True, text=True, timeout=120, **kwargs)


def load_or_refuse(path):
    """The loader's whole contract: a Quiz, or QuizError; validate: a list of problems."""
    problems = validate([path])
    try:
        quiz = load_quiz(path)
    except QuizError:
        assert problems, "load_quiz refused a file that validate passed"
        return None
    for export in (to_markdown, to_key, to_gift, to_qti):
        export([quiz])
    return quiz


def test_deeply_nested_yaml_is_a_problem_not_a_recursion_error(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("title: t\nquestions: " + "[" * 5000 + "]" * 5000 + "\n")
    (problem,) = validate([path])
    assert "nested too deeply" in str(problem)
    with pytest.raises(QuizError, match="nested too deeply"):
        load_quiz(path)
    result = cli("validate", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    assert "nested too deeply" in result.stdout


@pytest.mark.parametrize("value, message", [
    ("2020-02-30", "a value cannot be read"),            # a date that does not exist
    ("1" + "0" * 5000, "a value cannot be read"),         # more digits than int() reads
])
def test_a_value_python_cannot_hold_is_a_problem(tmp_path, value, message):
    path = tmp_path / "value.yaml"
    path.write_text(f"title: t\nquestions:\n  - answer: {value}\n")
    assert any(message in str(p) for p in validate([path]))


@pytest.mark.parametrize("answer", ["1" + "0" * 400, ".nan", "-.inf"])
def test_a_numeric_answer_a_float_cannot_hold_is_refused(tmp_path, answer):
    path = tmp_path / "huge.yaml"
    path.write_text(textwrap.dedent(f"""\
        title: t
        questions:
          - id: q1
            type: numeric
            question: How many?
            hint: h
            explanation: e
            answer: {answer}
            tolerance: 0
        """))
    assert any("field 'answer' must be a number" in str(p) for p in validate([path]))


def test_a_self_referencing_alias_is_a_problem(tmp_path):
    path = tmp_path / "alias.yaml"
    path.write_text("title: &t [*t]\nquestions: &q [*q]\n")
    assert load_or_refuse(path) is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_named_like_a_quiz_is_skipped_not_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")
    result = cli("validate", str(tmp_path))  # reading the pipe would wait forever
    assert result.returncode == 1 and "not a regular file" in result.stdout


def test_names_from_outside_are_bank_names_or_refused(tmp_path):
    assert is_bank_name("02_low_rank") and is_bank_name("final")
    secret = tmp_path / "secret.yaml"
    secret.write_text("title: secret\nquestions: []\n")
    for name in (str(secret), "../quizzes/final", "..", "final.yaml", "a/b", "", None, 3):
        assert not is_bank_name(name)
        with pytest.raises(QuizError, match="is not the name of a quiz in the bank"):
            load_bank_quiz(name)
    assert load_bank_quiz("final").name == "final"


# --- random and adversarial input ----------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["", " ", "\x1b[2J", "a\x00b", "$\\frac{$", "[x](javascript:alert(1))", "<script>",
     "\ud800", "1,5"])
SCALAR = TEXT | st.integers() | st.floats() | st.booleans() | st.none()
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(TEXT, inner, max_size=4), max_leaves=20)
OPTION = st.fixed_dictionaries({"text": TEXT | VALUE, "correct": st.booleans() | VALUE,
                                "feedback": TEXT | VALUE}, optional={"extra": VALUE})
QUESTION = st.fixed_dictionaries(
    {"id": TEXT | st.sampled_from(["q1", "q2"]),
     "type": st.sampled_from(["single", "multiple", "numeric", "essay"]) | VALUE,
     "question": TEXT | VALUE, "hint": TEXT, "explanation": TEXT | VALUE},
    optional={"options": st.lists(OPTION, max_size=4) | VALUE,
              "answer": SCALAR, "tolerance": SCALAR, "transfer": VALUE})
QUIZ = st.fixed_dictionaries({"title": TEXT, "questions": st.lists(QUESTION, max_size=3)},
                             optional={"other": VALUE})


@FUZZ
@given(document=QUIZ | VALUE)
def test_any_yaml_document_loads_or_is_refused(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("fuzz") / "quiz.yaml"
    try:
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8",
                        errors="surrogateescape")
    except (yaml.YAMLError, UnicodeEncodeError):  # not writable as YAML: nothing to test
        return
    load_or_refuse(path)


@FUZZ
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_load_or_are_refused(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("fuzz") / "quiz.yaml"
    path.write_bytes(raw)
    load_or_refuse(path)
