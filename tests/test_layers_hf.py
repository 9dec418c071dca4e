"""LoRA on GPT-2's Conv1D and on nn.Embedding, and parity with PEFT on real architectures.

Each real architecture (GPT-2, LLaMA, BERT, OPT, ViT) is built once per module from a tiny
transformers config (no download); each test works on a deep copy.
"""

import copy
import warnings

import peft
import pytest
import torch
from torch import nn
from transformers import (BertConfig, BertModel, GPT2Config, GPT2LMHeadModel, GPT2Model,
                          LlamaConfig, LlamaForCausalLM, OPTConfig, OPTForCausalLM, ViTConfig,
                          ViTForImageClassification)
from transformers.pytorch_utils import Conv1D

from lora_tutorial import (LoRAConv1D, LoRAEmbedding, count_parameters, inject_lora,
                           load_adapter, lora_layers, lora_parameters,
                           mark_only_lora_as_trainable, merge_and_unload, merge_lora,
                           save_adapter, unmerge_lora)


def randomize_lora(model: nn.Module, seed: int = 3) -> None:
    """Give every LoRA tensor (A and B) random values, so adapters change the output."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, param in lora_parameters(model):
            param.copy_(torch.randn(param.shape, generator=generator) * 0.2)


# ---------------------------------------------------------------- the layers on their own

def test_conv1d_layer_shapes_forward_and_merge():
    torch.manual_seed(0)
    base = Conv1D(12, 5)                              # nf=12 outputs, nx=5 inputs: weight 5×12
    layer = LoRAConv1D(base, r=3, alpha=6)
    assert (layer.in_features, layer.out_features) == (5, 12)
    assert layer.lora_A.weight.shape == (3, 5) and layer.lora_B.weight.shape == (12, 3)
    x = torch.randn(2, 4, 5)
    assert torch.equal(layer(x), base(x))            # B = 0: starts equal to the base
    nn.init.normal_(layer.lora_B.weight)
    delta = layer.lora_B.weight @ layer.lora_A.weight * 2.0          # d×k, like nn.Linear
    expected = x @ (base.weight + delta.T) + base.bias                # stored k×d: transpose
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)
    assert layer.delta_weight().shape == base.weight.shape
    w0 = base.weight.clone()
    layer.merge()
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)
    layer.unmerge()
    torch.testing.assert_close(base.weight, w0, rtol=0, atol=1e-6)


def test_conv1d_layer_refuses_other_modules():
    with pytest.raises(TypeError, match="wraps a transformers Conv1D, got Linear"):
        LoRAConv1D(nn.Linear(3, 3), r=1, alpha=1)


def test_embedding_layer_names_init_forward_and_merge():
    torch.manual_seed(0)
    base = nn.Embedding(10, 6, padding_idx=0)
    layer = LoRAEmbedding(base, r=2, alpha=4)
    assert layer.lora_embedding_A.shape == (2, 10) and layer.lora_embedding_B.shape == (6, 2)
    assert torch.count_nonzero(layer.lora_embedding_A) == 0        # PEFT: A zero, B normal
    assert torch.count_nonzero(layer.lora_embedding_B) == 12
    ids = torch.tensor([[0, 3, 9], [4, 4, 1]])
    assert torch.equal(layer(ids), base(ids))
    # With A zero, B's gradient is zero but A's is not: training can start.
    layer(ids).square().sum().backward()
    assert torch.count_nonzero(layer.lora_embedding_B.grad) == 0
    assert torch.count_nonzero(layer.lora_embedding_A.grad) > 0
    nn.init.normal_(layer.lora_embedding_A)
    table = base.weight + (layer.lora_embedding_B @ layer.lora_embedding_A).T * 2.0
    torch.testing.assert_close(layer(ids), table[ids], rtol=1e-5, atol=1e-5)
    layer.merge()
    torch.testing.assert_close(base.weight, table, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(layer(ids), table[ids], rtol=1e-5, atol=1e-5)


def test_embedding_layer_refuses_subclasses_with_their_own_forward():
    class ShiftedEmbedding(nn.Embedding):
        def forward(self, ids):
            return super().forward(ids + 2)

    with pytest.raises(TypeError, match="wraps an nn.Embedding"):
        LoRAEmbedding(ShiftedEmbedding(10, 4), r=1, alpha=1)


def test_embedding_dropout_is_not_applied_and_says_so():
    with pytest.warns(UserWarning, match="not applied to an embedding"):
        LoRAEmbedding(nn.Embedding(5, 3), r=1, alpha=1, dropout=0.1)


# ---------------------------------------------------------------- real architectures

IDS = torch.randint(0, 64, (2, 7), generator=torch.Generator().manual_seed(0))
PIXELS = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    if name == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=64,
                                           n_positions=16))
    elif name == "llama":
        model = LlamaForCausalLM(LlamaConfig(hidden_size=16, intermediate_size=32,
                                             num_hidden_layers=2, num_attention_heads=2,
                                             num_key_value_heads=1, vocab_size=64,
                                             max_position_embeddings=16))
    elif name == "bert":
        model = BertModel(BertConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=32, vocab_size=64,
                                     max_position_embeddings=16))
    elif name == "opt":
        model = OPTForCausalLM(OPTConfig(hidden_size=16, num_hidden_layers=2, ffn_dim=32,
                                         num_attention_heads=2, vocab_size=64,
                                         max_position_embeddings=16, word_embed_proj_dim=16))
    else:
        model = ViTForImageClassification(ViTConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
            image_size=8, patch_size=4, num_channels=1, num_labels=3))
    return model.eval()


# (architecture, target_modules): Conv1D, nn.Linear, nn.Embedding, regex and "all-linear".
CASES = [
    ("gpt2", ["c_attn", "c_proj", "c_fc"]),
    ("gpt2", ["c_attn", "wpe"]),
    ("gpt2", "all-linear"),
    ("llama", ["q_proj", "v_proj", "embed_tokens"]),
    ("llama", "all-linear"),
    ("bert", ["query", "value", "word_embeddings"]),
    ("bert", "all-linear"),
    ("opt", ["q_proj", "v_proj"]),
    ("opt", r".*layers\.1\.(fc1|fc2)"),
    ("opt", "all-linear"),
    ("vit", ["q_proj", "v_proj"]),
    ("vit", "all-linear"),
]


@pytest.fixture(scope="module")
def base_models():
    return {name: build(name) for name in ("gpt2", "llama", "bert", "opt", "vit")}


def run(model: nn.Module, arch: str) -> torch.Tensor:
    with torch.no_grad():
        out = model(pixel_values=PIXELS) if arch == "vit" else model(input_ids=IDS)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


def pair(base_models, arch, targets, r=4, alpha=8):
    """Ours and PEFT's model on copies of one base, with the same random LoRA tensors."""
    ours = copy.deepcopy(base_models[arch])
    names = inject_lora(ours, targets, r=r, alpha=alpha)
    mark_only_lora_as_trainable(ours)
    randomize_lora(ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                # PEFT's notes on fan_in_fan_out etc.
        theirs = peft.get_peft_model(copy.deepcopy(base_models[arch]), peft.LoraConfig(
            r=r, lora_alpha=alpha, target_modules=targets))
    state = theirs.state_dict()
    for name, param in lora_parameters(ours):
        # PEFT's key has the adapter's name after the LoRA part: lora_A.default.weight.
        parts = name.split(".")
        at = next(i for i, part in enumerate(parts) if part.startswith("lora_")) + 1
        key = "base_model.model." + ".".join(parts[:at] + ["default"] + parts[at:])
        assert key in state, key
        state[key] = param.detach().clone()
    theirs.load_state_dict(state)
    return ours, theirs.eval(), names


@pytest.mark.parametrize("arch, targets", CASES)
def test_same_modules_counts_and_outputs_as_peft(base_models, arch, targets):
    ours, theirs, names = pair(base_models, arch, targets)
    base_out = run(base_models[arch], arch)
    assert sorted(names) == sorted(theirs.targeted_module_names)
    assert (count_parameters(ours).trainable, count_parameters(ours).total) == \
        theirs.get_nb_trainable_parameters()
    adapted = run(ours, arch)
    assert not torch.allclose(adapted, base_out, atol=1e-4)      # the adapter does something
    torch.testing.assert_close(adapted, run(theirs, arch), rtol=1e-4, atol=1e-5)
    merge_lora(ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.merge_adapter()
    torch.testing.assert_close(run(ours, arch), run(theirs, arch), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(run(ours, arch), adapted, rtol=1e-4, atol=1e-5)
    unmerge_lora(ours)
    torch.testing.assert_close(run(ours, arch), adapted, rtol=1e-4, atol=1e-5)
    plain = merge_and_unload(ours)
    assert not list(lora_layers(plain))
    assert {type(m) for m in plain.modules()} == {type(m) for m in base_models[arch].modules()}
    torch.testing.assert_close(run(plain, arch), adapted, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("arch, targets", [("gpt2", ["c_attn", "c_fc", "wpe"]),
                                           ("llama", ["q_proj", "embed_tokens"]),
                                           ("bert", "all-linear"), ("vit", ["q_proj"])])
def test_adapters_load_both_ways(base_models, arch, targets, tmp_path):
    ours, theirs, names = pair(base_models, arch, targets)
    expected = run(ours, arch)
    save_adapter(ours, tmp_path / "ours")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded_in_peft = peft.PeftModel.from_pretrained(copy.deepcopy(base_models[arch]),
                                                        tmp_path / "ours").eval()
        theirs.save_pretrained(tmp_path / "theirs")
    torch.testing.assert_close(run(loaded_in_peft, arch), expected, rtol=1e-4, atol=1e-5)
    mine = copy.deepcopy(base_models[arch])
    assert sorted(load_adapter(mine, tmp_path / "theirs")) == sorted(names)
    torch.testing.assert_close(run(mine, arch), expected, rtol=1e-4, atol=1e-5)


def test_gpt2_conv1d_layers_are_adapted_not_refused(base_models):
    model = copy.deepcopy(base_models["gpt2"])
    names = inject_lora(model, ["c_attn"], r=8)
    assert names == ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"]
    layer = model.transformer.h[0].attn.c_attn
    assert isinstance(layer, LoRAConv1D)
    # One A (8×16) and one B with all 3·16 = 48 output rows: q, k and v share A.
    assert layer.lora_A.weight.shape == (8, 16) and layer.lora_B.weight.shape == (48, 8)


def test_opt_learned_positions_are_refused_clearly(base_models):
    model = copy.deepcopy(base_models["opt"])
    with pytest.raises(ValueError, match=r"embed_positions \(OPTLearnedPositionalEmbedding\)"):
        inject_lora(model, ["embed_positions"])
    assert not list(lora_layers(model))
