"""Notebook 1's memory check (lora_tutorial.course.experiments.freezing)."""

import torch
from torch import nn

from lora_tutorial import training_memory
from lora_tutorial.core.counting import TrainingMemory
from lora_tutorial.course.experiments.freezing import adam_step, measured_memory


def frozen_body_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))   # 25 + 18 parameters
    model[0].requires_grad_(False)
    return model


def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(6, 4, generator=g), torch.randint(0, 3, (6,), generator=g)


def test_one_step_hands_adam_only_the_trainable_parameters():
    model = frozen_body_model()
    optimizer = adam_step(model, *batch())
    handed = [p for group in optimizer.param_groups for p in group["params"]]
    assert handed == [model[2].weight, model[2].bias]
    assert model[0].weight.grad is None and model[2].weight.grad is not None
    assert set(optimizer.state) == {model[2].weight, model[2].bias}


def test_measured_memory_counts_weights_gradients_and_moments_in_fp32_bytes():
    model = frozen_body_model()
    optimizer = adam_step(model, *batch())
    # 43 weights × 4 B; the head's 18 numbers: one gradient (4 B) and two moments (8 B) each
    assert measured_memory(model, optimizer) == TrainingMemory(weights=172, gradients=72,
                                                               optimizer_state=144)


def test_measurement_and_prediction_agree_frozen_or_not():
    for freeze in (True, False):
        model = frozen_body_model()
        model[0].requires_grad_(not freeze)
        optimizer = adam_step(model, *batch())
        assert measured_memory(model, optimizer) == training_memory(model, "adam")


def test_before_any_step_nothing_is_measured_but_the_weights():
    model = frozen_body_model()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad])
    assert measured_memory(model, optimizer) == TrainingMemory(172, 0, 0)
