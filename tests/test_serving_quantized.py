"""Merging a QLoRA adapter (lora_tutorial.serving.quantized): dequantize, merge, requantize."""

import copy

import pytest
import torch
from torch import nn

from lora_tutorial import inject_lora, lora_layers, quantize_base_layers
from lora_tutorial.serving.quantized import (merge_into_4bit, merge_into_full_precision,
                                             replace_qlora_layers)
from lora_tutorial.variants.quantize import Linear4bit, dequantize_4bit, quantize_4bit
from tests.refusal import unchanged


def qlora_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64))
    inject_lora(model, ["0", "2"], r=4, alpha=8)
    with torch.no_grad():
        for _, layer in lora_layers(model):
            layer.lora_B.weight.normal_(0, 0.05)
    quantize_base_layers(model)
    return model


def test_full_precision_merge_equals_the_unmerged_qlora_model():
    model = qlora_model()
    x = torch.randn(16, 64)
    with torch.no_grad():
        unmerged = model(x)
        merged = copy.deepcopy(model)
        replace_qlora_layers(merged, "fp32")
        assert all(type(m) is nn.Linear for m in (merged[0], merged[2]))
        assert torch.allclose(merged(x), unmerged, atol=1e-5)


def test_4bit_merge_is_dequantize_merge_requantize_and_rounds_again():
    model = qlora_model()
    layer = model[0]
    merged = merge_into_4bit(layer)
    assert isinstance(merged, Linear4bit) and merged.quant_type == "nf4" and merged.double_quant
    with torch.no_grad():
        target = layer.base_layer.dequantize() + layer.delta_weight()
        expected = dequantize_4bit(quantize_4bit(target, "nf4", True), target.shape, "nf4")
    assert torch.equal(merged.dequantize(), expected)
    assert torch.equal(merged.bias, layer.base_layer.bias)
    error = ((merged.dequantize() - target).norm() / target.norm()).item()
    assert 1e-3 < error < 0.2                                   # a real second rounding
    x = torch.randn(8, 64)
    with torch.no_grad():
        assert not torch.allclose(merged(x), layer(x), atol=1e-4)
    full = merge_into_full_precision(layer, torch.bfloat16)
    assert full.weight.dtype == torch.bfloat16


def test_refusals_leave_the_model_as_it_was():
    plain = nn.Sequential(nn.Linear(64, 64))
    inject_lora(plain, ["0"], r=2, alpha=4)
    with unchanged(plain), pytest.raises(TypeError, match="Linear4bit"):
        replace_qlora_layers(plain, "4bit")
    model = qlora_model()
    with unchanged(model), pytest.raises(ValueError, match="'4bit' or 'fp32'"):
        replace_qlora_layers(model, "int8")
    with pytest.raises(ValueError, match="no LoRA layers"):
        replace_qlora_layers(nn.Sequential(nn.Linear(4, 4)))
