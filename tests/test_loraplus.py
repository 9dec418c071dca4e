"""LoRA+ (lora_tutorial.loraplus): the parameter groups, and the same training as PEFT's
create_loraplus_optimizer."""

import copy

import peft
import pytest
import torch
from peft.optimizers import create_loraplus_optimizer
from torch import nn

from lora_tutorial import inject_lora, mark_only_lora_as_trainable
from lora_tutorial.loraplus import loraplus_param_groups, make_loraplus_optimizer
from lora_tutorial.training import train_step


def _base():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.GELU(), nn.Linear(16, 6))


def _ours(use_dora=False):
    model = _base()
    torch.manual_seed(1)
    inject_lora(model, ["0", "2"], r=4, alpha=8, use_dora=use_dora)
    mark_only_lora_as_trainable(model)
    return model


def test_b_gets_the_larger_learning_rate():
    model = _ours()
    group_a, group_b = loraplus_param_groups(model, lr=1e-3, lr_ratio=16)
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in group_a["params"]) == ["0.lora_A.weight",
                                                               "2.lora_A.weight"]
    assert sorted(names[id(p)] for p in group_b["params"]) == ["0.lora_B.weight",
                                                               "2.lora_B.weight"]
    assert group_a["lr"] == 1e-3 and group_b["lr"] == pytest.approx(16e-3)


def test_vectors_go_with_b_as_in_peft():
    model = _ours(use_dora=True)
    model[2].base_layer.bias.requires_grad_(True)
    _, group_b = loraplus_param_groups(model, lr=1e-3)
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in group_b["params"]) == [
        "0.lora_B.weight", "0.lora_magnitude_vector", "2.base_layer.bias",
        "2.lora_B.weight", "2.lora_magnitude_vector"]


def test_a_step_moves_b_sixteen_times_further_at_the_first_adam_step():
    # Adam's first step moves every weight by about lr (its update is g/|g| ≈ ±1), so the
    # first change of B is lr_ratio times the change of A (both get non-zero gradients here).
    model = _ours()
    model[0].lora_B.weight.data.normal_(0, 0.1)            # so that A gets a gradient too
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = make_loraplus_optimizer(model, lr=1e-3, lr_ratio=16)
    train_step(model, optimizer, torch.randn(8, 12), torch.randint(0, 6, (8,)))
    step = {n: (p.detach() - before[n]).abs().max().item() for n, p in model.named_parameters()}
    assert step["0.lora_A.weight"] == pytest.approx(1e-3, rel=1e-2)
    assert step["0.lora_B.weight"] == pytest.approx(16e-3, rel=1e-2)
    assert optimizer.defaults["weight_decay"] == 0.0


def test_same_losses_as_peft_loraplus():
    base = _base()
    ours = copy.deepcopy(base)
    torch.manual_seed(1)
    inject_lora(ours, ["0", "2"], r=4, alpha=8)
    mark_only_lora_as_trainable(ours)
    torch.manual_seed(1)
    theirs = peft.get_peft_model(copy.deepcopy(base),
                                 peft.LoraConfig(r=4, lora_alpha=8, target_modules=["0", "2"]))
    opt_ours = make_loraplus_optimizer(ours, lr=2e-3, lr_ratio=16)
    opt_theirs = create_loraplus_optimizer(theirs, torch.optim.AdamW, lr=2e-3,
                                           loraplus_lr_ratio=16, weight_decay=0.0)
    generator = torch.Generator().manual_seed(2)
    x, y = torch.randn(64, 12, generator=generator), torch.randint(0, 6, (64,), generator=generator)
    losses = [(train_step(ours, opt_ours, x, y).item(), train_step(theirs, opt_theirs, x, y).item())
              for _ in range(15)]
    assert all(abs(a - b) < 1e-6 for a, b in losses)
    assert losses[-1][0] < losses[0][0]


def test_refuses_models_without_lora_and_bad_rates():
    with pytest.raises(ValueError, match="no trainable lora_B"):
        loraplus_param_groups(_base(), lr=1e-3)
    for lr, ratio in ((0, 16), (1e-3, -1), (1e-3, 0)):
        with pytest.raises(ValueError, match="positive"):
            loraplus_param_groups(_ours(), lr=lr, lr_ratio=ratio)
