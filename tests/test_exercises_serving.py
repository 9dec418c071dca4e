"""The checker of notebook 10's exercise (lora_tutorial.course.exercises.serving): correct, wrong
and not-attempted answers."""

import pytest
import torch

from lora_tutorial.course.exercises import CORRECT, NOT_ATTEMPTED, ExerciseError
from lora_tutorial.course.exercises.serving import check_gathered_forward


def right(x, lora_A, lora_B, scaling, adapter_ids):
    A, B = lora_A[adapter_ids], lora_B[adapter_ids]
    return torch.bmm(torch.bmm(x, A.transpose(1, 2)), B.transpose(1, 2)) \
        * scaling[adapter_ids].view(-1, 1, 1)


def first_adapter_for_all(x, lora_A, lora_B, scaling, adapter_ids):
    return right(x, lora_A, lora_B, scaling, torch.full_like(adapter_ids, int(adapter_ids[0])))


def no_scaling(x, lora_A, lora_B, scaling, adapter_ids):
    return right(x, lora_A, lora_B, torch.ones_like(scaling), adapter_ids)


def first_row_scaling(x, lora_A, lora_B, scaling, adapter_ids):
    return right(x, lora_A, lora_B, torch.ones_like(scaling), adapter_ids) * scaling[adapter_ids[0]]


def by_position(x, lora_A, lora_B, scaling, adapter_ids):
    return right(x, lora_A, lora_B, scaling, torch.arange(len(adapter_ids)) % len(lora_A))


def rows_shuffled(x, lora_A, lora_B, scaling, adapter_ids):
    return right(x, lora_A, lora_B, scaling, adapter_ids).flip(0)


def in_place(x, lora_A, lora_B, scaling, adapter_ids):
    scaling.mul_(1.0)
    x.mul_(2)
    return right(x, lora_A, lora_B, scaling, adapter_ids) / 2


def scaling_not_reshaped(x, lora_A, lora_B, scaling, adapter_ids):
    low = torch.bmm(x, lora_A[adapter_ids].transpose(1, 2))
    return torch.bmm(low, lora_B[adapter_ids].transpose(1, 2)) * scaling[adapter_ids]


def sorted_by_adapter(x, lora_A, lora_B, scaling, adapter_ids):
    order = adapter_ids.argsort()                    # grouped by adapter, never put back
    return right(x[order], lora_A, lora_B, scaling, adapter_ids[order])


def stub(x, lora_A, lora_B, scaling, adapter_ids):
    raise NotImplementedError("Write this part, then run the checker.")


def test_correct(capsys):
    assert check_gathered_forward(right)
    assert capsys.readouterr().out.startswith(CORRECT)


def test_not_attempted(capsys):
    assert not check_gathered_forward(stub)
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


@pytest.mark.parametrize("answer,message", [
    (first_adapter_for_all, "first row's adapter"),
    (no_scaling, "left out the scaling"),
    (first_row_scaling, "first row's scaling"),
    (by_position, "adapter b \\(mod N\\)"),
    (rows_shuffled, "rows differ"),
    (scaling_not_reshaped, "raised RuntimeError"),
    (sorted_by_adapter, "rows differ"),
    (in_place, "changed its inputs"),
    (lambda *args: torch.zeros(3), "Expected a tensor of shape"),
    (lambda *args: 1 / 0, "raised ZeroDivisionError"),
])
def test_wrong_answers_are_named(answer, message):
    with pytest.raises(ExerciseError, match=message):
        check_gathered_forward(answer)
