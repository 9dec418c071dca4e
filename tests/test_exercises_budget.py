"""Notebook 5's decision exercise: LoRA targets and rank under a parameter budget."""

import pytest
import torch

from lora_tutorial.course.exercises import CORRECT, NOT_ATTEMPTED, ExerciseError
from lora_tutorial.course.exercises.budget import BUDGET, check_budget_choice

FIRST_BLOCK = r"blocks\.0\.attn\.(q|k|v|o)_proj"


def test_a_good_choice_within_budget_passes(capsys):
    state = torch.random.get_rng_state()
    assert bool(check_budget_choice(FIRST_BLOCK, 4)) is True
    assert capsys.readouterr().out.startswith(f"{CORRECT}: {BUDGET:,d} trainable parameters")
    assert torch.equal(torch.random.get_rng_state(), state)   # the notebook's RNG untouched


def test_placeholders_are_not_attempted(capsys):
    assert bool(check_budget_choice(..., 4)) is False
    assert bool(check_budget_choice(FIRST_BLOCK, ...)) is False
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


def test_over_budget_is_refused_before_training():
    with pytest.raises(ExerciseError, match="6,144 parameters .* over the budget"):
        check_budget_choice(["q_proj", "v_proj"], 8)


def test_within_budget_but_below_target_fails():
    with pytest.raises(ExerciseError, match="below the target"):
        check_budget_choice(r"blocks\.2\.attn\.(q|v)_proj", 8)


@pytest.mark.parametrize("targets, r, message", [(["q_proj"], 0, "positive whole number"),
                                                 (["q_proj"], 2.5, "positive whole number"),
                                                 (["nope"], 4, "refused your choice"),
                                                 ("q_proj", 4, "A string is read as a regular "
                                                               "expression"),
                                                 (["q_proj"], 4.0, "positive whole number")])
def test_invalid_choices_fail_with_a_reason(targets, r, message):
    with pytest.raises(ExerciseError, match=message):
        check_budget_choice(targets, r)
