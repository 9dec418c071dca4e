"""The rank explorer of notebook 3 (lora_tutorial.course.widgets.lora_layer)."""

from lora_tutorial.course.widgets.lora_layer import LoRALayerExplorer


def test_lora_layer_explorer_reacts_to_its_controls():
    explorer = LoRALayerExplorer(steps=20)
    summary, image = explorer.summary.value, bytes(explorer.image.value)
    assert image.startswith(b"\x89PNG")
    assert "alpha / r = 4.000" in summary and "alpha / √r = 8.000" in summary   # r=4, alpha=16
    assert "r·(d+k) = <b>448</b>" in summary  # 4·(48 + 64)
    assert "after 20 steps" in summary

    explorer.r.value = 16
    assert explorer.summary.value != summary and bytes(explorer.image.value) != image
    assert "alpha / r = 1.000" in explorer.summary.value
    runs = explorer.traces(16, 16)
    assert len(runs["alpha / r"].losses) == 21
    # At r = 1 the two rules are the same scaling, so the same run.
    one = explorer.traces(1, 16)
    assert one["alpha / r"].losses == one["alpha / √r"].losses
    # Same alpha and learning rate: the gradient B starts from shrinks with alpha/r as r
    # grows (like 1/√r), not with alpha/√r; and rsLoRA moves further and learns more.
    assert runs["alpha / r"].first_grad_B < 0.6 * one["alpha / r"].first_grad_B
    assert runs["alpha / √r"].first_grad_B > 0.7 * one["alpha / √r"].first_grad_B
    assert runs["alpha / √r"].update_norms[-1] > runs["alpha / r"].update_norms[-1]
    assert runs["alpha / √r"].losses[-1] < runs["alpha / r"].losses[-1]
    assert explorer.traces(16, 16) is runs      # trained once per setting

    explorer.alpha.value = 32
    assert "alpha / r = 2.000" in explorer.summary.value

    explorer.r.value = 32  # 32·(48+64) > 48·64: LoRA would not save anything
    assert "more than W itself" in explorer.summary.value
    assert "r = 32" in explorer.static_html() and "48×64" in explorer.alt()
