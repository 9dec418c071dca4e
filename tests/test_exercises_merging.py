"""The merge_weights checker of notebook 6 (lora_tutorial.course.exercises.merging)."""

import pytest
import torch

from lora_tutorial.course.exercises.merging import check_merge_weights


def merge_right(W0, A, B, alpha, r):
    return W0 + (alpha / r) * (B @ A)


def merge_in_place(W0, A, B, alpha, r):
    W0 += (alpha / r) * (B @ A)
    return W0


def merge_with_add_(W0, A, B, alpha, r):
    return W0.add_((alpha / r) * (B @ A))


def merge_into_a_detached_alias(W0, A, B, alpha, r):
    W = W0.detach()                      # shares W0's memory: += writes into W0
    W += (alpha / r) * (B @ A)
    return W


WRONG_MERGES = {
    "no scaling": (lambda W0, A, B, alpha, r: W0 + B @ A, "forgot the scaling"),
    "A times B": (lambda W0, A, B, alpha, r: W0 + (alpha / r) * (A @ B), "The update is B @ A"),
    "transposed": (lambda W0, A, B, alpha, r: (W0 + (alpha / r) * (B @ A)).T, "transpose"),
    "in place +=": (merge_in_place, "changed W0 in place"),
    "in place add_": (merge_with_add_, "changed W0 in place"),
    "inverted scaling": (lambda W0, A, B, alpha, r: W0 + (r / alpha) * (B @ A), "upside down"),
    "rsLoRA scaling": (lambda W0, A, B, alpha, r: W0 + alpha / r ** 0.5 * (B @ A), "alpha/√r"),
    "only the update": (lambda W0, A, B, alpha, r: (alpha / r) * (B @ A), "add W0"),
    "unmerge": (lambda W0, A, B, alpha, r: W0 - (alpha / r) * (B @ A), "that is unmerging"),
    "no return": (lambda W0, A, B, alpha, r: None, "forget the return"),
    "unchanged": (lambda W0, A, B, alpha, r: W0.clone(), "never added"),
    "fixed sizes": (lambda W0, A, B, alpha, r: W0 + 4 * (B @ A), "square 8×8 layer"),
    "integer division": (lambda W0, A, B, alpha, r: W0 + (alpha // r) * (B @ A),
                         "alpha // r is integer division"),
    "detached alias": (merge_into_a_detached_alias, "changed W0 in place"),
}


def test_merge_checker_accepts_a_correct_merge(capsys):
    check_merge_weights(merge_right)
    assert capsys.readouterr().out.startswith("✓ Correct")
    check_merge_weights(lambda W0, A, B, alpha, r: torch.addmm(W0, B, A, alpha=alpha / r),
                        verbose=False)


@pytest.mark.parametrize("mistake", sorted(WRONG_MERGES))
def test_merge_checker_names_each_mistake(mistake):
    fn, expected = WRONG_MERGES[mistake]
    with pytest.raises(AssertionError, match=expected):
        check_merge_weights(fn)


def test_merge_checker_explains_the_shape_error_of_A_times_B():
    with pytest.raises(AssertionError) as info:
        check_merge_weights(WRONG_MERGES["A times B"][0])
    message = str(info.value)
    assert "A is r×k" in message and "B is d×r" in message and "only fits when k = d" in message
