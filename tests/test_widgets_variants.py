"""The quantization explorer (lora_tutorial.course.widgets.variants), and the one pattern
every explorer follows."""

import pytest
import torch

from lora_tutorial.variants.quantize import NF4_LEVELS, dequantize_4bit, quantize_4bit
from lora_tutorial.course.widgets.variants import (QuantizationExplorer, quantization_error,
                                            quantization_summary)


def _weight():
    return torch.randn(64, 128, generator=torch.Generator().manual_seed(0)) * 0.02


def test_error_agrees_with_the_4bit_format():
    w = _weight()
    stored = dequantize_4bit(quantize_4bit(w, "nf4", double_quant=False), w.shape, "nf4")
    expected = ((stored - w).norm() / w.norm()).item()
    assert quantization_error(w, NF4_LEVELS, 64) == pytest.approx(expected, rel=1e-6)


def test_explorer_reacts_to_its_controls():
    explorer = QuantizationExplorer(_weight(), bits=4, block_size=64, name="test")
    label, image = explorer.label.value, bytes(explorer.image.value)
    assert image.startswith(b"\x89PNG") and "4.50 bits per weight" in label
    four_bit = dict(explorer.errors)
    assert four_bit["NormalFloat"] < four_bit["integer"]      # normal weights: NF wins
    explorer.bits.value = 8
    assert all(explorer.errors[k] < four_bit[k] / 4 for k in four_bit)
    assert explorer.label.value != label and bytes(explorer.image.value) != image
    explorer.block.value = 256
    assert "8.12 bits per weight" in explorer.label.value
    with pytest.raises(ValueError, match="block_size"):
        QuantizationExplorer(_weight(), block_size=100)


def test_summary_line():
    assert quantization_summary(4, 64, {"NormalFloat": 0.0912, "integer": 0.1}) == (
        "4-bit codes, blocks of 64: 4.50 bits per weight (4 + 32/64 for the fp32 scale) · "
        "relative error: NormalFloat 9.1%, integer 10.0%")


def test_every_explorer_redraws_with_update_and_leaves_no_pyplot_figure():
    import matplotlib.pyplot as plt
    from lora_tutorial.course.widgets.counting import LoRACalculator
    from lora_tutorial.course.widgets.lora_layer import LoRALayerExplorer
    from lora_tutorial.course.widgets.memory import MemoryExplorer
    open_before = plt.get_fignums()
    explorers = [LoRACalculator(), LoRALayerExplorer(), MemoryExplorer(),
                 QuantizationExplorer(_weight(), bits=4, block_size=64, name="test")]
    for explorer in explorers:
        explorer.update()
        assert bytes(explorer.image.value).startswith(b"\x89PNG")
    calculator, layer = explorers[0], explorers[1]
    before = calculator.table.value, layer.summary.value
    calculator.r.value, layer.r.value = 64, 16      # a control's change redraws via update()
    assert (calculator.table.value, layer.summary.value) != before
    assert [m for m in ("_update", "_on_change") if any(hasattr(e, m) for e in explorers)] == []
    assert plt.get_fignums() == open_before
