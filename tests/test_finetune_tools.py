"""Tests for notebook 5's widget (the fine-tuning explorer) and exercise checker."""

import re

import pytest
import torch
from torch import nn

from lora_tutorial import inject_lora, mark_only_lora_as_trainable
from lora_tutorial.course.exercises.finetune import check_add_lora_to_attention
from lora_tutorial.course.widgets.finetune import FinetuneExplorer, RunResult, describe, smooth


# --- the exercise checker -------------------------------------------------------------------

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


# --- the explorer widget --------------------------------------------------------------------

def fake_run(final_loss: float, accuracy: float, trainable: int) -> RunResult:
    losses = [2.0 * (final_loss / 2.0) ** (step / 49) for step in range(50)]
    return RunResult(losses, accuracy, trainable, 152_202 + trainable)


@pytest.fixture
def explorer():
    results = {("q_proj, v_proj", 1): fake_run(0.5, 0.88, 768),
               ("q_proj, v_proj", 8): fake_run(0.05, 0.92, 6_144),
               ("q_proj, v_proj", 16): fake_run(0.04, 0.94, 12_288),
               ("o_proj", 8): fake_run(0.1, 0.93, 3_072)}
    references = {"full fine-tuning": RunResult(fake_run(0.003, 0.97, 0).losses, 0.97,
                                                152_202, 152_202)}
    return FinetuneExplorer(results, references, targets="q_proj, v_proj", r=1)


def test_explorer_starts_where_asked(explorer):
    assert explorer.rank.options == (1, 8, 16) and explorer.rank.value == 1
    assert "r = 1</b>: 768 trainable parameters" in explorer.label.value
    assert "88.0%" in explorer.label.value and "full fine-tuning: 97.0%" in explorer.label.value
    assert bytes(explorer.image.value).startswith(b"\x89PNG")


def test_explorer_follows_the_rank_control(explorer):
    label, image = explorer.label.value, bytes(explorer.image.value)
    explorer.rank.value = 16
    assert explorer.label.value != label and bytes(explorer.image.value) != image
    assert "12,288 trainable parameters" in explorer.label.value and "94.0%" in explorer.label.value


def test_explorer_offers_only_the_ranks_trained_for_the_chosen_targets(explorer):
    explorer.targets.value = "o_proj"
    assert explorer.rank.options == (8,) and explorer.rank.value == 8
    assert "LoRA on o_proj, r = 8" in explorer.label.value and "3,072" in explorer.label.value
    explorer.targets.value = "q_proj, v_proj"
    assert explorer.rank.value == 8          # the rank is kept when the new targets have it


def test_explorer_rejects_missing_results():
    with pytest.raises(ValueError, match="results is empty"):
        FinetuneExplorer({})
    with pytest.raises(ValueError, match="no results for targets 'fc1'"):
        FinetuneExplorer({("q_proj", 8): fake_run(0.1, 0.9, 100)}, targets="fc1")


def test_smooth_is_a_running_mean():
    assert smooth([1.0, 3.0, 5.0, 7.0], window=2) == [1.0, 2.0, 4.0, 6.0]
    assert smooth([4.0], window=10) == [4.0]


def test_describe_reports_share_of_parameters():
    line = describe("fc2", 4, RunResult([1.0], 0.5, 100, 1_000), {})
    assert "100 trainable parameters (10.00% of 1,000)" in line and "50.0%" in line
