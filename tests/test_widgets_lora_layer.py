"""The LoRA-layer explorer of notebook 3 (lora_tutorial.course.widgets.lora_layer)."""

import torch

from lora_tutorial.course.widgets.lora_layer import LoRALayerExplorer


def test_lora_layer_explorer_reacts_to_its_controls():
    explorer = LoRALayerExplorer()
    summary, image = explorer.summary.value, bytes(explorer.image.value)
    assert image.startswith(b"\x89PNG")
    assert "alpha/r = 16/4 = <b>4.000</b>" in summary
    assert "r·(d+k) = <b>448</b>" in summary  # 4·(48 + 64)
    norm_r4 = float(torch.linalg.matrix_norm(explorer.delta_weight()))

    explorer.r.value = 16
    assert explorer.summary.value != summary and bytes(explorer.image.value) != image
    assert "alpha/r = 16/16 = <b>1.000</b>" in explorer.summary.value
    # With random factors and alpha/r, a bigger rank gives a *smaller* update...
    assert float(torch.linalg.matrix_norm(explorer.delta_weight())) < 0.75 * norm_r4
    # ... while rsLoRA's alpha/√r keeps it about the same size.
    explorer.rule.value = "alpha / √r  (rsLoRA)"
    assert explorer.use_rslora
    rs16 = float(torch.linalg.matrix_norm(explorer.delta_weight()))
    explorer.r.value = 4
    rs4 = float(torch.linalg.matrix_norm(explorer.delta_weight()))
    assert 0.8 < rs16 / rs4 < 1.25

    explorer.r.value = 32  # 32·(48+64) > 48·64: LoRA would not save anything
    assert "more than W itself" in explorer.summary.value
    assert "r = 32" in explorer.static_html()
