"""Checkers for notebook 2's exercises: the two factors of the best rank-r approximation,
and the rank that keeps a given share of the energy.

Both compare the learner's function with :mod:`lora_tutorial.core.lowrank` on a few matrices,
and turn the typical mistakes (singular values left out or used twice, transposed or swapped
factors, one too few components) into a message that says what went wrong.
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


def _shape_hint(B: torch.Tensor, A: torch.Tensor, d: int, k: int, r: int) -> str | None:
    """Why the factors' shapes are wrong (swapped, transposed, untruncated), or None."""
    got = (tuple(B.shape), tuple(A.shape))
    if got == ((d, r), (r, k)):
        return None
    said = f"you returned B of shape {got[0]} and A of shape {got[1]}"
    if got == ((r, k), (d, r)):
        return (f"{said}: the two are swapped. Return B first, then A, so that B @ A is the "
                f"{d}×{k} matrix (return B, A).")
    if got[0] in ((r, d), (d, r)) and got[1] in ((k, r), (r, k)):
        return (f"{said}, but B must be {d}×{r} (d×r) and A {r}×{k} (r×k), as in LoRA: "
                "one of them is transposed. U[:, :r] is already d×r and Vh[:r] already r×k "
                "(torch.linalg.svd returns Vh = Vᵀ, so no .T is needed).")
    return (f"{said}, but B must be {d}×{r} (d×r) and A {r}×{k} (r×k). Keep only the first r "
            "columns of U and the first r rows of Vh (use full_matrices=False).")


@checker("write rank_r_factors above")
def check_rank_r_factors(rank_r_factors: Callable[[torch.Tensor, int],
                                                  tuple[torch.Tensor, torch.Tensor]]) -> str:
    """Check ``rank_r_factors(W, r)`` returns ``(B, A)``, B d×r and A r×k, whose product is
    the best rank-r approximation of ``W`` (any split of the singular values is accepted)."""
    for description, matrix in _test_matrices():
        d, k = matrix.shape
        for r in (1, 3, min(d, k)):
            original = matrix.clone()
            result = call_learner(rank_r_factors, matrix, r,
                                  context=f"rank_r_factors({description}, r={r})")
            require(torch.equal(matrix, original),
                    "Your function changed its input matrix in place; read W, build new "
                    "tensors for B and A.")
            expected = low_rank_approximation(matrix, r)
            if torch.is_tensor(result) and tuple(result.shape) == (d, k):
                raise ExerciseError(
                    f"For {description} and r={r} you returned one {d}×{k} matrix. Return its "
                    f"two factors instead, B ({d}×{r}) and A ({r}×{k}), as a pair (return B, A): "
                    "LoRA stores those r·(d + k) numbers, never the d×k product.")
            require(isinstance(result, (tuple, list)) and len(result) == 2,
                    f"Return a pair of tensors (return B, A); you returned "
                    f"{type(result).__name__}"
                    + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
                    + ".")
            B, A = result
            require(torch.is_tensor(B) and torch.is_tensor(A),
                    f"B and A must be torch tensors; you returned {type(B).__name__} and "
                    f"{type(A).__name__}.")
            hint = _shape_hint(B, A, d, k, r)
            require(hint is None, f"For {description} and r={r}, {hint}")
            product = B.float() @ A.float()
            scale = torch.linalg.matrix_norm(matrix)
            if (torch.linalg.matrix_norm(product - expected) / scale).item() < 1e-4:
                continue
            u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
            no_s = u[:, :r] @ vh[:r]
            require(not torch.allclose(product, no_s, atol=1e-4),
                "B @ A is U[:, :r] @ Vh[:r], without the singular values: each direction must "
                "be weighted by its S[i]. Put S[:r] into one of the factors, e.g. "
                "B = U[:, :r] * S[:r] (this scales column i of U by S[i]).")
            twice = (u[:, :r] * s[:r] ** 2) @ vh[:r]
            require(not torch.allclose(product, twice, atol=1e-4),
                "B @ A weights each direction by S[i]², not S[i]: the singular values went into "
                "both factors. Put S[:r] into one factor only (or its square root into each).")
            smallest = (u[:, -r:] * s[-r:]) @ vh[-r:]
            require(not torch.allclose(product, smallest, atol=1e-4),
                "You kept the r *smallest* singular values. torch.linalg.svd sorts them from "
                "largest to smallest, so the first r are the ones that matter.")
            error = (torch.linalg.matrix_norm(matrix - product) / scale).item()
            best = (torch.linalg.matrix_norm(matrix - expected) / scale).item()
            raise ExerciseError(
                f"For {description} and r={r}, B @ A has relative error {error:.4f}, but the "
                f"best rank-{r} approximation reaches {best:.4f} (Eckart–Young): B and A must "
                "come from the r largest singular values, their columns of U and rows of Vh.")
    return ("B (d×r) @ A (r×k) is the best rank-r approximation on all test matrices (tall, "
            "wide, nearly low rank) for r = 1, 3 and r = min(d, k), where it rebuilds W "
            "exactly.")


check_rank_r_approx = check_rank_r_factors
"""The exercise's former name (it returned the d×k product); tests/test_exercises.py lists it."""


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
