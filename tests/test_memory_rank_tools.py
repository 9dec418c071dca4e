"""Tests for notebook 1's and 2's widgets (memory, rank) and exercise checkers."""

import re

import pytest
import torch
from torch import nn

from lora_tutorial.course.exercises.freezing import check_freeze_all_but_last
from lora_tutorial.course.exercises.low_rank import check_rank_for_energy, check_rank_r_approx
from lora_tutorial.core.lowrank import low_rank_approximation, rank_for_energy
from lora_tutorial.course.widgets.memory import (CUSTOM, PRESETS, MemoryExplorer, estimate_shape,
                                          lora_qv_parameters, memory_breakdown)
from lora_tutorial.course.widgets.rank import RankExplorer, load_image_matrix, rank_r_summary


# --- memory widget -------------------------------------------------------------------------

def test_lora_counts_match_the_published_numbers():
    # PEFT's LLaMA-2-7B line and the LoRA paper's GPT-3 count (r=8 on Wq, Wv).
    assert lora_qv_parameters(PRESETS["LLaMA-2-7B"], 8) == 4_194_304
    assert lora_qv_parameters(PRESETS["GPT-3 175B"], 8) == 37_748_736
    assert lora_qv_parameters(PRESETS["GPT-3 175B"], 1) == 4_718_592


def test_memory_breakdown_bytes_per_parameter():
    n = 1000
    fp32 = memory_breakdown(n, 4, lora_trainable=10, master_copy=True)
    assert sum(fp32["full fine-tuning"].values()) == 16 * n  # no master copy in fp32
    assert sum(fp32["inference"].values()) == 4 * n
    assert sum(fp32["LoRA fine-tuning"].values()) == 4 * n + 16 * 10
    bf16 = memory_breakdown(n, 2, lora_trainable=10, master_copy=False)
    assert sum(bf16["full fine-tuning"].values()) == 12 * n
    mixed = memory_breakdown(n, 2, lora_trainable=10, master_copy=True)
    assert sum(mixed["full fine-tuning"].values()) == 16 * n
    assert mixed["LoRA fine-tuning"]["fp32 master copy"] == 40


def test_estimate_shape_recovers_known_models():
    llama13 = estimate_shape(13e9)
    assert (llama13.d_model, llama13.n_layers) == (5120, 40)  # LLaMA-2-13B's real shape
    gpt3 = estimate_shape(PRESETS["GPT-3 175B"].n_params)
    assert (gpt3.d_model, gpt3.n_layers) == (12288, 96)


def test_memory_explorer_reacts_to_its_controls():
    explorer = MemoryExplorer()
    assert "107.81 GB" in explorer.table.value  # LLaMA-2-7B, mixed precision, 16 B/param
    image, table, note = bytes(explorer.image.value), explorer.table.value, explorer.note.value
    assert image.startswith(b"\x89PNG")
    explorer.preset.value = "GPT-3 175B"
    assert explorer.table.value != table and bytes(explorer.image.value) != image
    assert "37,748,736" in explorer.note.value
    explorer.r.value = 1
    assert "4,718,592" in explorer.note.value
    assert explorer.custom_billions.disabled
    explorer.preset.value = CUSTOM
    assert not explorer.custom_billions.disabled
    explorer.custom_billions.value = 13
    assert "shape estimated" in explorer.note.value and "13,000,000,000" in explorer.note.value
    explorer.dtype.value = "fp32"
    assert explorer.master_copy.disabled
    assert explorer.breakdown["full fine-tuning"]["fp32 master copy"] == 0
    assert note != explorer.note.value


# --- rank widget ---------------------------------------------------------------------------

def test_image_matrix_is_grayscale_and_small():
    image = load_image_matrix()
    assert image.shape == (106, 160)
    assert 0 <= image.min() and image.max() <= 1


def test_rank_explorer_error_falls_with_the_slider():
    explorer = RankExplorer(load_image_matrix(), r=5)
    error5, label5, image5 = explorer.error, explorer.label.value, bytes(explorer.image.value)
    explorer.slider.value = 40
    assert explorer.error < error5
    assert explorer.label.value != label5 and bytes(explorer.image.value) != image5
    assert "r·(d + k) = 10,640" in explorer.label.value
    explorer.slider.value = explorer.slider.max
    assert explorer.error < 1e-5


def test_rank_r_summary():
    assert rank_r_summary(100, 150, 10, 0.1234) == (
        "rank r = 10: relative error 12.3% · stores r·(d + k) = 2,500 numbers, "
        "16.7% of d·k = 15,000")


# --- freezing checker ----------------------------------------------------------------------

def freeze_right(model):
    for p in model.parameters():
        p.requires_grad_(False)
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    for p in last.parameters():
        p.requires_grad_(True)


def freeze_nothing(model):
    pass


def freeze_everything(model):
    for p in model.parameters():
        p.requires_grad = False


def freeze_forgets_bias(model):
    freeze_everything(model)
    [m for m in model.modules() if isinstance(m, nn.Linear)][-1].weight.requires_grad = True


def freeze_by_index(model):
    freeze_everything(model)
    for p in model[4].parameters():
        p.requires_grad = True


def freeze_by_reinitialising(model):
    freeze_everything(model)
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    nn.init.zeros_(last.bias)
    last.bias.requires_grad = True
    last.weight.requires_grad = True


def freeze_last_child(model):
    freeze_everything(model)
    for p in list(model.children())[-1].parameters():
        p.requires_grad = True


def freeze_head_or_last_item(model):
    freeze_everything(model)
    last = model.head if hasattr(model, "head") else model[-1]
    for p in last.parameters():
        p.requires_grad = True


def test_freezing_checker_accepts_a_right_answer(capsys):
    check_freeze_all_but_last(freeze_right)
    out = capsys.readouterr().out
    assert out.startswith("✓ Correct: only the last layer trains")
    assert "51 of 467 parameters" in out


@pytest.mark.parametrize("wrong, message", [
    (freeze_nothing, "still train: 0.weight"),
    (freeze_everything, "4.weight, 4.bias are frozen, but they belong to the last layer (4)"),
    (freeze_forgets_bias, "4.bias is frozen"),
    (freeze_by_index, "raised TypeError"),
    (freeze_by_reinitialising, "changed the values of 4.bias"),
    (freeze_last_child, "classifier.weight, classifier.bias are frozen, but they belong to "
                        "the last layer (classifier), the one part meant to learn. With it "
                        "frozen, nothing trains. Here the last nn.Linear is 'classifier', but "
                        "the last child is 'dropout': find the layer by its type"),
    (freeze_head_or_last_item, "raised TypeError: '_ClassifierThenDropout' object is not "
                               "subscriptable Here the last nn.Linear is 'classifier'"),
])
def test_freezing_checker_explains_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_freeze_all_but_last(wrong)


# --- low-rank checkers ---------------------------------------------------------------------

def approx_right(m, r):
    u, s, vh = torch.linalg.svd(m, full_matrices=False)
    return u[:, :r] @ torch.diag(s[:r]) @ vh[:r, :]


def approx_smallest(m, r):
    u, s, vh = torch.linalg.svd(m, full_matrices=False)
    return (u[:, -r:] * s[-r:]) @ vh[-r:]


def approx_without_s(m, r):
    u, _, vh = torch.linalg.svd(m, full_matrices=False)
    return u[:, :r] @ vh[:r]


def approx_factors_only(m, r):
    u, s, _ = torch.linalg.svd(m, full_matrices=False)
    return u[:, :r] * s[:r]


def approx_too_many(m, r):
    return low_rank_approximation(m, min(r + 1, min(m.shape)))


def approx_in_place(m, r):
    m.mul_(1.0)
    m[0, 0] += 1
    return low_rank_approximation(m, r)


def test_rank_r_checker_accepts_a_right_answer(capsys):
    check_rank_r_approx(approx_right)
    assert capsys.readouterr().out.startswith("✓ Correct: rank_r_approx matches")


@pytest.mark.parametrize("wrong, message", [
    (approx_smallest, "*smallest* singular values"),
    (approx_without_s, "without the singular values"),
    (approx_factors_only, "you returned shape (12, 1)"),
    (approx_too_many, "has rank 2: keep only the first"),
    (approx_in_place, "changed its input matrix in place"),
    (lambda m, r: m.numpy(), "not a torch.Tensor"),
])
def test_rank_r_checker_explains_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_rank_r_approx(wrong)


def energy_right(m, energy):
    s2 = torch.linalg.svdvals(m) ** 2
    return int((torch.cumsum(s2, 0) / s2.sum() < energy).sum()) + 1


def energy_off_by_one(m, energy):
    return energy_right(m, energy) - 1


def energy_one_too_many(m, energy):
    return energy_right(m, energy) + 1


def energy_unsquared(m, energy):
    s = torch.linalg.svdvals(m)
    return int((torch.cumsum(s, 0) / s.sum() < energy).sum()) + 1


def energy_passes_instead_of_reaches(m, energy):
    s2 = torch.linalg.svdvals(m) ** 2
    return int((torch.cumsum(s2, 0) / s2.sum() <= energy).sum()) + 1   # > instead of ≥


def energy_not_normalised(m, energy):
    s2 = torch.linalg.svdvals(m) ** 2
    return int((torch.cumsum(s2, 0) < energy).sum()) + 1                # forgot / s2.sum()


def test_energy_checker_accepts_a_right_answer(capsys):
    check_rank_for_energy(energy_right)
    check_rank_for_energy(rank_for_energy)
    assert capsys.readouterr().out.count("Correct:") == 2


@pytest.mark.parametrize("wrong, message", [
    (energy_off_by_one, "one too few"),
    (energy_one_too_many, "one too many"),
    (energy_unsquared, "*squared* singular values"),
    (lambda m, e: 2.5, "whole number"),
    (energy_passes_instead_of_reaches, "for 50% you returned 3, one too many: 2 components "
                                       "already keep 50.0%"),
    (energy_not_normalised, "one too few"),
])
def test_energy_checker_explains_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_rank_for_energy(wrong)
