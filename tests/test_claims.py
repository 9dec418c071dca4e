"""course/claims.py: a notebook's checks read as claims, and a false claim stops the notebook."""

import pytest
import torch

from lora_tutorial.course.claims import ClaimFailed, claim, claim_close


def test_a_true_claim_prints_its_words_with_a_tick(capsys):
    claim(True, "merged equals unmerged", "3 layers")
    assert capsys.readouterr().out == "✓ merged equals unmerged (3 layers)\n"


def test_a_false_claim_stops_with_the_same_words():
    with pytest.raises(ClaimFailed, match="✗ expected: merged equals unmerged"):
        claim(False, "merged equals unmerged")


def test_claim_close_passes_within_rounding_and_fails_beyond_it(capsys):
    x = torch.linspace(0, 1, 10)
    claim_close(x + 1e-8, x, "ours equals the package's")
    assert capsys.readouterr().out == "✓ ours equals the package's\n"
    with pytest.raises(ClaimFailed, match="largest gap 1.0e-02"):
        claim_close(x + 1e-2, x, "ours equals the package's")
    with pytest.raises(ClaimFailed, match="shapes differ"):
        claim_close(x, x[:5], "ours equals the package's")
