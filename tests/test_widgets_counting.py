"""The LoRA parameter calculator of notebook 4 (lora_tutorial.course.widgets.counting)."""

import pytest

from lora_tutorial import count_parameters, inject_lora, mark_only_lora_as_trainable
from lora_tutorial.course.skeletons import GPT2_SMALL, GPT3_175B, meta_skeleton
from lora_tutorial.course.widgets.counting import (PRESETS, LoRACalculator, gpt_parameter_count,
                                                   lora_trainable_count, trainable_percent)


def test_counting_formulas_match_meta_models():
    for shape in PRESETS.values():
        assert gpt_parameter_count(shape) == count_parameters(meta_skeleton(shape)).total
    for targets, r in ((["q", "v"], 1), (["q", "v"], 8), (["q", "k", "v", "o", "fc1", "fc2"], 4)):
        model = meta_skeleton(GPT3_175B)
        inject_lora(model, [t if t.startswith("fc") else f"{t}_proj" for t in targets], r=r)
        mark_only_lora_as_trainable(model)
        count = count_parameters(model)
        assert lora_trainable_count(GPT3_175B, r, targets) == count.trainable
        assert trainable_percent(GPT3_175B, r, targets) == pytest.approx(count.percent)
    assert lora_trainable_count(GPT3_175B, 1, ["q", "v"]) == 4_718_592  # Hu et al.: 4.7M
    with pytest.raises(ValueError, match="Unknown projections"):
        lora_trainable_count(GPT2_SMALL, 8, ["q_proj"])


def test_calculator_reacts_to_its_controls():
    calc = LoRACalculator()
    table, image = calc.table.value, bytes(calc.image.value)
    assert "<b>294,912</b>" in table and "0.2364%" in table  # GPT-2, q and v, r = 8
    assert "1.18 MB in fp32, 0.59 MB in fp16" in table

    calc.r.value = 16
    assert "<b>589,824</b>" in calc.table.value and bytes(calc.image.value) != image

    calc.targets["fc1"].value = True
    assert "<td>fc1</td><td>3,072 × 768</td>" in calc.table.value

    calc.preset.value = "GPT-3 175B"
    assert calc.shape == GPT3_175B
    assert "<b>174,604,259,328</b>" in calc.table.value

    calc.d_model.value = 1024  # editing a shape by hand switches the preset to "custom"
    assert calc.preset.value == "custom" and calc.shape.d_model == 1024

    for box in calc.targets.values():
        box.value = False
    assert "nothing to train" in calc.table.value and "<b>0</b>" in calc.table.value
    assert "adapting nothing" in calc.static_html()


def test_calculator_can_start_from_custom():
    from lora_tutorial.course.widgets.counting import LoRACalculator

    calc = LoRACalculator(preset="custom")
    assert calc.preset.value == "custom" and calc.shape.d_model == 768
