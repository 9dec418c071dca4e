"""Claims a notebook checks out loud: "✓ merged equals unmerged", or a clear failure.

A notebook keeps its stored outputs honest with checks, but a bare ``assert`` is the test's
language, not the learner's. :func:`claim` states what was checked in words the learner
reads as the lesson, prints it with a tick when it holds, and stops the notebook with the
same words (and the evidence) when it does not, so nothing below runs on a broken premise.
"""

import torch


class ClaimFailed(AssertionError):
    """A notebook's claim did not hold on this run (an AssertionError, so tests see it too)."""


def claim(holds: bool, statement: str, evidence: str = "") -> None:
    """Print ``✓ statement (evidence)`` if ``holds``, else raise :class:`ClaimFailed`.

    >>> claim(2 + 2 == 4, "two and two make four")
    ✓ two and two make four
    """
    detail = f" ({evidence})" if evidence else ""
    if not holds:
        raise ClaimFailed(f"✗ expected: {statement}{detail}")
    print(f"✓ {statement}{detail}")


def claim_close(actual: torch.Tensor, expected: torch.Tensor, statement: str, *,
                rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Claim that two tensors agree within float rounding, printing the largest gap found.

    The tolerance is stated in the failure, not hidden: ``|actual − expected| ≤ atol + rtol·|expected|``
    elementwise, as in :func:`torch.allclose`.
    """
    if actual.shape != expected.shape:
        raise ClaimFailed(f"✗ expected: {statement} (shapes differ: {tuple(actual.shape)} "
                          f"against {tuple(expected.shape)})")
    gap = (actual.detach().float() - expected.detach().float()).abs().max().item()
    holds = torch.allclose(actual.detach().float(), expected.detach().float(), rtol=rtol, atol=atol)
    claim(holds, statement, f"largest gap {gap:.1e}" if not holds else "")
