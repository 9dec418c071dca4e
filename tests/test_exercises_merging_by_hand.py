"""Notebook 6's checker for merging a LoRA layer into a plain nn.Linear and back."""

import pytest
import torch
from torch import nn

from lora_tutorial.course.exercises import CORRECT, NOT_ATTEMPTED, ExerciseError
from lora_tutorial.course.exercises.merging_by_hand import check_merge_by_hand


def merge_to_linear(layer, scale=None, copy_bias=True):
    base = layer.base_layer
    merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None)
    scaling = layer.alpha / layer.r if scale is None else scale
    with torch.no_grad():
        merged.weight.copy_(base.weight + scaling * (layer.lora_B.weight @ layer.lora_A.weight))
        if base.bias is not None and copy_bias:
            merged.bias.copy_(base.bias)
    return merged


def unmerge_linear(merged, A, B, alpha, r):
    restored = nn.Linear(merged.in_features, merged.out_features, bias=merged.bias is not None)
    with torch.no_grad():
        restored.weight.copy_(merged.weight - (alpha / r) * (B @ A))
        if merged.bias is not None:
            restored.bias.copy_(merged.bias)
    return restored


def test_solution_is_correct(capsys):
    assert bool(check_merge_by_hand(merge_to_linear, unmerge_linear)) is True
    assert capsys.readouterr().out.startswith(CORRECT)


def test_stubs_are_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError
    assert bool(check_merge_by_hand(stub, unmerge_linear)) is False
    assert bool(check_merge_by_hand(merge_to_linear, stub)) is False
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


@pytest.mark.parametrize("scale, message", [(1.0, "forgot the scaling"),
                                            (12.0, "did not divide by r"),
                                            (0.25, "upside down")])
def test_wrong_scaling_is_named(scale, message):
    with pytest.raises(ExerciseError, match=message):
        check_merge_by_hand(lambda layer: merge_to_linear(layer, scale=scale), unmerge_linear)


def test_factors_in_the_wrong_order_get_the_shape_hint():
    def wrong_order(layer):
        return layer.base_layer.weight + layer.lora_A.weight @ layer.lora_B.weight
    with pytest.raises(ExerciseError, match="B @ A is d×k"):
        check_merge_by_hand(wrong_order, unmerge_linear)


def test_returning_the_lora_layer_or_sharing_its_weight_fails():
    with pytest.raises(ExerciseError, match="not a plain nn.Linear"):
        check_merge_by_hand(lambda layer: layer, unmerge_linear)

    def in_place(layer):
        with torch.no_grad():
            layer.base_layer.weight += layer.delta_weight()
        return layer.base_layer
    with pytest.raises(ExerciseError, match="changed the LoRA layer"):
        check_merge_by_hand(in_place, unmerge_linear)


def test_missing_bias_fails():
    with pytest.raises(ExerciseError, match="bias"):
        check_merge_by_hand(lambda layer: merge_to_linear(layer, copy_bias=False),
                            unmerge_linear)


def test_wrong_unmerge_is_named():
    def adds_again(merged, A, B, alpha, r):
        return unmerge_linear(merged, A, B, -alpha, r)
    with pytest.raises(ExerciseError, match="added the update a second time"):
        check_merge_by_hand(merge_to_linear, adds_again)

    def in_place(merged, A, B, alpha, r):
        with torch.no_grad():
            merged.weight -= (alpha / r) * (B @ A)
        return merged
    with pytest.raises(ExerciseError, match="changed the merged layer"):
        check_merge_by_hand(merge_to_linear, in_place)
