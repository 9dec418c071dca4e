"""Notebook 09's experiments (lora_tutorial.course.experiments.variants): the fair sweep of LoRA's
variants and DoRA's magnitude/direction analysis, on literals and tiny runs."""

import math

import pytest
import torch

from lora_tutorial.core.dora import DoRALinear
from lora_tutorial.core.inject import lora_layers
from lora_tutorial.course.experiments import variants as v


def test_magnitude_direction_change_separates_length_from_direction():
    w0 = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    # lengths scaled (5 -> 10, 1 -> 1): ΔM = (5 + 0) / 2, no turn at all
    dm, dd = v.magnitude_direction_change(torch.tensor([[6.0, 8.0], [1.0, 0.0]]), w0)
    assert dm == pytest.approx(2.5) and dd == pytest.approx(0.0, abs=1e-7)
    # a turn by 90° of the second row and 60° of the first, lengths kept: ΔM = 0
    c, s = math.cos(math.pi / 3), math.sin(math.pi / 3)
    turned = torch.tensor([[3 * c - 4 * s, 3 * s + 4 * c], [0.0, 1.0]])
    dm, dd = v.magnitude_direction_change(turned, w0)
    assert dm == pytest.approx(0.0, abs=1e-6)
    assert dd == pytest.approx(((1 - 0.5) + (1 - 0.0)) / 2, abs=1e-6)
    # a shrinking row counts like a growing one (absolute change)
    dm, _ = v.magnitude_direction_change(torch.tensor([[1.5, 2.0], [1.0, 0.0]]), w0)
    assert dm == pytest.approx(1.25)


def test_slope_is_the_least_squares_slope_of_d_against_m():
    points = [v.MDPoint("x", "l", 1, m, 0.5 - 2 * m) for m in (0.1, 0.2, 0.4)]
    assert v.slope(points) == pytest.approx(-2.0)
    points = [v.MDPoint("x", "l", 1, m, 3 * m + 1) for m in (0.0, 1.0, 5.0)]
    assert v.slope(points) == pytest.approx(3.0)


def test_variant_model_builds_each_method():
    lora = dict(lora_layers(v.variant_model("LoRA", 4, seed=0)))
    rs = dict(lora_layers(v.variant_model("rsLoRA", 4, seed=0)))
    dora = dict(lora_layers(v.variant_model("DoRA", 4, seed=0)))
    name = "blocks.0.attn.q_proj"
    assert lora[name].scaling == pytest.approx(16 / 4)
    assert rs[name].scaling == pytest.approx(16 / 2)
    assert isinstance(dora[name], DoRALinear) and not isinstance(lora[name], DoRALinear)
    assert torch.equal(lora[name].lora_A.weight, rs[name].lora_A.weight)   # same seed, same A
    with pytest.raises(ValueError, match="unknown method"):
        v.variant_model("AdaLoRA", 4, seed=0)


def test_optimizer_for_loraplus_gives_b_sixteen_times_the_rate():
    model = v.variant_model("LoRA", 4, seed=0)
    groups = v.optimizer_for("LoRA+", model, 1e-3).param_groups
    assert [g["lr"] for g in groups] == [pytest.approx(1e-3), pytest.approx(16e-3)]
    assert len(v.optimizer_for("LoRA", model, 1e-3).param_groups) == 1


def test_split_holds_out_validation_images_from_training():
    x_train, y_train, x_val, y_val, x_test, y_test = v.split()
    assert len(x_val) == len(y_val) == v.VALIDATION
    assert len(x_train) + len(x_val) == 1347 and len(x_test) == 450
    assert not any(torch.equal(x_val[0], x) for x in x_train)


def test_fine_tune_is_a_seeded_named_run_and_learns():
    data = v.split()
    run = v.fine_tune("LoRA", 4, 3e-3, seed=0, steps=20, data=data)
    again = v.fine_tune("LoRA", 4, 3e-3, seed=0, steps=20, data=data)
    assert run == again
    assert (run.method, run.r, run.lr, run.seed) == ("LoRA", 4, 3e-3, 0)
    untrained = v.fine_tune("LoRA", 4, 3e-3, seed=0, steps=0, data=data)
    assert run.val_loss < untrained.val_loss and run.loss < untrained.loss
    assert 0 <= run.accuracy <= 1


def test_tune_keeps_the_rate_with_the_lowest_mean_validation_loss(monkeypatch):
    calls = []

    def fake(method, r, lr, seed, steps, data):
        calls.append((lr, seed))
        # 1e-2 wins on the mean although 1e-3 has the single best seed
        val = {1e-3: [0.1, 0.9, 0.9], 1e-2: [0.3, 0.3, 0.3]}[lr][seed]
        return v.Run(method, r, lr, seed, val, accuracy=1 - val, loss=val)

    monkeypatch.setattr(v, "fine_tune", fake)
    seen = []
    tuned = v.tune("LoRA", 4, rates=(1e-3, 1e-2), seeds=(0, 1, 2), data=object(),
                   progress=seen.append)
    assert tuned.lr == 1e-2
    assert [run.seed for run in tuned.runs] == [0, 1, 2] and all(r.lr == 1e-2 for r in tuned.runs)
    assert tuned.accuracies == pytest.approx([0.7, 0.7, 0.7])
    assert tuned.val_loss_by_lr == pytest.approx({1e-3: 1.9 / 3, 1e-2: 0.3})
    assert len(calls) == len(seen) == 6


def test_magnitude_direction_records_q_and_v_of_every_block_at_each_checkpoint():
    points = v.magnitude_direction("full", steps=2, checkpoints=(1, 2))
    assert len(points) == 2 * 6                       # q_proj and v_proj of 3 blocks, 2 checkpoints
    assert {p.layer.rsplit(".", 1)[-1] for p in points} == {"q_proj", "v_proj"}
    assert all(p.delta_m >= 0 and p.delta_d > 0 for p in points)
    lora = v.magnitude_direction("LoRA", steps=1, checkpoints=(1,))
    assert len(lora) == 6 and all(p.delta_d > 0 for p in lora)   # B moved off zero
    with pytest.raises(ValueError, match="method must be"):
        v.magnitude_direction("rsLoRA", steps=1)
