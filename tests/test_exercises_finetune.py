"""The add-LoRA-to-attention checker of notebook 5 (lora_tutorial.course.exercises.finetune)."""

import re

import pytest
import torch
from torch import nn

from lora_tutorial import inject_lora, mark_only_lora_as_trainable
from lora_tutorial.course.exercises.finetune import check_add_lora_to_attention


def correct(model, r, alpha):
    inject_lora(model, ["q_proj", "v_proj"], r=r, alpha=alpha)
    mark_only_lora_as_trainable(model)


def test_checker_accepts_a_correct_solution(capsys):
    check_add_lora_to_attention(correct)
    out = capsys.readouterr().out
    assert out.startswith("✓ Correct:")
    # 3 blocks × 2 projections × r·(64 + 64): r=8 → 6,144 and r=2 → 1,536
    assert "r=8: 6,144 of 158,346" in out and "r=2: 1,536 of 153,738" in out


def test_checker_leaves_the_global_random_stream_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_add_lora_to_attention(correct)
    assert torch.equal(torch.rand(3), expected)


def forgets_to_freeze(model, r, alpha):
    inject_lora(model, ["q_proj", "v_proj"], r=r, alpha=alpha)


def query_only(model, r, alpha):
    inject_lora(model, ["q_proj"], r=r, alpha=alpha)
    mark_only_lora_as_trainable(model)


def adds_keys_too(model, r, alpha):
    inject_lora(model, ["q_proj", "k_proj", "v_proj"], r=r, alpha=alpha)
    mark_only_lora_as_trainable(model)


def fixed_rank(model, r, alpha):
    inject_lora(model, ["q_proj", "v_proj"], r=8, alpha=alpha)
    mark_only_lora_as_trainable(model)


def fixed_alpha(model, r, alpha):
    inject_lora(model, ["q_proj", "v_proj"], r=r, alpha=16)
    mark_only_lora_as_trainable(model)


def trains_the_head(model, r, alpha):
    correct(model, r, alpha)
    model.head.requires_grad_(True)


def trains_w0(model, r, alpha):
    correct(model, r, alpha)
    for layer in (block.attn.q_proj for block in model.blocks):
        layer.base_layer.weight.requires_grad_(True)


def freezes_everything(model, r, alpha):
    correct(model, r, alpha)
    model.requires_grad_(False)


def random_b(model, r, alpha):
    correct(model, r, alpha)
    nn.init.normal_(model.blocks[1].attn.v_proj.lora_B.weight)


def changes_w0(model, r, alpha):
    correct(model, r, alpha)
    with torch.no_grad():
        model.blocks[0].attn.q_proj.base_layer.weight.mul_(0.5)


def does_nothing(model, r, alpha):
    pass


def wrong_name(model, r, alpha):
    inject_lora(model, ["query"], r=r, alpha=alpha)


@pytest.mark.parametrize("solution, message", [
    (forgets_to_freeze, "mark_only_lora_as_trainable"),
    (query_only, "have no LoRA layer: blocks.0.attn.v_proj"),
    (adds_keys_too, "also put on blocks.0.attn.k_proj"),
    (fixed_rank, "asked for r=2"),
    (fixed_alpha, "asked for alpha=4"),
    (trains_the_head, "head.weight, head.bias are trainable"),
    (trains_w0, "blocks.0.attn.q_proj.base_layer.weight"),
    (freezes_everything, "nothing trains"),
    (random_b, "B is not zero in blocks.1.attn.v_proj"),
    (changes_w0, "pretrained values of blocks.0.attn.q_proj.weight changed"),
    (does_nothing, "has no LoRA layers"),
    (wrong_name, "raised ValueError"),
])
def test_checker_explains_what_is_wrong(solution, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_add_lora_to_attention(solution)
