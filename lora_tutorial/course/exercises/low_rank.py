"""Checkers for notebook 2's exercises: a rank-r approximation, and the rank for an energy.

Both compare the learner's function with :mod:`lora_tutorial.core.lowrank` on a few matrices,
and turn the typical mistakes into a message that says what went wrong.
"""

from collections.abc import Callable

import torch

from . import ExerciseError, call_learner, checker, require
from ...core.lowrank import low_rank_approximation, rank_for_energy


def _test_matrices() -> list[tuple[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    tall = torch.randn(12, 7, generator=generator)
    wide = torch.randn(5, 9, generator=generator)
    decaying = (torch.randn(20, 4, generator=generator) @ torch.randn(4, 16, generator=generator)
                + 0.05 * torch.randn(20, 16, generator=generator))
    return [("a random 12×7 matrix", tall), ("a random 5×9 matrix", wide),
            ("a 20×16 rank-4-plus-noise matrix", decaying)]


@checker("write rank_r_approx above")
def check_rank_r_approx(rank_r_approx: Callable[[torch.Tensor, int], torch.Tensor]) -> str:
    """Check ``rank_r_approx(M, r)`` returns the best rank-r approximation of ``M``."""
    for description, matrix in _test_matrices():
        for r in (1, 3, min(matrix.shape)):
            original = matrix.clone()
            result = call_learner(rank_r_approx, matrix, r,
                                  context=f"rank_r_approx({description}, r={r})")
            require(torch.equal(matrix, original),
                    "Your function changed its input matrix in place; work on the factors "
                    "instead.")
            require(torch.is_tensor(result),
                    f"rank_r_approx returned a {type(result).__name__}, not a torch.Tensor.")
            require(result.shape == matrix.shape,
                f"For {description} and r={r} you returned shape {tuple(result.shape)}, not "
                f"{tuple(matrix.shape)}. Multiply U[:, :r] · diag(S[:r]) · Vh[:r, :] (use "
                "full_matrices=False so the shapes line up) to get back a d×k matrix.")
            expected = low_rank_approximation(matrix, r)
            scale = torch.linalg.matrix_norm(matrix)
            gap = (torch.linalg.matrix_norm(result.float() - expected) / scale).item()
            if gap < 1e-4:
                continue
            rank = int(torch.linalg.matrix_rank(result.float()))
            require(rank <= r,
                f"For {description} and r={r} your result has rank {rank}: keep only the first "
                "r singular values and vectors.")
            u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
            smallest = (u[:, -r:] * s[-r:]) @ vh[-r:]
            require(not torch.allclose(result.float(), smallest, atol=1e-4),
                "You kept the r *smallest* singular values. torch.linalg.svd sorts them from "
                "largest to smallest, so the first r are the ones that matter.")
            no_s = u[:, :r] @ vh[:r]
            require(not torch.allclose(result.float(), no_s, atol=1e-4),
                "You multiplied U and Vh without the singular values: each component must be "
                "scaled by its S[i] (U[:, :r] * S[:r]) @ Vh[:r].")
            error = (torch.linalg.matrix_norm(matrix - result.float()) / scale).item()
            best = (torch.linalg.matrix_norm(matrix - expected) / scale).item()
            raise ExerciseError(
                f"For {description} and r={r} your rank-{rank} result has relative error "
                f"{error:.4f}, but the best rank-{r} approximation reaches {best:.4f} "
                "(Eckart–Young): keep the r largest singular components of the SVD.")
    return ("rank_r_approx matches the truncated SVD on all test matrices "
            "(tall, wide, and nearly low rank), for r = 1, 3 and full rank.")


def _energy_test_matrices() -> list[tuple[str, torch.Tensor]]:
    """The test matrices, and one whose top 2 of 4 equal components keep exactly 50%: a
    rank that *reaches* the target (≥) differs there from one that passes it (>)."""
    return _test_matrices() + [("a 4×4 matrix with four equal singular values",
                                2 * torch.eye(4))]


@checker("write rank_for_energy_by_hand above")
def check_rank_for_energy(rank_for_energy_fn: Callable[[torch.Tensor, float], int]) -> str:
    """Check ``fn(M, energy)`` returns the smallest rank keeping ``energy`` of ‖M‖_F²."""
    for description, matrix in _energy_test_matrices():
        s = torch.linalg.svdvals(matrix)
        cumulative = (torch.cumsum(s ** 2, 0) / (s ** 2).sum()).tolist()
        plain = (torch.cumsum(s, 0) / s.sum()).tolist()
        for energy in (0.5, 0.9, 0.99):
            answer = call_learner(rank_for_energy_fn, matrix, energy,
                                  context=f"On {description} with energy={energy}, your "
                                          "function")
            expected = rank_for_energy(matrix, energy)
            if answer == expected:
                continue
            if hasattr(answer, "item"):
                answer = answer.item()
            require(isinstance(answer, int) or float(answer).is_integer(),
                f"Return a whole number of components (an int), not {answer!r}.")
            answer = int(answer)
            unsquared = next(i + 1 for i, c in enumerate(plain) if c >= energy)
            require(answer != unsquared or unsquared == expected,
                f"On {description} for {energy:.0%} you returned {answer}, which is what the "
                "plain singular values give. Energy is the squared Frobenius norm, so add up "
                "the *squared* singular values S**2.")
            if answer == expected - 1:
                raise ExerciseError(
                    f"On {description} for {energy:.0%} you returned {answer}, one too few: "
                    f"{answer} components keep only {cumulative[answer - 1]:.1%}"
                    if answer >= 1 else
                    f"On {description} for {energy:.0%} you returned 0 components, one too few: "
                    "the rank must count the component that crosses the threshold "
                    "(ranks start at 1, Python indices at 0).")
            if answer == expected + 1:
                raise ExerciseError(
                    f"On {description} for {energy:.0%} you returned {answer}, one too many: "
                    f"{expected} components already keep {cumulative[expected - 1]:.1%}. "
                    "Return the *smallest* rank that reaches the target (kept ≥ energy: "
                    "reaching it exactly is enough).")
            raise ExerciseError(
                f"On {description} for {energy:.0%} you returned {answer}, expected {expected} "
                f"(the cumulative energy of the top components is "
                f"{', '.join(f'{c:.2f}' for c in cumulative[:expected + 1])}, ...).")
    return ("your function finds the smallest rank that keeps the requested energy on "
            "all test matrices, for 50%, 90% and 99%.")
