"""Notebook 8's exercise checker: adapt the tiny GPT to code within a parameter budget."""

import pytest
import torch

from lora_tutorial.course.exercises import CORRECT, NOT_ATTEMPTED, ExerciseError
from lora_tutorial.course.exercises.language_model import BUDGET, TARGET, check_fewest_parameters
from lora_tutorial.core.inject import inject_lora, mark_only_lora_as_trainable


def lora(targets, r, alpha):
    def prepare_for_code(model):
        inject_lora(model, targets, r=r, alpha=alpha)
        mark_only_lora_as_trainable(model)
    return prepare_for_code


def test_mlp_output_adapter_within_budget_passes_and_leaves_global_rng_alone(capsys):
    state = torch.random.get_rng_state()
    assert bool(check_fewest_parameters(lora(["down_proj"], 4, 8))) is True
    out = capsys.readouterr().out
    assert f"{CORRECT}: 8,192 trainable parameters" in out and f"≤ {TARGET}" in out
    assert torch.equal(state, torch.random.get_rng_state())


def test_halving_the_rank_of_q_and_v_misses_the_target():
    with pytest.raises(ExerciseError, match=r"above the target"):
        check_fewest_parameters(lora(["q_proj", "v_proj"], 4, 8))


def test_over_budget_is_refused_before_training():
    with pytest.raises(ExerciseError, match=rf"16,384 parameters train, more than the budget of "
                                            rf"{BUDGET:,d}"):
        check_fewest_parameters(lora(["q_proj", "v_proj"], 8, 16))


def test_nothing_trainable_is_refused():
    def freeze_all(model):
        for p in model.parameters():
            p.requires_grad = False
    with pytest.raises(ExerciseError, match="Nothing is trainable"):
        check_fewest_parameters(freeze_all)


def test_overwriting_pretrained_weights_is_refused():
    def reset_head(model):
        torch.nn.init.zeros_(model.lm_head.weight)
        for name, p in model.named_parameters():
            p.requires_grad = name == "lm_head.weight"
    with pytest.raises(ExerciseError, match="changed pretrained weights.*lm_head.weight"):
        check_fewest_parameters(reset_head)


def test_learner_error_is_reported():
    with pytest.raises(ExerciseError, match="prepare_for_code\\(model\\) raised ValueError"):
        check_fewest_parameters(lora(["no_such_module"], 4, 8))


def test_stub_means_not_attempted(capsys):
    def prepare_for_code(model):
        raise NotImplementedError("write this")
    assert bool(check_fewest_parameters(prepare_for_code)) is False
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


def test_lora_without_freezing_the_rest_is_refused_with_the_missing_call():
    def forgets_to_freeze(model):
        inject_lora(model, ["down_proj"], r=4, alpha=8)

    with pytest.raises(ExerciseError, match="pretrained weights still train too .* Call "
                                            "mark_only_lora_as_trainable"):
        check_fewest_parameters(forgets_to_freeze)


def test_adapting_a_copy_is_refused():
    import copy

    def adapts_a_copy(model):
        model = copy.deepcopy(model)
        lora(["down_proj"], 4, 8)(model)
        return model

    with pytest.raises(ExerciseError, match="returned another model. The checker trains the "
                                            "model it gave you"):
        check_fewest_parameters(adapts_a_copy)
