"""Parameter counts, memory accounting and real model sizes on the meta device."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from toy_models import toy_input, toy_model
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

from lora_tutorial import (count_parameters, format_bytes, gradient_bytes, inject_lora,
                           lora_parameter_count, mark_only_lora_as_trainable,
                           optimizer_state_bytes, training_memory)
from lora_tutorial.course.skeletons import GPT2_SMALL, GPT3_175B, meta_skeleton

# LLaMA-2-7B's published shape (Touvron et al., 2023), as in its Hugging Face config.
LLAMA2_7B = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                        num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                        max_position_embeddings=4096)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 64), st.integers(1, 64), st.integers(1, 8), st.integers(1, 4))
def test_count_equals_r_d_plus_k_per_layer(d, k, r, n_layers):
    model = nn.Sequential(*[nn.Linear(k, d) if i % 2 == 0 else nn.Linear(d, k)
                            for i in range(n_layers)])
    names = inject_lora(model, r".*", r=r)
    mark_only_lora_as_trainable(model)
    assert count_parameters(model).trainable == len(names) * lora_parameter_count(d, k, r)


def test_string_is_peft_s_line_and_table_totals():
    model = toy_model()
    inject_lora(model, ["q_proj", "v_proj"], r=2)
    mark_only_lora_as_trainable(model)
    count = count_parameters(model)
    assert str(count) == (f"trainable params: {count.trainable:,d} || all params: "
                          f"{count.total:,d} || trainable%: {count.percent:.4f}")
    assert count.trainable == 4 * 2 * 16
    assert sum(t for t, _ in count.by_module.values()) == count.trainable
    assert sum(n for _, n in count.by_module.values()) == count.total
    blocks = count_parameters(model, depth=2).by_module
    assert list(blocks) == ["blocks.0", "blocks.1", "head"]
    assert count.table().endswith("| **total** | 128 | 1,323 | 9.67 |")
    assert "| ... 3 more modules |" in count.table(max_rows=20)


def test_llama2_7b_on_meta_matches_peft_line():
    with torch.device("meta"):
        model = LlamaForCausalLM(LLAMA2_7B)
    inject_lora(model, ["q_proj", "v_proj"], r=8)
    mark_only_lora_as_trainable(model)
    assert str(count_parameters(model)) == (
        "trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622")


def test_gpt3_175b_skeleton_counts():
    model = meta_skeleton(GPT3_175B)
    inject_lora(model, ["q_proj", "v_proj"], r=8)
    mark_only_lora_as_trainable(model)
    count = count_parameters(model)
    # The LoRA paper's table 4: 37.7M trainable for r=8 on Wq and Wv.
    assert count.trainable == 37_748_736
    assert count.total - count.trainable == 174_604_259_328
    assert all(p.device.type == "meta" for p in model.parameters())


def test_gpt2_skeleton_has_gpt2_s_size():
    assert count_parameters(meta_skeleton(GPT2_SMALL)).total == 124_439_808


def test_training_memory_prediction_matches_the_real_tensors():
    model = toy_model()
    inject_lora(model, ["q_proj", "v_proj"], r=2)
    mark_only_lora_as_trainable(model)
    predicted = training_memory(model, "adam")
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad])
    model(toy_input()).sum().backward()
    optimizer.step()
    assert gradient_bytes(model) == predicted.gradients == 4 * 2 * 16 * 4
    # Adam also keeps a one-number step counter per tensor (a scalar tensor).
    scalars = sum(4 if s["step"].dtype == torch.float32 else 8
                  for s in optimizer.state.values())
    assert optimizer_state_bytes(optimizer) - scalars == predicted.optimizer_state
    assert predicted.total == predicted.weights + predicted.gradients + predicted.optimizer_state
    with pytest.raises(ValueError, match="Unknown optimizer"):
        training_memory(model, "lion")


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(3_500_000) == "3.50 MB"
    assert format_bytes(2.5e12) == "2.50 TB"
    assert format_bytes(7e15) == "7000.00 TB"


def test_table_with_a_zero_size_parameter():
    empty = nn.Module()
    empty.weight = nn.Parameter(torch.empty(0, 4))                # a zero-size parameter
    model = nn.Sequential(nn.Linear(3, 2), empty)
    count = count_parameters(model)
    assert count.by_module["1"] == (0, 0)
    table = count.table()
    assert "| 1 | 0 | 0 | – |" in table
    assert table.endswith("| **total** | 8 | 8 | 100.00 |")
    assert str(count_parameters(empty)).endswith("all params: 0 || trainable%: 0.0000")
