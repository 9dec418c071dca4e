"""Injecting, freezing, merging and unloading LoRA layers in a whole model."""

import warnings

import numpy as np
import peft
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from refusal import unchanged
from toy_models import (assert_same_weights, randomize_lora_b, toy_input, toy_model,
                        weights_snapshot)
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

from lora_tutorial import (LoRALinear, count_parameters, disable_lora, inject_lora,
                           lora_layers, lora_parameters, mark_only_lora_as_trainable,
                           merge_and_unload, merge_lora, unmerge_lora)


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


@pytest.mark.parametrize("pattern", [r"blocks\.(0\.attn", "*_proj", "q_proj\\"])
def test_an_invalid_regex_is_a_value_error_naming_it_before_any_change(pattern):
    model = toy_model()
    snapshot = weights_snapshot(model)
    with pytest.raises(ValueError, match="not a valid one") as err:
        inject_lora(model, pattern)
    assert repr(pattern) in str(err.value) and "re.escape" in str(err.value)
    assert not list(lora_layers(model))
    assert_same_weights(model, snapshot)


def test_the_tying_warning_points_at_the_caller():
    model = tiny_gpt2()
    with pytest.warns(UserWarning, match="weight tying") as caught:
        inject_lora(model, ["lm_head"], r=2)
    assert caught[0].filename == __file__


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


@pytest.mark.parametrize("settings", [{"alpha": float("nan")}, {"alpha": "16"},
                                      {"use_rslora": "no"}, {"dropout": 1.0}, {"r": 2.0}])
def test_bad_settings_are_refused_before_any_change(settings):
    model = toy_model()
    snapshot = weights_snapshot(model)
    with pytest.raises(ValueError):
        inject_lora(model, ["q_proj"], **settings)
    assert not list(lora_layers(model))
    assert_same_weights(model, snapshot)


def test_numpy_rank_is_accepted():
    model = toy_model()
    inject_lora(model, ["q_proj"], r=np.int32(3))
    assert model.blocks[0].attn.q_proj.r == 3


def test_all_linear_matches_peft_on_a_plain_module():
    # A model without get_output_embeddings(): PEFT adapts every linear layer, head included.
    model = toy_model()
    names = inject_lora(model, "all-linear", r=2)
    theirs = peft.get_peft_model(toy_model(), peft.LoraConfig(r=2, target_modules="all-linear"))
    assert sorted(names) == sorted(theirs.targeted_module_names)
    assert len(names) == 13 and "head" in names


def tiny_gpt2(tied=True):
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=32,
                                      n_positions=8, tie_word_embeddings=tied)).eval()


def test_all_linear_leaves_out_the_output_layer():
    model = tiny_gpt2()
    names = inject_lora(model, "ALL-LINEAR", r=2)       # case-insensitive, as in PEFT
    assert names == ["transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj",
                     "transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj"]


def test_all_linear_without_linear_layers_says_what_exists():
    model = nn.Sequential(nn.Embedding(5, 3), nn.ReLU())
    with pytest.raises(ValueError, match=r"found no nn.Linear or Conv1D.*0 \(Embedding\)"):
        inject_lora(model, "all-linear")


def test_a_bare_linear_root_is_told_to_wrap_it_directly():
    with pytest.raises(ValueError, match=r"matched no module.*itself is a single Linear.*"
                                         r"LoRALinear\(model"):
        inject_lora(nn.Linear(4, 4), ["q_proj"])


def test_no_match_in_gpt2_lists_its_conv1d_and_embedding_names():
    model = GPT2Model(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=32, n_positions=8))
    with pytest.raises(ValueError) as err:
        inject_lora(model, ["q_proj", "v_proj"])
    message = str(err.value)
    assert "h.0.attn.c_attn (Conv1D)" in message and "wte (Embedding)" in message
    assert "'c_attn'" in message and "[]" not in message


def test_nothing_adaptable_is_said_plainly():
    with pytest.raises(ValueError, match="has no nn.Linear, Conv1D or nn.Embedding"):
        inject_lora(nn.Sequential(nn.ReLU()), ["q_proj"])


def test_tied_output_layer_warns_and_merging_is_refused():
    model = tiny_gpt2()
    ids = torch.tensor([[1, 5, 7, 2]])
    embeddings = model.transformer.wte.weight.detach().clone()
    with pytest.warns(UserWarning, match=r"lm_head is shared with \['transformer.wte'\]"):
        inject_lora(model, ["lm_head", "c_attn"], r=2)
    randomize_lora_b(model)
    layer = model.lm_head
    hidden = model.transformer(ids).last_hidden_state
    expected = hidden @ (embeddings + layer.delta_weight()).T      # wte itself unchanged
    torch.testing.assert_close(model(ids).logits, expected, rtol=1e-5, atol=1e-5)
    snapshot = weights_snapshot(model)
    for merge in (merge_lora, merge_and_unload, lambda m: m.lm_head.merge()):
        with pytest.raises(RuntimeError, match="shared with"):
            merge(model)
        assert_same_weights(model, snapshot)
        assert not any(layer.merged for _, layer in lora_layers(model))
    assert torch.equal(model.transformer.wte.weight, embeddings)


def test_untied_output_layer_merges_normally():
    model = tiny_gpt2(tied=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # no weight-tying warning
        inject_lora(model, ["lm_head"], r=2)
    randomize_lora_b(model)
    merge_lora(model)
    assert model.lm_head.merged


def test_merge_lora_on_the_meta_device_is_refused_before_any_change():
    with torch.device("meta"):
        model = toy_model()
    inject_lora(model, ["q_proj"], r=2)
    with pytest.raises(RuntimeError, match="meta device.*no layer was merged"):
        merge_lora(model)
    assert not any(layer.merged for _, layer in lora_layers(model))


def test_embeddings_and_conv1d_are_trainable_lora_parameters():
    model = tiny_gpt2(tied=False)
    inject_lora(model, ["wte", "c_fc"], r=2)
    mark_only_lora_as_trainable(model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"transformer.wte.lora_embedding_A", "transformer.wte.lora_embedding_B",
                         "transformer.h.0.mlp.c_fc.lora_A.weight",
                         "transformer.h.0.mlp.c_fc.lora_B.weight"}
    assert {n for n, _ in lora_parameters(model)} == trainable


# Faults: a refused call leaves the model exactly as it was.

def test_a_rank_too_large_to_allocate_is_refused_and_nothing_changes():
    model = toy_model()
    with unchanged(model), pytest.raises(RuntimeError, match=r"Could not build the LoRA layer "
                                         r"for blocks\.0\.attn\.q_proj.*left unchanged"):
        inject_lora(model, ["q_proj"], r=2**50)          # petabytes: the allocator refuses


def test_a_failure_at_the_second_layer_leaves_the_first_as_it_was(monkeypatch):
    model = toy_model()
    real_init, built = LoRALinear.__init__, []

    def allocation_fails_the_second_time(self, *args, **kwargs):
        real_init(self, *args, **kwargs)                 # this froze the wrapped layer
        built.append(self)
        if len(built) == 2:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(LoRALinear, "__init__", allocation_fails_the_second_time)
    with unchanged(model), pytest.raises(RuntimeError, match=r"blocks\.0\.attn\.v_proj.*"
                                                             r"can't allocate"):
        inject_lora(model, ["q_proj", "v_proj"], r=2)
    assert len(built) == 2


def encoder_layer():
    torch.manual_seed(0)
    return nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)


@pytest.mark.parametrize("targets, named", [
    (["out_proj"], r"self_attn\.out_proj \(in a MultiheadAttention\)"),
    (["linear1"], r"linear1 \(in a TransformerEncoderLayer\)"),
    ("all-linear", r"self_attn\.out_proj .*linear1 .*linear2 "),
])
def test_layers_whose_weight_the_parent_reads_directly_are_refused(targets, named):
    model = encoder_layer()
    with unchanged(model), pytest.raises(ValueError, match=named) as err:
        inject_lora(model, targets, r=2)
    assert "reads its weight directly" in str(err.value) and "q_proj" in str(err.value)


def test_a_multihead_attention_out_proj_really_breaks_the_forward():
    """Why the refusal above: wrapped anyway, MultiheadAttention fails at the first forward."""
    from lora_tutorial.core.inject import build_lora_layers, install_lora_layers
    from lora_tutorial.core.settings import LoRASettings

    model = encoder_layer()
    layers = build_lora_layers(model, {"self_attn.out_proj": LoRASettings(2, 4)})
    install_lora_layers(model, layers)
    with pytest.raises(AttributeError, match="weight"):
        model(torch.randn(2, 3, 8))


def test_nested_disable_blocks_restore_the_state_each_found():
    model, x = toy_model(), toy_input()
    base = model(x)
    inject_lora(model, ["q_proj", "v_proj"], r=2)
    randomize_lora_b(model)
    adapted = model(x)
    with disable_lora(model):
        with disable_lora(model):
            assert torch.equal(model(x), base)
        assert torch.equal(model(x), base)               # still off inside the outer block
    assert torch.equal(model(x), adapted)
    model.blocks[0].attn.q_proj.disabled = True          # switched off by hand, before
    with disable_lora(model):
        pass
    assert model.blocks[0].attn.q_proj.disabled and not model.blocks[0].attn.v_proj.disabled


def weight_normed_model(parametrize):
    model = toy_model()
    model.blocks[0].attn.q_proj = parametrize(model.blocks[0].attn.q_proj)
    return model


@pytest.mark.parametrize("parametrize", [nn.utils.parametrizations.weight_norm,
                                         nn.utils.parametrizations.spectral_norm])
def test_merging_into_a_computed_weight_is_refused(parametrize):
    model, x = weight_normed_model(parametrize).eval(), toy_input()
    inject_lora(model, ["q_proj", "v_proj"], r=2)
    randomize_lora_b(model)
    adapted = model(x)
    for merge in (merge_lora, merge_and_unload, lambda m: m.blocks[0].attn.q_proj.merge()):
        with unchanged(model), pytest.raises(RuntimeError, match=r"not a stored parameter.*"
                                                                 r"parametrization"):
            merge(model)
    assert torch.allclose(model(x), adapted)             # unmerged, LoRA works as before


@pytest.mark.parametrize("adapt", [["0"], ["1"]])
def test_parameters_over_one_storage_count_as_tied(adapt):
    """Two distinct Parameters over one memory (head.weight = nn.Parameter(emb.weight.data))
    are tied as surely as one shared Parameter: merging into one would change the other."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False))
    model[1].weight = nn.Parameter(model[0].weight.data)
    other = "1" if adapt == ["0"] else "0"
    with pytest.warns(UserWarning, match=rf"shared with \['{other}'\] \(weight tying\)"):
        inject_lora(model, adapt, r=2)
    randomize_lora_b(model)
    with torch.no_grad():                               # the embedding's B starts random anyway
        for name, param in model.named_parameters():
            if "lora_embedding_A" in name:
                param.normal_()
    for merge in (merge_lora, merge_and_unload):
        with unchanged(model), pytest.raises(RuntimeError, match="shared with"):
            merge(model)
