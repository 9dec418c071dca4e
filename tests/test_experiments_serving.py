"""lora_tutorial.course.experiments.serving: the merge gaps notebook 10 shows.

Each test states what a planted bug would break: a gap measured against the wrong
reference, a band with the wrong edge, a merge into the wrong weights.
"""

import copy

import pytest
import torch

from lora_tutorial import inject_lora, mark_only_lora_as_trainable, quantize_base_layers
from lora_tutorial.course.experiments.serving import (BAND_EDGES, band, half_precision_merges,
                                                      qlora_merges, relative_gap)
from lora_tutorial.course.models import load_pretrained


def lora_vit(seed=0, b_std=0.05):
    model = load_pretrained("cpu")
    torch.manual_seed(seed)
    inject_lora(model, ["q_proj", "v_proj"], r=8, alpha=16)
    mark_only_lora_as_trainable(model)
    with torch.no_grad():                     # as after training: B is no longer zero
        for module in model.modules():
            if hasattr(module, "lora_B"):
                module.lora_B.weight.normal_(std=b_std)
    return model


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(1)
    return torch.rand(32, 1, 8, 8)


def test_relative_gap_is_the_largest_difference_over_the_reference_scale():
    reference = torch.tensor([1.0, -4.0, 2.0])
    output = torch.tensor([1.5, -4.0, 1.0])
    assert relative_gap(output, reference) == pytest.approx(1.0 / 4.0)
    assert relative_gap(reference, reference) == 0.0
    # The scale is the *reference's*: swapping a pair of different sizes changes the gap.
    assert relative_gap(torch.tensor([2.0]), torch.tensor([1.0])) == pytest.approx(1.0)
    assert relative_gap(torch.tensor([1.0]), torch.tensor([2.0])) == pytest.approx(0.5)


@pytest.mark.parametrize("value, text", [
    (0.0, "below 0.001%"), (3e-7, "below 0.001%"), (1e-5, "0.001% – 0.05%"),
    (1e-3, "0.05% – 0.5%"), (0.0123, "0.5% – 5%"), (0.1, "5% – 25%"), (0.25, "above 25%"),
    (3.0, "above 25%"),
])
def test_band_names_the_range_between_neighbouring_edges(value, text):
    assert band(value) == text


def test_band_edges_are_increasing_and_a_negative_gap_is_refused():
    assert list(BAND_EDGES) == sorted(BAND_EDGES)
    with pytest.raises(ValueError, match="never negative"):
        band(-0.1)


def test_qlora_merges_exact_only_into_the_dequantized_weights(images):
    qlora = lora_vit()
    quantize_base_layers(qlora)
    y = torch.zeros(len(images), dtype=torch.long)
    before = copy.deepcopy(qlora.state_dict())
    merges = qlora_merges(qlora, lora_vit(seed=5), images, y)
    assert [m.how for m in merges] == ["dequantize → merge → requantize (4-bit)",
                                       "merged into dequant(Q(W0)), fp32",
                                       "merged into the original fp32 W0"]
    requantized, exact, original = merges
    assert exact.gap < 1e-5 and exact.same_prediction == 1.0
    # Rounding again, or the W0 the adapter never saw, moves the outputs measurably.
    assert requantized.gap > 100 * exact.gap and original.gap > 100 * exact.gap
    assert all(0.0 <= m.accuracy <= 1.0 and 0.0 <= m.same_prediction <= 1.0 for m in merges)
    after = qlora.state_dict()                 # the trained model is left as it was
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_qlora_merges_copy_the_trained_factors_into_the_fp32_twin(images):
    """With a zero update, every merge is the base model: the twin's own (different) factors
    must have been replaced by the QLoRA model's."""
    qlora = lora_vit(b_std=0.0)
    quantize_base_layers(qlora)
    twin = lora_vit(seed=5, b_std=0.5)          # a large update of its own, to be overwritten
    merges = qlora_merges(qlora, twin, images, torch.zeros(len(images), dtype=torch.long))
    base_gap = merges[2].gap                    # fp32 W0 against NF4 W0: quantization alone
    assert base_gap < 0.25
    assert any(layer.abs().sum() > 0 for name, layer in twin.state_dict().items()
               if "lora_B" in name)             # the twin passed in is not modified


def test_half_precision_merges_bf16_differs_more_than_fp16(images):
    model = lora_vit()
    before = copy.deepcopy(model.state_dict())
    bf16, fp16 = half_precision_merges(model, images)
    assert (bf16.dtype, fp16.dtype) == ("bfloat16", "float16")
    for row in (bf16, fp16):
        assert row.merged_vs_unmerged > 0              # merged ≠ unmerged in 16 bits
        assert row.unmerged_vs_fp32 > 0 and row.merged_vs_fp32 > 0
        assert row.same_prediction > 0.9
    assert bf16.merged_vs_unmerged > fp16.merged_vs_unmerged   # 8 significant bits against 11
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).dtype == torch.float32
