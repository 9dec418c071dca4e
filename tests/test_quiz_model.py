"""The bank's model: ``Question.check`` grades exactly, and an answer of the wrong kind gets a
message saying what the question expects, never a bare TypeError or a decimal exception."""

from decimal import Decimal

import pytest

from lora_tutorial.quiz import QuizError, load_quiz


def question(qid):
    (found,) = load_quiz("final", ids=[qid]).questions
    return found


@pytest.fixture
def numeric():
    return next(q for q in load_quiz("final").questions if q.type == "numeric")


@pytest.fixture
def multiple():
    return next(q for q in load_quiz("final").questions if q.type == "multiple")


@pytest.fixture
def single():
    return next(q for q in load_quiz("final").questions if q.type == "single")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), Decimal("NaN"), Decimal("-Infinity"),
                                 "8192", True, None, {8192}])
def test_a_numeric_question_asks_for_a_finite_number(numeric, bad):
    with pytest.raises(QuizError, match=f"question '{numeric.id}' expects a finite number"):
        numeric.check(bad)


def test_a_numeric_question_still_grades_numbers_exactly(numeric):
    answer = Decimal(repr(numeric.answer))
    assert numeric.check(answer) and numeric.check(numeric.answer)
    assert numeric.check(int(numeric.answer)) == (numeric.answer == int(numeric.answer))
    assert not numeric.check(answer + 10 * Decimal(repr(numeric.tolerance)) + 1)


@pytest.mark.parametrize("bad", [1, 0.5, "A", b"\x00", None])
def test_a_multiple_answer_question_asks_for_a_collection_of_indices(multiple, bad):
    with pytest.raises(QuizError, match="multiple-answer question: give the collection of "
                                        r"chosen option indices, e.g. \{0, 2\}"):
        multiple.check(bad)


@pytest.mark.parametrize("bad", [{99}, {-1}, {"A"}, {True}, [0.0]])
def test_an_index_no_option_has_is_named(multiple, single, bad):
    for question in (multiple, single):
        last = len(question.options) - 1
        with pytest.raises(QuizError, match=f"has options 0 to {last}"):
            question.check(bad)


def test_a_single_answer_question_names_what_it_expects(single):
    with pytest.raises(QuizError, match=r"single-answer question: give one option index in a "
                                        r"collection, e.g. \{1\}"):
        single.check(2)
    right = set(single.correct_indices)
    assert single.check(right) and single.check(list(right)) and not single.check(set())
