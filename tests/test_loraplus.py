"""LoRA+ (lora_tutorial.variants.loraplus): the parameter groups, and the same training as PEFT's
create_loraplus_optimizer."""

import copy

import peft
import pytest
import torch
from peft.optimizers import create_loraplus_optimizer
from torch import nn

from lora_tutorial import inject_lora, mark_only_lora_as_trainable
from lora_tutorial.variants.loraplus import loraplus_param_groups, make_loraplus_optimizer
from lora_tutorial.course.training import train_step


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


class _Bag(nn.Module):
    """Token embeddings averaged over the sequence, then a linear classifier."""

    def __init__(self):
        super().__init__()
        self.emb, self.head = nn.Embedding(20, 8), nn.Linear(8, 6)

    def forward(self, ids):
        return self.head(self.emb(ids).mean(dim=1))


def _bag_pair():
    """Ours and PEFT's LoRA on the embedding and the head, with the same LoRA tensors."""
    torch.manual_seed(0)
    base = _Bag()
    ours = copy.deepcopy(base)
    inject_lora(ours, ["emb", "head"], r=4, alpha=8)
    mark_only_lora_as_trainable(ours)
    theirs = peft.get_peft_model(copy.deepcopy(base),
                                 peft.LoraConfig(r=4, lora_alpha=8, target_modules=["emb", "head"]))
    mine = dict(ours.named_parameters())
    with torch.no_grad():
        for name, param in theirs.named_parameters():
            if "lora_" in name:
                mine[name.removeprefix("base_model.model.").replace(".default", "")].copy_(param)
    return ours, theirs


def test_lora_embedding_tensors_get_their_own_rate_as_in_peft():
    ours, theirs = _bag_pair()
    groups = loraplus_param_groups(ours, lr=1e-3, lr_ratio=16)
    names = {id(p): n for n, p in ours.named_parameters()}
    assert [sorted(names[id(p)] for p in g["params"]) for g in groups] == [
        ["head.lora_A.weight"], ["head.lora_B.weight"],
        ["emb.lora_embedding_A", "emb.lora_embedding_B"]]
    assert [g["lr"] for g in groups] == [1e-3, pytest.approx(16e-3), 1e-6]
    assert loraplus_param_groups(ours, lr=1e-3, lr_embedding=1e-4)[2]["lr"] == 1e-4
    optimizer = create_loraplus_optimizer(theirs, torch.optim.AdamW, lr=1e-3,
                                          loraplus_lr_ratio=16)
    peft_names = {id(p): n for n, p in theirs.named_parameters()}
    embedding_group = [g for g in optimizer.param_groups if g["lr"] == 1e-6]
    assert sorted(peft_names[id(p)] for p in embedding_group[0]["params"]) == [
        "base_model.model.emb.lora_embedding_A.default",
        "base_model.model.emb.lora_embedding_B.default"]


def test_an_embedding_only_adapter_is_accepted():
    torch.manual_seed(0)
    model = _Bag()
    inject_lora(model, ["emb"], r=2, alpha=4)
    mark_only_lora_as_trainable(model)
    groups = loraplus_param_groups(model, lr=1e-3)
    assert [len(g["params"]) for g in groups] == [0, 0, 2]


def test_same_losses_as_peft_loraplus_with_an_adapted_embedding():
    ours, theirs = _bag_pair()
    opt_ours = make_loraplus_optimizer(ours, lr=1e-2, lr_ratio=16)
    opt_theirs = create_loraplus_optimizer(theirs, torch.optim.AdamW, lr=1e-2,
                                           loraplus_lr_ratio=16, weight_decay=0.0)
    generator = torch.Generator().manual_seed(2)
    x = torch.randint(0, 20, (32, 5), generator=generator)
    y = torch.randint(0, 6, (32,), generator=generator)
    before = ours.emb.lora_embedding_B.detach().clone()
    losses = [(train_step(ours, opt_ours, x, y).item(), train_step(theirs, opt_theirs, x, y).item())
              for _ in range(15)]
    assert all(abs(a - b) < 1e-6 for a, b in losses)
    assert losses[-1][0] < losses[0][0]
    # At 1e-6 per Adam step, 15 steps move the embedding's B by at most about 1.5e-5.
    assert (ours.emb.lora_embedding_B - before).abs().max() < 2e-5
