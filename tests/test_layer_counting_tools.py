"""Notebooks 3 and 4: the LoRA-layer and counting widgets, and the exercise checkers."""

import math
import re

import pytest
import torch
from torch import nn

from lora_tutorial import LoRALinear, count_parameters, inject_lora, mark_only_lora_as_trainable
from lora_tutorial.course.exercises.counting import check_lora_param_count, gpt2_shapes
from lora_tutorial.course.exercises.lora_layer import check_lora_layer
from lora_tutorial.course.skeletons import GPT2_SMALL, GPT3_175B, meta_skeleton
from lora_tutorial.course.widgets.counting import (PRESETS, LoRACalculator, gpt_parameter_count,
                                            lora_trainable_count, trainable_percent)
from lora_tutorial import lora_scaling
from lora_tutorial.course.widgets.lora_layer import LoRALayerExplorer


# ---------------------------------------------------------------- the LoRA layer checker


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
    class NoDropoutArg(nn.Module):
        def __init__(self, base, r, alpha):
            super().__init__()

    with pytest.raises(AssertionError, match="signature should be"):
        check_lora_layer(NoDropoutArg, verbose=False)

    class NoMatrices(nn.Module):
        def __init__(self, base, r, alpha, dropout=0.0):
            super().__init__()
            self.base = base.requires_grad_(False)

    with pytest.raises(AssertionError, match="no attribute 'A' or 'lora_A'"):
        check_lora_layer(NoMatrices, verbose=False)


# ---------------------------------------------------------------- the counting checker


def correct_count(shapes, r, targets):
    return sum(r * (d + k) for name, (d, k) in shapes.items()
               if any(name == t or name.endswith("." + t) for t in targets))


def count_by_rule(rule):
    """A count that is right but for how it matches a name with the targets."""
    return lambda shapes, r, targets: sum(r * (d + k) for name, (d, k) in shapes.items()
                                          if any(rule(name, t) for t in targets))


def test_count_checker_accepts_a_correct_function(capsys):
    check_lora_param_count(correct_count)
    assert capsys.readouterr().out.startswith("✓ Correct")


@pytest.mark.parametrize("wrong, message", [
    (lambda s, r, t: sum(d * k for n, (d, k) in s.items() if n.split(".")[-1] in t),
     "the full matrix"),
    (lambda s, r, t: sum(r * d * k for n, (d, k) in s.items() if n.split(".")[-1] in t),
     "added, not multiplied"),
    (lambda s, r, t: sum(2 * r * d for n, (d, k) in s.items() if n.split(".")[-1] in t),
     "you used d for both matrices"),
    (lambda s, r, t: sum(r * k for n, (d, k) in s.items() if n.split(".")[-1] in t),
     "only one of the two matrices"),
    (lambda s, r, t: sum(r * (d + k) for n, (d, k) in s.items()), "You counted every layer"),
    (lambda s, r, t: sum(r * (d + k) for n, (d, k) in s.items() if n in t),
     "No layer matched the targets"),
    (lambda s, r, t: r * sum(d + k for n, (d, k) in list(s.items())[:6]
                             if n.split(".")[-1] in t), "add up every block"),
    (lambda s, r, t: float(correct_count(s, r, t)), "not the float"),
    (lambda s, r, t: torch.tensor(correct_count(s, r, t)), "plain Python int"),
    (lambda s, r, t: 1 / 0, "raised ZeroDivisionError"),
    (count_by_rule(lambda name, t: t in name),
     "matched the targets as substrings, so 'q_proj' also picked blocks.0.attn.xq_proj, "
     "blocks.0.mlp.q_proj_gate"),
    (count_by_rule(lambda name, t: name.endswith(t)),
     re.escape("name.endswith(target) also picked blocks.0.attn.xq_proj: compare with '.' + "
               "target")),
    (count_by_rule(lambda name, t: name.split(".")[-1] == t),
     "compared only the last part of each name, which never equals a dotted target such as "
     "'attn.q_proj'"),
    (count_by_rule(lambda name, t: name.endswith("." + t)),
     "no layer matched, but the one layer here is called 'layer', exactly the target"),
])
def test_count_checker_names_each_mistake(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_lora_param_count(wrong, verbose=False)


def test_gpt2_shapes_match_the_meta_skeleton():
    skeleton = meta_skeleton(GPT2_SMALL)
    real = {name: tuple(m.weight.shape) for name, m in skeleton.named_modules()
            if isinstance(m, nn.Linear)}
    assert real == gpt2_shapes()
    inject_lora(skeleton, ["q_proj", "v_proj"], r=8)
    mark_only_lora_as_trainable(skeleton)
    assert count_parameters(skeleton).trainable == correct_count(real, 8, ["q_proj", "v_proj"])


# ---------------------------------------------------------------- the widgets


def test_lora_layer_explorer_reacts_to_its_controls():
    explorer = LoRALayerExplorer()
    summary, image = explorer.summary.value, bytes(explorer.image.value)
    assert image.startswith(b"\x89PNG")
    assert "alpha/r = 16/4 = <b>4.000</b>" in summary
    assert "r·(d+k) = <b>448</b>" in summary  # 4·(48 + 64)
    norm_r4 = float(torch.linalg.matrix_norm(explorer.delta_weight()))

    explorer.r.value = 16
    assert explorer.summary.value != summary and bytes(explorer.image.value) != image
    assert "alpha/r = 16/16 = <b>1.000</b>" in explorer.summary.value
    # With random factors and alpha/r, a bigger rank gives a *smaller* update...
    assert float(torch.linalg.matrix_norm(explorer.delta_weight())) < 0.75 * norm_r4
    # ... while rsLoRA's alpha/√r keeps it about the same size.
    explorer.rule.value = "alpha / √r  (rsLoRA)"
    assert explorer.use_rslora
    rs16 = float(torch.linalg.matrix_norm(explorer.delta_weight()))
    explorer.r.value = 4
    rs4 = float(torch.linalg.matrix_norm(explorer.delta_weight()))
    assert 0.8 < rs16 / rs4 < 1.25

    explorer.r.value = 32  # 32·(48+64) > 48·64: LoRA would not save anything
    assert "more than W itself" in explorer.summary.value
    assert "r = 32" in explorer.static_html()


def test_lora_scaling():
    assert lora_scaling(16, 4) == 4 and lora_scaling(16, 4, use_rslora=True) == 8


def test_counting_formulas_match_meta_models():
    for shape in PRESETS.values():
        assert gpt_parameter_count(shape) == count_parameters(meta_skeleton(shape)).total
    for targets, r in ((["q", "v"], 1), (["q", "v"], 8), (["q", "k", "v", "o", "fc1", "fc2"], 4)):
        model = meta_skeleton(GPT3_175B)
        inject_lora(model, [t if t.startswith("fc") else f"{t}_proj" for t in targets], r=r)
        mark_only_lora_as_trainable(model)
        count = count_parameters(model)
        assert lora_trainable_count(GPT3_175B, r, targets) == count.trainable
        assert trainable_percent(GPT3_175B, r, targets) == pytest.approx(count.percent)
    assert lora_trainable_count(GPT3_175B, 1, ["q", "v"]) == 4_718_592  # Hu et al.: 4.7M
    with pytest.raises(ValueError, match="Unknown projections"):
        lora_trainable_count(GPT2_SMALL, 8, ["q_proj"])


def test_calculator_reacts_to_its_controls():
    calc = LoRACalculator()
    table, image = calc.table.value, bytes(calc.image.value)
    assert "<b>294,912</b>" in table and "0.2364%" in table  # GPT-2, q and v, r = 8
    assert "1.18 MB in fp32, 0.59 MB in fp16" in table

    calc.r.value = 16
    assert "<b>589,824</b>" in calc.table.value and bytes(calc.image.value) != image

    calc.targets["fc1"].value = True
    assert "<td>fc1</td><td>3,072 × 768</td>" in calc.table.value

    calc.preset.value = "GPT-3 175B"
    assert calc.shape == GPT3_175B
    assert "<b>174,604,259,328</b>" in calc.table.value

    calc.d_model.value = 1024  # editing a shape by hand switches the preset to "custom"
    assert calc.preset.value == "custom" and calc.shape.d_model == 1024

    for box in calc.targets.values():
        box.value = False
    assert "nothing to train" in calc.table.value and "<b>0</b>" in calc.table.value
    assert "adapting nothing" in calc.static_html()


def test_layer_checker_leaves_the_callers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_lora_layer(make_layer_class(), verbose=False)
    assert torch.equal(torch.rand(3), expected)


def test_calculator_can_start_from_custom():
    from lora_tutorial.course.widgets.counting import LoRACalculator

    calc = LoRACalculator(preset="custom")
    assert calc.preset.value == "custom" and calc.shape.d_model == 768
