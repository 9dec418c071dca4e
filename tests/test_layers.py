"""Properties of LoRALinear that must hold for every shape, rank and alpha."""

import math

import numpy as np
import peft
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lora_tutorial import LoRALinear, lora_scaling

shapes = st.tuples(st.integers(1, 48), st.integers(1, 48), st.integers(1, 16))
alphas = st.floats(0.5, 64, allow_nan=False)


def make_layer(k, d, r, alpha, seed=0, random_b=True, **kwargs):
    torch.manual_seed(seed)
    layer = LoRALinear(nn.Linear(k, d), r=r, alpha=alpha, **kwargs)
    if random_b:
        nn.init.normal_(layer.lora_B.weight)
    return layer


@settings(max_examples=40, deadline=None)
@given(shapes, alphas)
def test_zero_b_means_output_equals_base(shape, alpha):
    k, d, r = shape
    layer = make_layer(k, d, r, alpha, random_b=False)
    x = torch.randn(5, k)
    assert torch.equal(layer(x), layer.base_layer(x))


@settings(max_examples=40, deadline=None)
@given(shapes, alphas)
def test_merge_then_unmerge_restores_w0(shape, alpha):
    k, d, r = shape
    layer = make_layer(k, d, r, alpha)
    w0 = layer.base_layer.weight.clone()
    layer.merge()
    assert not torch.allclose(layer.base_layer.weight, w0)
    layer.unmerge()
    assert torch.allclose(layer.base_layer.weight, w0, atol=1e-5, rtol=0)


@settings(max_examples=40, deadline=None)
@given(shapes, alphas)
def test_merged_output_equals_unmerged(shape, alpha):
    k, d, r = shape
    layer = make_layer(k, d, r, alpha)
    x = torch.randn(7, k)
    unmerged = layer(x)
    layer.merge()
    assert torch.allclose(layer(x), unmerged, atol=1e-4, rtol=1e-4)


@settings(max_examples=25, deadline=None)
@given(shapes, alphas)
def test_forward_is_base_plus_scaled_update(shape, alpha):
    k, d, r = shape
    layer = make_layer(k, d, r, alpha)
    x = torch.randn(3, k)
    w = layer.base_layer.weight + (alpha / r) * layer.lora_B.weight @ layer.lora_A.weight
    expected = x @ w.T + layer.base_layer.bias
    assert torch.allclose(layer(x), expected, atol=1e-4, rtol=1e-4)


def test_shapes_initialisation_and_freezing():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(20, 30), r=4, alpha=8)
    assert layer.lora_A.weight.shape == (4, 20)
    assert layer.lora_B.weight.shape == (30, 4)
    assert torch.count_nonzero(layer.lora_B.weight) == 0
    bound = 1 / math.sqrt(20)  # kaiming_uniform_ with a=sqrt(5) gives U(-1/sqrt(k), 1/sqrt(k))
    assert layer.lora_A.weight.abs().max() <= bound
    assert layer.lora_A.weight.abs().max() > 0.5 * bound
    assert not any(p.requires_grad for p in layer.base_layer.parameters())
    assert layer.lora_A.weight.requires_grad and layer.lora_B.weight.requires_grad
    assert layer.scaling == 2.0


def test_rslora_scaling():
    layer = LoRALinear(nn.Linear(4, 4), r=16, alpha=8, use_rslora=True)
    assert layer.scaling == pytest.approx(8 / 4)


def test_dropout_only_on_the_lora_path():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(8, 8), r=2, alpha=2, dropout=0.5)
    x = torch.randn(4, 8)
    layer.train()
    assert torch.equal(layer(x), layer.base_layer(x))  # B = 0: dropout cannot show
    nn.init.normal_(layer.lora_B.weight)
    layer.eval()
    assert torch.equal(layer(x), layer(x))


def test_merging_twice_does_not_add_twice():
    layer = make_layer(6, 5, 2, 4)
    layer.merge()
    once = layer.base_layer.weight.clone()
    with pytest.warns(UserWarning, match="already merged"):
        layer.merge()
    assert torch.equal(layer.base_layer.weight, once)
    layer.unmerge()
    with pytest.warns(UserWarning, match="not merged"):
        layer.unmerge()


def test_non_finite_merge_is_refused_and_w0_kept():
    layer = make_layer(6, 5, 2, 4)
    w0 = layer.base_layer.weight.clone()
    with torch.no_grad():
        layer.lora_B.weight[0, 0] = float("inf")
    with pytest.raises(ValueError, match="non-finite"):
        layer.merge()
    assert torch.equal(layer.base_layer.weight, w0)
    assert not layer.merged


@pytest.mark.parametrize("r", [0, -3, 2.5, True, "8"])
def test_bad_rank_is_a_clear_error(r):
    with pytest.raises(ValueError, match="rank r must be a positive integer"):
        LoRALinear(nn.Linear(4, 4), r=r, alpha=1)


def test_wraps_only_linear():
    with pytest.raises(TypeError, match="wraps an nn.Linear"):
        LoRALinear(nn.Conv2d(1, 1, 3), r=1, alpha=1)


def test_gradients_reach_only_a_and_b():
    layer = LoRALinear(nn.Linear(6, 6), r=2, alpha=2)
    layer(torch.randn(3, 6)).sum().backward()
    assert layer.base_layer.weight.grad is None and layer.base_layer.bias.grad is None
    # With B = 0 the first gradient of A is zero, but B's is not: training can start.
    assert torch.count_nonzero(layer.lora_A.weight.grad) == 0
    assert torch.count_nonzero(layer.lora_B.weight.grad) > 0


@pytest.mark.parametrize("alpha, message", [
    (float("nan"), "alpha must be finite"), (float("inf"), "alpha must be finite"),
    (-float("inf"), "alpha must be finite"), ("16", "alpha must be a number"),
    (True, "alpha must be a number"), (None, "alpha must be a number"),
])
def test_bad_alpha_is_refused_at_construction(alpha, message):
    with pytest.raises(ValueError, match=message):
        LoRALinear(nn.Linear(4, 4), r=2, alpha=alpha)


@pytest.mark.parametrize("use_rslora", ["no", "false", 0, 1, None])
def test_use_rslora_must_be_a_real_bool(use_rslora):
    with pytest.raises(ValueError, match="use_rslora must be True or False"):
        LoRALinear(nn.Linear(4, 4), r=2, alpha=2, use_rslora=use_rslora)


@pytest.mark.parametrize("dropout", [-0.1, 1.0, 1.5, float("nan"), "0.1", True, None])
def test_bad_dropout_is_refused(dropout):
    with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\)"):
        LoRALinear(nn.Linear(4, 4), r=2, alpha=2, dropout=dropout)


def test_numpy_numbers_are_accepted_as_plain_python_values():
    layer = LoRALinear(nn.Linear(4, 4), r=np.int64(2), alpha=np.float32(3.0),
                       dropout=np.float64(0.25))
    assert type(layer.r) is int and layer.r == 2
    assert type(layer.alpha) is float and layer.scaling == 1.5
    assert layer.lora_dropout.p == 0.25
    assert "alpha=3.0" in repr(layer)


def dropout_layer(p=0.5):
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(16, 8), r=4, alpha=4, dropout=p)
    nn.init.normal_(layer.lora_B.weight)
    return layer, torch.randn(64, 16, generator=torch.Generator().manual_seed(1))


def test_train_mode_drops_on_the_lora_path_only():
    layer, x = dropout_layer()
    layer.train()
    torch.manual_seed(7)
    out = layer(x)
    torch.manual_seed(7)
    dropped = torch.nn.functional.dropout(x, 0.5, training=True)   # the same mask
    assert (dropped == 0).float().mean().item() == pytest.approx(0.5, abs=0.1)
    expected = layer.base_layer(x) + layer.lora_B(layer.lora_A(dropped)) * layer.scaling
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    layer.eval()
    assert not torch.allclose(out, layer(x), atol=1e-3)       # dropout changed something


def test_eval_mode_does_not_drop():
    layer, x = dropout_layer()
    layer.eval()
    expected = layer.base_layer(x) + layer.lora_B(layer.lora_A(x)) * layer.scaling
    assert torch.equal(layer(x), expected)
    assert torch.equal(layer(x), layer(x))


def test_dropout_matches_peft_under_the_same_seed():
    layer, x = dropout_layer(p=0.3)

    class Holder(nn.Module):
        def __init__(self, linear):
            super().__init__()
            self.proj = linear

    theirs = peft.get_peft_model(Holder(nn.Linear(16, 8)), peft.LoraConfig(
        r=4, lora_alpha=4, lora_dropout=0.3, target_modules=["proj"]))
    target = theirs.base_model.model.proj
    with torch.no_grad():
        target.base_layer.weight.copy_(layer.base_layer.weight)
        target.base_layer.bias.copy_(layer.base_layer.bias)
        target.lora_A["default"].weight.copy_(layer.lora_A.weight)
        target.lora_B["default"].weight.copy_(layer.lora_B.weight)
    layer.train()
    target.train()
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        ours = layer(x)
        torch.manual_seed(seed)
        torch.testing.assert_close(ours, target(x), rtol=1e-5, atol=1e-6)


def test_merging_on_the_meta_device_is_a_clear_error():
    with torch.device("meta"):
        layer = LoRALinear(nn.Linear(8, 8), r=2, alpha=2)
    with pytest.raises(RuntimeError, match="Cannot merge on the meta device"):
        layer.merge()
    assert not layer.merged


def test_merging_a_shared_weight_is_refused():
    layer = make_layer(6, 5, 2, 4)
    layer.weight_shared_with = ("embeddings",)
    w0 = layer.base_layer.weight.clone()
    with pytest.raises(RuntimeError, match=r"shared with \['embeddings'\]"):
        layer.merge()
    assert torch.equal(layer.base_layer.weight, w0) and not layer.merged


def test_lora_scaling():
    assert lora_scaling(16, 4) == 4 and lora_scaling(16, 4, use_rslora=True) == 8
