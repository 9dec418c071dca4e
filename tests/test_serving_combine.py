"""Combining adapters (lora_tutorial.serving.combine), from scratch, equal to PEFT's
add_weighted_adapter for every deterministic type, and to PEFT's DARE masks under one seed."""

import peft
import pytest
import torch
from peft.utils import merge_utils

from lora_tutorial.course.models.gpt import load_pretrained_gpt
from lora_tutorial.serving.combine import (COMBINATIONS, combine_adapters, magnitude_prune,
                                           random_prune, sign_conflicts, ties_merge)

TARGETS = ["q_proj", "v_proj"]
DETERMINISTIC = [kind for kind in COMBINATIONS if not kind.startswith("dare")]


def two_adapters(r=(4, 4)):
    adapters = []
    for seed, rank in enumerate(r):
        generator = torch.Generator().manual_seed(seed)
        adapters.append({f"layers.{i}.self_attn.{p}": (
            torch.randn(rank, 128, generator=generator) * 0.1,
            torch.randn(128, rank, generator=generator) * 0.1, 8 / rank)
            for i in range(4) for p in TARGETS})
    return adapters


def peft_with(adapters):
    model = peft.get_peft_model(load_pretrained_gpt("cpu"), peft.LoraConfig(
        r=adapters[0][next(iter(adapters[0]))][0].shape[0], lora_alpha=8,
        target_modules=TARGETS), adapter_name="a0")
    for i, adapter in enumerate(adapters):
        rank = next(iter(adapter.values()))[0].shape[0]
        if i:
            model.add_adapter(f"a{i}", peft.LoraConfig(r=rank, lora_alpha=8,
                                                       target_modules=TARGETS))
        with torch.no_grad():
            for name, (A, B, _) in adapter.items():
                layer = model.base_model.model.get_submodule(name)
                layer.lora_A[f"a{i}"].weight.copy_(A)
                layer.lora_B[f"a{i}"].weight.copy_(B)
    return model


@pytest.mark.parametrize("kind", DETERMINISTIC)
@pytest.mark.parametrize("weights", [(1.0, 1.0), (0.7, -0.4)])
def test_equal_to_peft_add_weighted_adapter(kind, weights):
    adapters = two_adapters()
    options = {"density": 0.4} if kind.startswith("ties") else {}
    ours = combine_adapters(adapters, list(weights), kind, **options)
    model = peft_with(adapters)
    model.add_weighted_adapter(["a0", "a1"], list(weights), "mix", combination_type=kind,
                               **options)
    for name, (A, B, scaling) in ours.items():
        layer = model.base_model.model.get_submodule(name)
        assert scaling == 1.0 and layer.scaling["mix"] == 1.0
        assert torch.allclose(layer.lora_A["mix"].weight, A, atol=1e-6)
        assert torch.allclose(layer.lora_B["mix"].weight, B, atol=1e-6)


def test_cat_and_svd_accept_different_ranks_like_peft():
    adapters = two_adapters(r=(4, 2))
    model = peft_with(adapters)
    for kind in ("cat", "svd"):
        ours = combine_adapters(adapters, [1.0, 1.0], kind)
        model.add_weighted_adapter(["a0", "a1"], [1.0, 1.0], kind, combination_type=kind)
        for name, (A, B, _) in ours.items():
            peft_delta = model.base_model.model.get_submodule(name).get_delta_weight(kind)
            assert torch.allclose(B @ A, peft_delta, atol=1e-6)
        assert next(iter(ours.values()))[0].shape[0] == {"cat": 6, "svd": 4}[kind]


def test_cat_is_the_sum_and_linear_adds_cross_terms():
    adapters = two_adapters()
    name = next(iter(adapters[0]))
    (A1, B1, s), (A2, B2, _) = adapters[0][name], adapters[1][name]
    A, B, _ = combine_adapters(adapters, [1.0, 1.0], "cat")[name]
    assert torch.allclose(B @ A, s * B1 @ A1 + s * B2 @ A2, atol=1e-6)
    A, B, _ = combine_adapters(adapters, [1.0, 1.0], "linear")[name]
    assert torch.allclose(B @ A, s * (B1 + B2) @ (A1 + A2), atol=1e-6)


def test_dare_masks_equal_peft_under_one_seed():
    tensors = [torch.randn(8, 16, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    torch.manual_seed(3)
    theirs = merge_utils.dare_linear(tensors, torch.tensor([0.5, 2.0]), 0.3)
    torch.manual_seed(3)
    ours = 0.5 * random_prune(tensors[0], 0.3) + 2.0 * random_prune(tensors[1], 0.3)
    assert torch.allclose(theirs, ours, atol=1e-6)
    kept = random_prune(tensors[0], 0.3, torch.Generator().manual_seed(0)) != 0
    assert 0.1 < kept.float().mean() < 0.5                     # about 30% survive
    survivors = random_prune(tensors[0], 0.3, torch.Generator().manual_seed(0))[kept]
    assert torch.allclose(survivors, tensors[0][kept] / 0.3)   # rescaled by 1/density


def test_dare_whole_adapter_is_reproducible_and_equals_linear_at_density_one():
    adapters = two_adapters()
    first = combine_adapters(adapters, [1.0, 1.0], "dare_linear", density=0.5,
                             generator=torch.Generator().manual_seed(0))
    again = combine_adapters(adapters, [1.0, 1.0], "dare_linear", density=0.5,
                             generator=torch.Generator().manual_seed(0))
    linear = combine_adapters(adapters, [1.0, 1.0], "linear")
    full = combine_adapters(adapters, [1.0, 1.0], "dare_linear", density=1.0)
    name = next(iter(first))
    assert all(torch.equal(a, b) for a, b in zip(first[name][:2], again[name][:2]))
    assert not torch.equal(first[name][0], linear[name][0])
    assert all(torch.equal(a, b) for a, b in zip(full[name][:2], linear[name][:2]))


def test_ties_by_hand():
    first, second = torch.tensor([0.30, 0.05, -0.20, 0.10]), torch.tensor([-0.10, 0.02, -0.40, 0.0])
    merged = ties_merge([first, second], torch.tensor([1.0, 1.0]), density=1.0)
    # sign of the sum elects; disagreeing values dropped; the agreeing ones averaged
    assert torch.allclose(merged, torch.tensor([0.30, 0.035, -0.30, 0.10]))
    assert torch.equal(magnitude_prune(first, 0.5), torch.tensor([0.30, 0.0, -0.20, 0.0]))
    assert sign_conflicts(first, second) == pytest.approx(1 / 3)   # entry 0 of 3 both non-zero


def test_refusals():
    adapters = two_adapters()
    snapshot = [{k: tuple(t.clone() if torch.is_tensor(t) else t for t in v) for k, v in a.items()}
                for a in adapters]
    with pytest.raises(ValueError, match="combination_type must be one of"):
        combine_adapters(adapters, [1.0, 1.0], "average")
    with pytest.raises(ValueError, match="density"):
        combine_adapters(adapters, [1.0, 1.0], "ties")
    with pytest.raises(ValueError, match="would be ignored"):
        combine_adapters(adapters, [1.0, 1.0], "cat", density=0.5)
    with pytest.raises(ValueError, match="one weight per adapter"):
        combine_adapters(adapters, [1.0], "cat")
    with pytest.raises(ValueError, match="same rank"):
        combine_adapters(two_adapters(r=(4, 2)), [1.0, 1.0], "linear")
    with pytest.raises(ValueError, match="svd_rank applies"):
        combine_adapters(adapters, [1.0, 1.0], "cat", svd_rank=2)
    for before, after in zip(snapshot, adapters):
        assert all(torch.equal(before[k][0], after[k][0]) and torch.equal(before[k][1], after[k][1])
                   for k in before)
