"""The low-rank checkers of notebook 2 (lora_tutorial.course.exercises.low_rank)."""

import re

import pytest
import torch

from lora_tutorial.course.exercises.low_rank import check_rank_for_energy, check_rank_r_approx
from lora_tutorial.core.lowrank import low_rank_approximation, rank_for_energy


def approx_right(m, r):
    u, s, vh = torch.linalg.svd(m, full_matrices=False)
    return u[:, :r] @ torch.diag(s[:r]) @ vh[:r, :]


def approx_smallest(m, r):
    u, s, vh = torch.linalg.svd(m, full_matrices=False)
    return (u[:, -r:] * s[-r:]) @ vh[-r:]


def approx_without_s(m, r):
    u, _, vh = torch.linalg.svd(m, full_matrices=False)
    return u[:, :r] @ vh[:r]


def approx_factors_only(m, r):
    u, s, _ = torch.linalg.svd(m, full_matrices=False)
    return u[:, :r] * s[:r]


def approx_too_many(m, r):
    return low_rank_approximation(m, min(r + 1, min(m.shape)))


def approx_in_place(m, r):
    m.mul_(1.0)
    m[0, 0] += 1
    return low_rank_approximation(m, r)


def test_rank_r_checker_accepts_a_right_answer(capsys):
    check_rank_r_approx(approx_right)
    assert capsys.readouterr().out.startswith("✓ Correct: rank_r_approx matches")


@pytest.mark.parametrize("wrong, message", [
    (approx_smallest, "*smallest* singular values"),
    (approx_without_s, "without the singular values"),
    (approx_factors_only, "you returned shape (12, 1)"),
    (approx_too_many, "has rank 2: keep only the first"),
    (approx_in_place, "changed its input matrix in place"),
    (lambda m, r: m.numpy(), "not a torch.Tensor"),
])
def test_rank_r_checker_explains_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_rank_r_approx(wrong)


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
