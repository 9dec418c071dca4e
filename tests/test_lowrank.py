"""lora_tutorial.core.lowrank: the SVD, the best rank-r approximation, energy and subspaces."""

import pytest
import torch

from lora_tutorial import (energy_kept, low_rank_approximation, rank_for_energy, relative_error,
                           singular_values, subspace_similarity)


def test_rank_r_approximation_has_rank_r_and_eckart_young_error():
    torch.manual_seed(0)
    m = torch.randn(30, 20)
    s = singular_values(m)
    for r in (1, 5, 20):
        approx = low_rank_approximation(m, r)
        assert torch.linalg.matrix_rank(approx) == r
        error = torch.linalg.matrix_norm(m - approx)
        assert error == pytest.approx(s[r:].square().sum().sqrt().item(), rel=1e-4, abs=1e-4)
        assert relative_error(m, r) == pytest.approx((error / torch.linalg.matrix_norm(m))
                                                     .item(), abs=1e-4)
    with pytest.raises(ValueError, match="between 0 and"):
        low_rank_approximation(m, 21)


def test_low_rank_plus_noise_is_found():
    torch.manual_seed(0)
    m = torch.randn(50, 3) @ torch.randn(3, 40) + 0.01 * torch.randn(50, 40)
    assert energy_kept(m, 3) > 0.999
    assert rank_for_energy(m, 0.99) == 3


def test_subspace_similarity():
    torch.manual_seed(0)
    a = torch.randn(8, 100)
    assert subspace_similarity(a, a, 8, 8) == pytest.approx(1.0, abs=1e-5)
    # a's top-4 directions lie inside the 8-dim row space of [a; anything].
    stacked = torch.cat([a[:4] * 10, torch.randn(4, 100)])
    assert subspace_similarity(a, stacked, 8, 8) < 0.9
    assert subspace_similarity(stacked, a, 4, 8) == pytest.approx(1.0, abs=1e-4)
    assert subspace_similarity(torch.randn(2, 1000), torch.randn(2, 1000), 2, 2) < 0.05


def test_full_rank_error_is_a_real_zero():
    torch.manual_seed(0)
    m = torch.rand(106, 160)
    assert energy_kept(m, 106) == 1.0
    assert relative_error(m, 106) == 0.0
    assert isinstance(relative_error(m, 100), float)


def test_rank_for_energy_never_exceeds_the_matrix_rank():
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        m = torch.randn(20, 16, generator=generator)
        assert rank_for_energy(m, 1.0) <= 16
