"""Notebook 03's experiments (lora_tutorial.course.experiments.initialisation)."""

import math

import pytest
import torch
from torch import nn

from lora_tutorial.course.experiments.initialisation import (
    Task, compare_initialisations, kaiming_uniform, rank_scaling, rank_scaling_sweep,
    regression_task, select, train_lora)


def _small_task():
    g = torch.Generator().manual_seed(10)
    base = nn.Linear(12, 8)
    base.requires_grad_(False)
    X = torch.randn(32, 12, generator=g)
    change = 0.1 * torch.randn(8, 2, generator=g) @ torch.randn(2, 12, generator=g)
    with torch.no_grad():
        Y = base(X) + X @ change.T
    return Task(base, X, Y)


def test_kaiming_uniform_matches_what_lora_draws_for_A():
    A = kaiming_uniform((400, 25), torch.Generator().manual_seed(0))
    assert A.abs().max() <= 1 / 5                       # ±1/√k with k = 25
    assert abs(A.std().item() - 1 / 5 / math.sqrt(3)) < 0.005
    reference = torch.empty(400, 25)
    nn.init.kaiming_uniform_(reference, a=math.sqrt(5))  # the same bound as PyTorch's rule
    assert abs(reference.abs().max().item() - A.abs().max().item()) < 0.005


def test_rank_scaling_rules():
    assert rank_scaling(16, 4, "alpha / r") == 4
    assert rank_scaling(16, 4, "alpha / √r") == 8
    with pytest.raises(ValueError, match="unknown scaling rule"):
        rank_scaling(16, 4, "alpha")


def test_train_lora_learns_and_records_each_step():
    task = _small_task()
    A = kaiming_uniform((2, 12), torch.Generator().manual_seed(0))
    trace = train_lora(task, A, torch.zeros(8, 2), scaling=2.0, steps=30, lr=1e-2)
    assert len(trace.losses) == len(trace.update_norms) == 31
    assert trace.losses[0] == pytest.approx(1.0)        # B = 0: exactly the base's loss
    assert trace.update_norms[0] == 0.0
    assert trace.losses[-1] < 0.5 * trace.losses[0]
    assert trace.first_grad_B > 0


def test_four_initialisations_behave_as_notebook_03_says():
    runs = compare_initialisations(_small_task(), r=2, scaling=2.0, seeds=range(3), steps=30)
    by = {scheme: select(runs, scheme=scheme) for scheme in
          ("A random, B zero (LoRA)", "A zero, B random", "both random", "both zero")}
    assert all(len(v) == 3 for v in by.values())
    for scheme in ("A random, B zero (LoRA)", "A zero, B random", "both zero"):
        assert all(run.start_change == 0.0 for run in by[scheme])    # start at the base
    assert min(run.start_change for run in by["both random"]) > 0.3
    assert all(loss == 1.0 for run in by["both zero"] for loss in run.losses)  # never learns
    for scheme in ("A random, B zero (LoRA)", "A zero, B random"):
        assert max(run.losses[-1] for run in by[scheme]) < 0.5                # both learn
    assert min(run.losses[0] for run in by["both random"]) > 1.0             # start worse


def test_rank_scaling_sweep_shows_the_gradient_collapse_of_alpha_over_r():
    runs = rank_scaling_sweep(ranks=(2, 32), seeds=(0, 1), steps=20,
                              task=regression_task(n=64))
    assert len(runs) == 2 * 2 * 2

    def grad(rule, r):
        return sum(run.first_grad_B for run in select(runs, rule=rule, r=r)) / 2

    # ‖∂L/∂B‖ at step 0 is scaling · ‖g (A x)ᵀ‖ ~ scaling · √r: with alpha/r it falls like
    # 1/√r (a factor 4 from r = 2 to 32), with alpha/√r it stays about the same.
    assert grad("alpha / r", 32) < 0.4 * grad("alpha / r", 2)
    assert 0.7 < grad("alpha / √r", 32) / grad("alpha / √r", 2) < 1.4
    for run in runs:
        expected = 16 / 32 ** (0.5 if run.rule == "alpha / √r" else 1) if run.r == 32 else None
        if expected is not None:
            assert run.scaling == pytest.approx(expected)
    # At r = 32 and the same learning rate, alpha/√r has learned more of the change.
    worst_rs = max(run.loss for run in select(runs, rule="alpha / √r", r=32))
    best_lora = min(run.loss for run in select(runs, rule="alpha / r", r=32))
    assert worst_rs < best_lora


def test_select_filters_by_fields():
    runs = rank_scaling_sweep(ranks=(2,), seeds=(0,), steps=2, task=regression_task(n=8))
    assert [run.rule for run in select(runs, r=2)] == ["alpha / r", "alpha / √r"]
    assert select(runs, r=3) == []
