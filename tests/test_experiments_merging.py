"""lora_tutorial.course.experiments.merging: the records behind notebook 6's merge checks."""

import pytest
import torch
from torch import nn

from lora_tutorial import inject_lora, lora_layers
from lora_tutorial.course.experiments.merging import (frozen_weights, inference_latency,
                                                      merge_twice, weight_gap)


def adapted(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 4))
    inject_lora(model, ["0", "2"], r=2, alpha=4)
    with torch.no_grad():
        for _, layer in lora_layers(model):
            layer.lora_B.weight.normal_(0, 0.5)
    return model


def data(n=64):
    generator = torch.Generator().manual_seed(3)
    return torch.randn(n, 6, generator=generator), torch.randint(0, 4, (n,), generator=generator)


def test_weight_gap_is_zero_for_untouched_weights_and_counts_a_changed_one():
    model = adapted()
    saved = frozen_weights(model)
    gap = weight_gap(model, saved)
    assert (gap.max_error, gap.changed, gap.total) == (0.0, 0, 6 * 12 + 12 * 4)
    with torch.no_grad():
        model[2].base_layer.weight[1, 3] += 0.25
    gap = weight_gap(model, saved)
    assert gap.changed == 1 and gap.max_error == pytest.approx(0.25)


def test_frozen_weights_is_a_copy_not_a_view():
    model = adapted()
    saved = frozen_weights(model)
    with torch.no_grad():
        model[0].base_layer.weight.zero_()
    assert saved["0"].abs().sum() > 0


def test_weight_gap_refuses_other_layers():
    model = adapted()
    saved = frozen_weights(model)
    del saved["2"]
    with pytest.raises(ValueError, match="other layers"):
        weight_gap(model, saved)


def test_merge_twice_is_refused_and_leaves_the_model_unmerged():
    model = adapted()
    x, y = data()
    before = frozen_weights(model)
    with torch.no_grad():
        out = model(x)
    twice = merge_twice(model, x, y)
    assert twice.weight_unchanged and "already merged" in twice.warning
    assert not any(layer.merged for _, layer in lora_layers(model))
    assert weight_gap(model, before).max_error < 1e-6
    with torch.no_grad():
        torch.testing.assert_close(model(x), out, rtol=0, atol=1e-5)


def test_merge_twice_measures_the_model_with_delta_w_added_twice():
    model = adapted()
    x, _ = data()
    with torch.no_grad():
        y = model(x).argmax(-1)            # labels the adapted model gets all right
        doubled = adapted()
        for (_, lay), (_, ref) in zip(lora_layers(doubled), lora_layers(model)):
            lay.base_layer.weight.copy_(ref.base_layer.weight + 2 * ref.delta_weight())
            lay.lora_B.weight.zero_()
        expected_twice = (doubled(x).argmax(-1) == y).float().mean().item()
    twice = merge_twice(model, x, y)
    assert twice.accuracy_once == 1.0
    assert twice.accuracy_twice == pytest.approx(expected_twice)
    assert twice.accuracy_twice < 1.0


def test_inference_latency_times_every_model_and_gives_ratios():
    model = adapted()
    x, _ = data()
    latency = inference_latency({"a": model, "b": model}, x, repeats=2, warmup=0)
    assert set(latency.ms) == {"a", "b"} and all(ms > 0 for ms in latency.ms.values())
    assert latency.ratio("a", "a") == 1.0
    assert latency.ratio("a", "b") == pytest.approx(latency.ms["a"] / latency.ms["b"])
