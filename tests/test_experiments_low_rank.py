"""Notebook 2's rank sweep (lora_tutorial.course.experiments.low_rank), on a tiny task."""

import copy

import pytest
import torch
from torch import nn

from lora_tutorial.course.experiments.low_rank import (ClassificationTask, RankRun, RankSweep,
                                                       doubling_rule, lora_rank_sweep, lora_run)


def tiny_task_and_model():
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(120, 6, generator=g)
    labels = (inputs[:, 0] - inputs[:, 1] > 0).long() + (inputs[:, 2] > 0.5).long()
    task = ClassificationTask(inputs=inputs, labels=labels, train=torch.arange(0, 80),
                              test=torch.arange(80, 120))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 3))
    return task, model


def accuracy(model, task):
    with torch.no_grad():
        predicted = model(task.inputs[task.test]).argmax(1)
    return 100 * (predicted == task.labels[task.test]).float().mean().item()


def test_a_run_changes_only_the_adapted_layer_by_its_low_rank_update():
    task, model = tiny_task_and_model()
    before = copy.deepcopy(model.state_dict())
    run = lora_run(model, "2", task, r=2, seed=0, alpha=4, steps=30, lr=1e-2)
    # the pretrained model is left as it was
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert run.delta_weight.shape == (16, 16)
    assert torch.linalg.matrix_rank(run.delta_weight).item() <= 2
    assert run.delta_weight.abs().max() > 0
    # the trained model is the pretrained one with ΔW added to layer 2, nothing else moved
    merged = copy.deepcopy(model)
    with torch.no_grad():
        merged[2].weight += run.delta_weight
    assert run.accuracy == pytest.approx(accuracy(merged, task))


def test_zero_steps_leave_the_model_exactly_as_pretrained():
    task, model = tiny_task_and_model()
    run = lora_run(model, "2", task, r=4, seed=3, steps=0)
    assert torch.equal(run.delta_weight, torch.zeros(16, 16))       # B starts at zero
    assert run.accuracy == pytest.approx(accuracy(model, task))


def test_a_nested_layer_name_is_found():
    task, model = tiny_task_and_model()
    wrapped = nn.Sequential()
    wrapped.add_module("body", model)
    run = lora_run(wrapped, "body.2", task, r=1, seed=0, steps=5)
    assert run.delta_weight.shape == (16, 16)


def test_the_seed_decides_the_run_and_the_sweep_keeps_every_pair():
    task, model = tiny_task_and_model()
    sweep = lora_rank_sweep(model, "2", task, ranks=(1, 2), seeds=(0, 1), alpha=4, steps=10,
                            progress=False)
    assert sweep.ranks == [1, 2] and sweep.seeds == [0, 1]
    assert (sweep.alpha, sweep.steps, sweep.lr) == (4, 10, 1e-2)
    again = lora_run(model, "2", task, r=2, seed=1, alpha=4, steps=10)
    assert torch.equal(sweep.run(2, 1).delta_weight, again.delta_weight)
    assert not torch.equal(sweep.run(2, 0).delta_weight, sweep.run(2, 1).delta_weight)
    assert sweep.accuracies(2) == [sweep.run(2, 0).accuracy, sweep.run(2, 1).accuracy]
    with pytest.raises(KeyError, match="no run with r=8"):
        sweep.run(8, 0)


def sweep_of(accuracies):
    runs = tuple(RankRun(r=r, seed=seed, accuracy=a, delta_weight=torch.zeros(1, 1))
                 for r, values in accuracies.items() for seed, a in enumerate(values))
    return RankSweep(runs=runs, alpha=16, steps=1, lr=1e-2)


@pytest.mark.parametrize("accuracies, chosen, wins", [
    ({2: [80, 82], 4: [90, 91], 8: [91, 92], 16: [93, 94]}, 4, [True, False]),
    ({2: [80, 82], 4: [83, 91], 8: [90, 96]}, 4, [True, False]),
    ({2: [80, 82], 4: [82, 90]}, 2, [False]),                  # touching ranges: not beyond
    ({2: [80, 82], 4: [70, 75]}, 2, [False]),                  # the larger rank is worse
    ({1: [50, 51], 2: [60, 61], 4: [70, 71]}, 4, [True, True]),
])
def test_the_doubling_rule_moves_on_only_beyond_the_spread(accuracies, chosen, wins):
    choice = doubling_rule(sweep_of(accuracies))
    assert choice.chosen == chosen
    assert [step.beyond_the_spread for step in choice.steps] == wins
    assert [step.small for step in choice.steps] == sorted(accuracies)[:len(wins)]
