"""The LoRA-layer checker of notebook 3 (lora_tutorial.course.exercises.lora_layer)."""

import math

import pytest
import torch
from torch import nn

from lora_tutorial import LoRALinear
from lora_tutorial.course.exercises.lora_layer import check_lora_layer


def make_layer_class(*, b_random=False, a_zero=False, scaling="alpha/r", freeze=True,
                     a_shape="rk", b_shape="dr", dropout_on_base=False, ignore_dropout=False,
                     no_base=False, a_init="kaiming", dropout_at="input"):
    """A learner's LoRA layer, correct by default, with one chosen mistake."""

    class Layer(nn.Module):
        def __init__(self, base, r, alpha, dropout=0.0):
            super().__init__()
            self.base = base
            if freeze:
                self.base.requires_grad_(False)
            k, d = base.in_features, base.out_features
            self.A = nn.Parameter(torch.empty((r, k) if a_shape == "rk" else (k, r)))
            self.B = nn.Parameter(torch.zeros((d, r) if b_shape == "dr" else (r, d)))
            if a_zero:
                nn.init.zeros_(self.A)
            elif a_init == "randn":
                nn.init.normal_(self.A)                  # torch.randn: standard deviation 1
            elif a_init == "kaiming_a0":
                nn.init.kaiming_uniform_(self.A)         # a=0: ±√(6/k), √3 times too wide
            elif a_init == "tiny":
                nn.init.normal_(self.A, std=1e-3)
            else:
                nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
            if b_random:
                nn.init.normal_(self.B)
            self.scaling = {"alpha/r": alpha / r, "none": 1.0, "rslora": alpha / math.sqrt(r),
                            "inverted": r / alpha}[scaling]
            self.dropout = nn.Identity() if ignore_dropout else nn.Dropout(dropout)

        def forward(self, x):
            if dropout_on_base:
                x = self.dropout(x)
                lora = x @ self.A.T @ self.B.T
            elif dropout_at == "whole output":
                return self.dropout(self.base(x) + self.scaling * (x @ self.A.T @ self.B.T))
            elif dropout_at == "lora output":
                lora = self.dropout(x @ self.A.T @ self.B.T)
            elif dropout_at == "after A":
                lora = self.dropout(x @ self.A.T) @ self.B.T
            else:
                lora = self.dropout(x) @ self.A.T @ self.B.T
            return (0 if no_base else self.base(x)) + self.scaling * lora

    return Layer


class PackageStyle(LoRALinear):
    """The package's own layer, with the learner's signature: lora_A/lora_B as nn.Linear."""

    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__(base, r, alpha, dropout)


def test_layer_checker_accepts_correct_layers(capsys):
    check_lora_layer(make_layer_class())
    assert capsys.readouterr().out.startswith("✓ Correct")
    check_lora_layer(PackageStyle)  # base_layer, lora_A, lora_B as nn.Linear also accepted


@pytest.mark.parametrize("mistake, message", [
    ({"b_random": True}, "B is not zero-initialised, so the adapted model no longer starts "
                         "equal to the base"),
    ({"a_zero": True}, "A is all zeros"),
    ({"scaling": "none"}, "forgot the scaling"),
    ({"scaling": "rslora"}, "rsLoRA's rule"),
    ({"scaling": "inverted"}, "upside down"),
    ({"freeze": False}, "base layer is not frozen"),
    ({"a_shape": "kr"}, r"A has shape \(10, 4\), expected r×k = \(4, 10\).*transposed"),
    ({"b_shape": "rd"}, r"B has shape \(4, 6\), expected d×r = \(6, 4\)"),
    ({"dropout_on_base": True}, "dropout seems to act on the base path"),
    ({"ignore_dropout": True}, "dropout argument seems to be ignored"),
    ({"no_base": True}, "add the frozen path"),
    ({"a_init": "randn"},
     r"A has the wrong scale: .* ±1/√k = ±0\.316 for k=10 .*kaiming_uniform_"),
    ({"a_init": "kaiming_a0"}, r"A has the wrong scale: .*a=√5"),
    ({"a_init": "tiny"}, r"A has the wrong scale: .*standard deviation 1/√\(3k\) = 0\.183"),
    ({"dropout_at": "whole output"}, r"dropout seems to act on the base path too \(on the whole "
                                     r"input x, or on the whole output\)"),
    ({"dropout_at": "lora output"}, r"not B·A·dropout\(x\) for any dropout mask of the input x"),
    ({"dropout_at": "after A"}, r"seems to act after A, or on the LoRA path's output"),
])
def test_layer_checker_names_each_mistake(mistake, message):
    with pytest.raises(AssertionError, match=message):
        check_lora_layer(make_layer_class(**mistake), verbose=False)


def test_layer_checker_rejects_a_wrong_signature_and_missing_attributes():
    class NoDropoutArg(make_layer_class()):
        def __init__(self, base, r, alpha):      # right in every other way
            super().__init__(base, r, alpha)

    with pytest.raises(AssertionError, match="signature should be"):
        check_lora_layer(NoDropoutArg, verbose=False)

    class NoMatrices(nn.Module):
        def __init__(self, base, r, alpha, dropout=0.0):
            super().__init__()
            self.base = base.requires_grad_(False)

    with pytest.raises(AssertionError, match="no attribute 'A' or 'lora_A'"):
        check_lora_layer(NoMatrices, verbose=False)


def test_layer_checker_requires_the_stated_dropout_default():
    correct = make_layer_class()

    class NoDefault(correct):
        def __init__(self, base, r, alpha, dropout):
            super().__init__(base, r, alpha, dropout)

    with pytest.raises(AssertionError, match=r"MyLoRALinear|NoDefault\(base, r=4, alpha=8\) "
                                             r"failed .*dropout=0\.0\)\. Give dropout its "
                                             r"default"):
        check_lora_layer(NoDefault, verbose=False)

    class DropsByDefault(correct):
        def __init__(self, base, r, alpha, dropout=0.5):
            super().__init__(base, r, alpha, dropout)

    with pytest.raises(AssertionError, match="the default must be dropout=0.0"):
        check_lora_layer(DropsByDefault, verbose=False)


def test_layer_checker_leaves_the_callers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_lora_layer(make_layer_class(), verbose=False)
    assert torch.equal(torch.rand(3), expected)
