"""The low-rank checkers of notebook 2 (lora_tutorial.course.exercises.low_rank): three
outcomes each (correct, wrong with its reason, not attempted)."""

import re

import pytest
import torch

from lora_tutorial.course.exercises.low_rank import check_rank_for_energy, check_rank_r_factors
from lora_tutorial.core.lowrank import low_rank_approximation, rank_for_energy


def svd_r(m, r):
    u, s, vh = torch.linalg.svd(m, full_matrices=False)
    return u[:, :r], s[:r], vh[:r]


def factors_right(m, r):                      # the singular values inside B
    u, s, vh = svd_r(m, r)
    return u * s, vh


def factors_right_s_in_a(m, r):               # ... or inside A
    u, s, vh = svd_r(m, r)
    return u, s[:, None] * vh


def factors_right_sqrt(m, r):                 # ... or split between the two
    u, s, vh = svd_r(m, r)
    return u * s.sqrt(), s.sqrt()[:, None] * vh


def factors_full_matrices(m, r):              # full_matrices=True, sliced: also right
    u, s, vh = torch.linalg.svd(m)
    return u[:, :r] @ torch.diag(s[:r]), vh[:r]


def factors_without_s(m, r):                  # U_r and V_r without the singular values
    u, _, vh = svd_r(m, r)
    return u, vh


def factors_u_and_v(m, r):                    # U_r and V_r (k×r), transposed and without S
    u, _, vh = svd_r(m, r)
    return u, vh.T


def factors_a_transposed(m, r):               # A as k×r
    u, s, vh = svd_r(m, r)
    return u * s, vh.T


def factors_swapped(m, r):                    # (A, B) instead of (B, A)
    b, a = factors_right(m, r)
    return a, b


def factors_s_twice(m, r):
    u, s, vh = svd_r(m, r)
    return u * s, s[:, None] * vh


def factors_smallest(m, r):
    u, s, vh = torch.linalg.svd(m, full_matrices=False)
    return u[:, -r:] * s[-r:], vh[-r:]


def factors_random(m, r):                     # right shapes, not the SVD's
    g = torch.Generator().manual_seed(1)
    return torch.randn(m.shape[0], r, generator=g), torch.randn(r, m.shape[1], generator=g)


def factors_product(m, r):                    # the old exercise's answer: the d×k product
    return low_rank_approximation(m, r)


def factors_b_only(m, r):
    return factors_right(m, r)[0]


def factors_in_place(m, r):
    m[0, 0] += 1
    return factors_right(m, r)


@pytest.mark.parametrize("right", [factors_right, factors_right_s_in_a, factors_right_sqrt,
                                   factors_full_matrices])
def test_factors_checker_accepts_every_split_of_the_singular_values(right, capsys):
    assert check_rank_r_factors(right)
    assert capsys.readouterr().out.startswith("✓ Correct: B (d×r) @ A (r×k) is the best")


def test_factors_checker_reports_the_stub_as_not_attempted(capsys):
    def stub(m, r):
        raise NotImplementedError("Write this part, then run the checker.")

    assert not check_rank_r_factors(stub)
    assert capsys.readouterr().out.startswith("○ Not attempted yet: write rank_r_factors above")


@pytest.mark.parametrize("wrong, message", [
    (factors_without_s, "without the singular values"),
    (factors_u_and_v, "one of them is transposed"),
    (factors_a_transposed, "you returned B of shape (12, 1) and A of shape (7, 1), but B must "
                           "be 12×1 (d×r) and A 1×7 (r×k), as in LoRA: one of them is transposed"),
    (factors_swapped, "the two are swapped. Return B first"),
    (factors_s_twice, "went into both factors"),
    (factors_smallest, "*smallest* singular values"),
    (factors_random, "relative error"),
    (factors_product, "you returned one 12×7 matrix. Return its two factors"),
    (factors_b_only, "Return a pair of tensors (return B, A); you returned Tensor."),
    (factors_in_place, "changed its input matrix in place"),
    (lambda m, r: tuple(t.numpy() for t in factors_right(m, r)), "must be torch tensors"),
])
def test_factors_checker_explains_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_rank_r_factors(wrong)


def energy_right(m, energy):
    s2 = torch.linalg.svdvals(m) ** 2
    return int((torch.cumsum(s2, 0) / s2.sum() < energy).sum()) + 1


def energy_off_by_one(m, energy):
    return energy_right(m, energy) - 1


def energy_one_too_many(m, energy):
    return energy_right(m, energy) + 1


def energy_unsquared(m, energy):
    s = torch.linalg.svdvals(m)
    return int((torch.cumsum(s, 0) / s.sum() < energy).sum()) + 1


def energy_passes_instead_of_reaches(m, energy):
    s2 = torch.linalg.svdvals(m) ** 2
    return int((torch.cumsum(s2, 0) / s2.sum() <= energy).sum()) + 1   # > instead of ≥


def energy_not_normalised(m, energy):
    s2 = torch.linalg.svdvals(m) ** 2
    return int((torch.cumsum(s2, 0) < energy).sum()) + 1                # forgot / s2.sum()


def test_energy_checker_accepts_a_right_answer(capsys):
    check_rank_for_energy(energy_right)
    check_rank_for_energy(rank_for_energy)
    assert capsys.readouterr().out.count("Correct:") == 2


@pytest.mark.parametrize("wrong, message", [
    (energy_off_by_one, "one too few"),
    (energy_one_too_many, "one too many"),
    (energy_unsquared, "*squared* singular values"),
    (lambda m, e: 2.5, "whole number"),
    (energy_passes_instead_of_reaches, "for 50% you returned 3, one too many: 2 components "
                                       "already keep 50.0%"),
    (energy_not_normalised, "one too few"),
])
def test_energy_checker_explains_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_rank_for_energy(wrong)


def test_energy_checker_reports_the_stub_as_not_attempted(capsys):
    def stub(m, energy):
        raise NotImplementedError("Write this part, then run the checker.")

    assert not check_rank_for_energy(stub)
    assert capsys.readouterr().out.startswith("○ Not attempted yet: write rank_for_energy_by_hand")
