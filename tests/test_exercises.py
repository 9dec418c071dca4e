"""The three outcomes every exercise checker shares: correct, wrong, not attempted."""

import pytest

from lora_tutorial.exercises import (CORRECT, NOT_ATTEMPTED, ExerciseError, call_learner,
                                     checker, require, require_attempted)


@checker("write double above")
def check_double(double) -> str:
    result = call_learner(double, 3, context="On 3, your function")
    require(result == 6, f"double(3) returned {result!r}, expected 6.")
    return "double(3) == 6."


def test_correct_prints_and_returns_true(capsys):
    assert check_double(lambda x: 2 * x) is True
    assert capsys.readouterr().out == f"{CORRECT}: double(3) == 6.\n"


def test_wrong_answer_raises_with_the_reason(capsys):
    with pytest.raises(ExerciseError, match=r"returned 9, expected 6"):
        check_double(lambda x: 3 * x)
    assert capsys.readouterr().out == ""


def test_learner_error_is_reported_with_its_context():
    def broken(x):
        raise KeyError("w")
    with pytest.raises(ExerciseError, match=r"On 3, your function raised KeyError"):
        check_double(broken)


def test_stub_means_not_attempted(capsys):
    def stub(x):
        raise NotImplementedError("Write this part, then run the checker.")
    assert check_double(stub) is False
    out = capsys.readouterr().out
    assert out.startswith(f"{NOT_ATTEMPTED}: write double above")


def test_placeholder_value_means_not_attempted(capsys):
    @checker("set rank above")
    def check_rank(rank) -> str:
        require_attempted(rank)
        require(rank == 8, "The rank is 8.")
        return "rank 8."
    assert check_rank(...) is False
    assert check_rank(8) is True
    with pytest.raises(ExerciseError):
        check_rank(4)


def test_require_is_not_an_assert():
    # python -O strips assert statements; require must fail in every mode.
    with pytest.raises(ExerciseError, match="because"):
        require(False, "because")
