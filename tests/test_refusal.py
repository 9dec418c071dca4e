"""The refusal helper itself must catch what it promises to catch."""

import pytest
import torch
from torch import nn

from refusal import unchanged


def test_it_catches_a_changed_weight_a_flipped_flag_and_a_new_file(tmp_path):
    model = nn.Linear(3, 2)
    with pytest.raises(AssertionError, match="tensor 'weight' changed"):
        with unchanged(model):
            with torch.no_grad():
                model.weight.add_(1)
    with pytest.raises(AssertionError, match="requires_grad changed"):
        with unchanged(model):
            model.bias.requires_grad_(False)
    with pytest.raises(AssertionError, match=r"added \['x.json'\]"):
        with unchanged(tmp_path):
            (tmp_path / "x.json").write_text("{}")


def test_it_lets_an_untouched_refusal_through_and_reraises_it(tmp_path):
    model = nn.Linear(3, 2)
    (tmp_path / "kept.txt").write_text("kept")
    with pytest.raises(ValueError, match="refused"):
        with unchanged(model, tmp_path):
            raise ValueError("refused")
