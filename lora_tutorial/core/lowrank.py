"""Low-rank tools: SVD, the best rank-r approximation, spectra and subspace similarity.

The singular value decomposition writes any matrix as ``M = U·diag(S)·Vᵀ`` with singular
values ``S`` sorted from large to small. Keeping the first ``r`` terms gives the best
rank-r approximation (Eckart–Young theorem): no other rank-r matrix is closer in the
Frobenius norm, and its squared error is the sum of the squared singular values dropped.
"""

import torch


def singular_values(matrix: torch.Tensor) -> torch.Tensor:
    """The singular values of a 2-D tensor, largest first.

    Introduced in notebook 02, §5.
    """
    return torch.linalg.svdvals(matrix.detach().float())


def low_rank_approximation(matrix: torch.Tensor, r: int) -> torch.Tensor:
    """The best rank-``r`` approximation of ``matrix`` (truncated SVD).

    Introduced in notebook 02, §3.
    """
    if r < 0 or r > min(matrix.shape):
        raise ValueError(f"r must be between 0 and min(matrix.shape) = {min(matrix.shape)}, "
                         f"got {r}.")
    u, s, vh = torch.linalg.svd(matrix.detach().float(), full_matrices=False)
    return (u[:, :r] * s[:r]) @ vh[:r]


def energy_kept(matrix: torch.Tensor, r: int) -> float:
    """Share of the squared Frobenius norm that the best rank-``r`` approximation keeps.

    Introduced in notebook 02, §3.
    """
    s2 = singular_values(matrix).double() ** 2
    return min(1.0, (s2[:r].sum() / s2.sum()).item())  # rounding must not push it past 1


def relative_error(matrix: torch.Tensor, r: int) -> float:
    """``‖M − M_r‖_F / ‖M‖_F`` for the best rank-``r`` approximation ``M_r``.

    Introduced in notebook 02, §3.
    """
    return (1.0 - energy_kept(matrix, r)) ** 0.5


def rank_for_energy(matrix: torch.Tensor, energy: float = 0.9) -> int:
    """The smallest rank whose approximation keeps at least ``energy`` of the norm².

    Introduced in notebook 02, §3.
    """
    s2 = singular_values(matrix).double() ** 2
    cumulative = torch.cumsum(s2, 0) / s2.sum()
    return min(int((cumulative < energy).sum().item()) + 1, len(s2))


def subspace_similarity(a1: torch.Tensor, a2: torch.Tensor, i: int, j: int) -> float:
    """How much the top-``i`` directions of ``a1`` overlap the top-``j`` of ``a2``, in [0, 1].

    The LoRA paper (Hu et al., 2021, section 7.2) compares adapters of ranks 8 and 64 this
    way. ``A`` (r×k) reads the input, so its directions live in the k-dimensional input
    space: they are the left singular vectors ``U`` of ``Aᵀ`` (the same vectors as ``A``'s
    right singular vectors, the rows of ``Vh`` below). With ``U_i`` the top ``i`` of them for
    ``a1`` and ``U_j`` the top ``j`` for ``a2``, ``φ = ‖U_iᵀ U_j‖_F² / min(i, j)``. 1 means
    one subspace contains the other; random subspaces of a large space give values near 0.

    Introduced in notebook 05, §11.
    """
    v1 = torch.linalg.svd(a1.detach().float(), full_matrices=False)[2][:i].T
    v2 = torch.linalg.svd(a2.detach().float(), full_matrices=False)[2][:j].T
    return (torch.linalg.matrix_norm(v1.T @ v2) ** 2 / min(i, j)).item()
