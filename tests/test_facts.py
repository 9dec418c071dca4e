"""The course's facts match the models and the published numbers they stand for.

The expected values here are typed out on purpose, not imported: a test that imported the
fact it checks could not fail.
"""

import pytest
import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

from lora_tutorial.course import facts
from lora_tutorial.course.models import TinyGPT, TinyGPTConfig, TinyViT, TinyViTConfig
from lora_tutorial.course.skeletons import meta_skeleton


def _linear_names_of_first_block(blocks: nn.ModuleList) -> list[str]:
    return [name.rsplit(".", 1)[-1] for name, module in blocks[0].named_modules()
            if isinstance(module, nn.Linear)]


def test_target_lists_are_every_linear_of_a_block():
    vit = TinyViT(TinyViTConfig(dim=8, depth=1, heads=2))
    gpt = TinyGPT(TinyGPTConfig(context=4, dim=8, depth=1, heads=2, mlp_hidden=8))
    assert facts.BLOCK_LINEARS == _linear_names_of_first_block(vit.blocks)
    assert facts.GPT_LINEARS == _linear_names_of_first_block(gpt.layers)


def test_recipes_and_bytes_are_the_documented_numbers():
    assert (facts.BATCH, facts.STEPS, facts.LORA_LR) == (64, 100, 1e-2)
    assert (facts.CODE_STEPS, facts.CODE_BATCH) == (30, 16)
    assert facts.CODE_LEARNING_RATES["full fine-tuning"] == 1e-3
    assert facts.BYTES_PER_TRAINED_PARAMETER == 4 + 4 + 8 == 2 + 2 + 4 + 8
    assert facts.ADAM_STATE_BYTES == 8


@pytest.mark.parametrize("name, published", [
    ("GPT-2 small (124M)", 124_439_808), ("GPT-2 XL (1.5B)", 1_557_611_200),
    ("LLaMA-2-7B", 6_738_415_616), ("GPT-3 175B", 174_604_259_328)])
def test_parameter_counts_follow_from_the_shapes(name, published):
    assert facts.MODEL_SHAPES[name].n_params == published


@pytest.mark.parametrize("name", ["GPT-2 small (124M)", "GPT-2 XL (1.5B)", "GPT-3 175B"])
def test_the_meta_skeleton_has_the_count_of_its_shape(name):
    shape = facts.MODEL_SHAPES[name]
    assert sum(p.numel() for p in meta_skeleton(shape).parameters()) == shape.n_params


def test_the_llama_count_is_what_transformers_builds():
    shape = facts.LLAMA2_7B
    config = LlamaConfig(hidden_size=shape.d_model, intermediate_size=shape.d_ff,
                         num_hidden_layers=shape.n_layers, vocab_size=shape.vocab_size,
                         num_attention_heads=32, max_position_embeddings=shape.n_positions)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    assert sum(p.numel() for p in model.parameters()) == shape.n_params


def test_a_layout_the_skeleton_does_not_have_is_refused():
    with pytest.raises(ValueError, match="shape.n_params"):
        meta_skeleton(facts.LLAMA2_7B)
    with pytest.raises(ValueError, match="'gelu' .* 'swiglu'"):
        facts.DecoderShape(1, 2, 3, 4, 5, feed_forward="relu").n_params
