"""Injecting, freezing, merging and unloading LoRA layers in a whole model."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from toy_models import (assert_same_weights, randomize_lora_b, toy_input, toy_model,
                        weights_snapshot)
from torch import nn

from lora_tutorial import (LoRALinear, count_parameters, disable_lora, inject_lora,
                           lora_layers, mark_only_lora_as_trainable, merge_and_unload,
                           merge_lora, unmerge_lora)


def test_list_targets_match_exact_names_and_dotted_suffixes():
    model = toy_model()
    names = inject_lora(model, ["q_proj", "blocks.1.attn.v_proj", "head"], r=2)
    assert names == ["blocks.0.attn.q_proj", "blocks.1.attn.q_proj",
                     "blocks.1.attn.v_proj", "head"]
    assert isinstance(model.blocks[1].attn.v_proj, LoRALinear)
    assert isinstance(model.blocks[0].attn.v_proj, nn.Linear)


def test_suffix_must_be_a_whole_name_part():
    model = toy_model()
    with pytest.raises(ValueError, match="matched no module"):
        inject_lora(model, ["proj"])  # "q_proj" does not end with ".proj"


def test_regex_target_must_match_the_whole_name():
    model = toy_model()
    names = inject_lora(model, r"blocks\.0\.attn\.(q|v)_proj", r=2)
    assert names == ["blocks.0.attn.q_proj", "blocks.0.attn.v_proj"]


def test_injected_model_starts_equal_to_base():
    model, x = toy_model(), toy_input()
    before = model(x)
    inject_lora(model, ["q_proj", "k_proj", "v_proj", "o_proj", "fc1", "fc2"], r=4)
    assert torch.equal(model(x), before)


def test_nothing_matches_lists_linear_names_and_changes_nothing():
    model = toy_model()
    snapshot = weights_snapshot(model)
    with pytest.raises(ValueError) as err:
        inject_lora(model, ["query"])
    message = str(err.value)
    assert "matched no module" in message
    assert "blocks.0.attn.q_proj" in message and "head" in message
    assert "'fc1'" in message  # the short names too
    assert_same_weights(model, snapshot)


def test_non_linear_match_is_refused_before_any_change():
    model = toy_model()
    snapshot = weights_snapshot(model)
    with pytest.raises(ValueError, match=r"only adapt nn.Linear.*blocks.0.norm \(LayerNorm\)"):
        inject_lora(model, ["q_proj", "norm"])
    assert not list(lora_layers(model))
    assert_same_weights(model, snapshot)


def test_injecting_twice_is_refused():
    model = toy_model()
    inject_lora(model, ["q_proj"], r=2)
    snapshot = weights_snapshot(model)
    with pytest.raises(ValueError, match="Already adapted"):
        inject_lora(model, ["q_proj", "v_proj"], r=2)
    with pytest.raises(ValueError, match="Already adapted"):
        inject_lora(model, r".*q_proj\.base_layer")
    assert_same_weights(model, snapshot)
    assert len(list(lora_layers(model))) == 2


@pytest.mark.parametrize("bad", [[], 3, ["q_proj", 4]])
def test_malformed_target_modules(bad):
    with pytest.raises(ValueError, match="target_modules must be"):
        inject_lora(toy_model(), bad)


def test_bad_rank_leaves_model_unchanged():
    model = toy_model()
    with pytest.raises(ValueError, match="rank r"):
        inject_lora(model, ["q_proj"], r=0)
    assert not list(lora_layers(model))


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 8), st.floats(0.5, 32))
def test_only_lora_gets_gradients_and_w0_is_bit_identical(r, alpha):
    model, x = toy_model(), toy_input()
    inject_lora(model, ["q_proj", "v_proj"], r=r, alpha=alpha)
    mark_only_lora_as_trainable(model)
    randomize_lora_b(model)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" not in n}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model(x).square().sum().backward()
    optimizer.step()
    for name, param in model.named_parameters():
        if "lora_" in name:
            assert param.grad is not None and param.grad.abs().sum() > 0, name
        else:
            assert param.grad is None, name
            assert torch.equal(param, frozen[name]), name


def test_count_is_r_times_d_plus_k_per_adapted_layer():
    model = toy_model()
    inject_lora(model, ["q_proj", "v_proj", "fc1"], r=3)
    mark_only_lora_as_trainable(model)
    # q_proj, v_proj: 8×8; fc1: 16×8; two blocks.
    assert count_parameters(model).trainable == 2 * (3 * 16 + 3 * 16 + 3 * 24)


def test_bias_options():
    model = toy_model()
    inject_lora(model, ["q_proj"], r=2)
    mark_only_lora_as_trainable(model, bias="lora_only")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "blocks.0.attn.q_proj.base_layer.bias" in trainable
    assert "blocks.0.attn.k_proj.bias" not in trainable
    mark_only_lora_as_trainable(model, bias="all")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {"blocks.0.attn.k_proj.bias", "head.bias", "blocks.0.norm.bias"} <= trainable
    assert "blocks.0.attn.k_proj.weight" not in trainable
    with pytest.raises(ValueError, match="bias must be"):
        mark_only_lora_as_trainable(model, bias="some")


def test_merge_unmerge_and_unload_keep_the_function():
    model, x = toy_model(), toy_input()
    inject_lora(model, ["q_proj", "v_proj", "fc2"], r=2)
    randomize_lora_b(model)
    adapted = model(x)
    merge_lora(model)
    assert all(layer.merged for _, layer in lora_layers(model))
    assert torch.allclose(model(x), adapted, atol=1e-5)
    unmerge_lora(model)
    assert torch.allclose(model(x), adapted, atol=1e-5)
    plain = merge_and_unload(model)
    assert not list(lora_layers(plain))
    assert type(plain.blocks[0].attn.q_proj) is nn.Linear
    assert torch.allclose(plain(x), adapted, atol=1e-5)


def test_merge_lora_is_all_or_nothing():
    model = toy_model()
    inject_lora(model, ["q_proj", "v_proj"], r=2)
    randomize_lora_b(model)
    with torch.no_grad():
        model.blocks[1].attn.v_proj.lora_B.weight[0, 0] = float("nan")
    snapshot = weights_snapshot(model)
    with pytest.raises(ValueError, match="blocks.1.attn.v_proj.*no layer was merged"):
        merge_lora(model)
    assert not any(layer.merged for _, layer in lora_layers(model))
    assert_same_weights(model, snapshot)


def test_disable_lora_gives_base_behaviour():
    model, x = toy_model(), toy_input()
    base = model(x)
    inject_lora(model, ["q_proj", "v_proj"], r=2)
    randomize_lora_b(model)
    adapted = model(x)
    assert not torch.allclose(adapted, base)
    with disable_lora(model):
        assert torch.equal(model(x), base)
    assert torch.equal(model(x), adapted)
    merge_lora(model)
    with pytest.raises(RuntimeError, match="unmerge"):
        with disable_lora(model):
            pass
