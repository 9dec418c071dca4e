"""Notebook 05's experiments (lora_tutorial.course.experiments.finetune): named records that
say what each number is, and numbers that are right."""

import pytest
import torch

from lora_tutorial import energy_kept, inject_lora, lora_layers, mark_only_lora_as_trainable
from lora_tutorial.course.data import load_task
from lora_tutorial.course.experiments import finetune
from lora_tutorial.course.models import load_pretrained

STEPS = 5                      # a few steps: the records, not the accuracy, are under test


@pytest.fixture(scope="module")
def task():
    return load_task("rotated")


def test_fit_split_holds_out_the_rest_of_the_training_images(task):
    fit = finetune.fit_split(task)
    assert len(fit.y_train) == 1000 and len(fit.y_test) == len(task.y_train) - 1000
    assert torch.equal(fit.x_test, task.x_train[1000:])    # never the real test images


def test_a_lora_run_trains_only_a_and_b_and_repeats_exactly(task):
    first = finetune.fine_tune(finetune.lora(["q_proj", "v_proj"]), 1e-2, 0, task, steps=STEPS,
                               method="LoRA q,v")
    again = finetune.fine_tune(finetune.lora(["q_proj", "v_proj"]), 1e-2, 0, task, steps=STEPS)
    assert first.trainable == 6 * 8 * (64 + 64)           # 6 projections, r·(d + k) each
    assert first.method == "LoRA q,v" and first.lr == 1e-2 and first.seed == 0
    assert len(first.losses) == STEPS and first.losses == again.losses
    assert 0 <= first.accuracy <= 1 and 0 <= first.held_out <= 1
    assert first.percent == pytest.approx(100 * 6_144 / first.total)
    other_seed = finetune.fine_tune(finetune.lora(["q_proj", "v_proj"]), 1e-2, 1, task,
                                    steps=STEPS)
    assert other_seed.losses != first.losses


def test_head_only_and_full_finetuning_train_what_they_say(task):
    head = finetune.fine_tune(finetune.head_only, 3e-2, 0, task, steps=STEPS)
    full = finetune.fine_tune(finetune.full_finetuning, 1e-3, 0, task, steps=STEPS)
    assert head.trainable == 64 * 10 + 10
    assert full.trainable == full.total


def _run(held_out, lr, seed=0, accuracy=0.5):
    return finetune.Run("m", lr, seed, accuracy, held_out, 1, 2, [1.0], None, None)


def test_the_search_chooses_the_best_mean_held_out_accuracy_not_the_best_single_run():
    search = finetune.Search("m", {
        1e-3: [_run(0.50, 1e-3), _run(0.52, 1e-3, 1)],
        1e-2: [_run(0.80, 1e-2), _run(0.82, 1e-2, 1)],
        1e-1: [_run(0.99, 1e-1), _run(0.10, 1e-1, 1)],    # one lucky seed, a poor mean
    })
    assert search.rates == [1e-3, 1e-2, 1e-1]
    assert search.chosen == 1e-2
    assert search.held_out(1e-2) == [0.80, 0.82]
    assert [run.seed for run in search.best] == [0, 1]


def test_the_search_ignores_test_accuracy():
    search = finetune.Search("m", {1e-3: [_run(0.9, 1e-3, accuracy=0.1)] * 2,
                                   1e-2: [_run(0.5, 1e-2, accuracy=0.99)] * 2})
    assert search.chosen == 1e-3


def test_costs_are_read_from_the_tensors_and_match_the_prediction(task):
    runs = {name: finetune.fine_tune(set_up, 1e-3, 0, task, steps=2)
            for name, set_up in (("full", finetune.full_finetuning),
                                 ("head", finetune.head_only),
                                 ("lora", finetune.lora(["q_proj", "v_proj"])))}
    costs = {name: finetune.costs(run) for name, run in runs.items()}
    for name, c in costs.items():
        assert c.gradient_bytes == 4 * c.trainable, name
        assert c.adam_bytes == 8 * c.trainable + 4 * c.step_counters, name
    assert costs["lora"].step_counters == 12                # A and B in 6 layers
    assert costs["head"].step_counters == 2                 # the head's weight and bias
    # The checkpoint: the whole model (4 B a number), the head alone, or the adapter alone.
    assert costs["full"].checkpoint_bytes > 4 * costs["full"].total
    assert 4 * 650 < costs["head"].checkpoint_bytes < 4 * 650 + 1_000
    assert 4 * 6_144 < costs["lora"].checkpoint_bytes < 4 * 6_144 + 3_000


def test_old_task_accuracy_evaluates_each_run_on_the_old_task(task):
    run = finetune.fine_tune(finetune.head_only, 3e-2, 0, task, steps=1)
    digits = load_task("digits")
    base = load_pretrained("cpu")
    # One step of head-only training barely moves the base model's accuracy on the digits.
    from lora_tutorial.course.training import evaluate
    assert finetune.old_task_accuracy([run], digits) == [evaluate(run.model, digits.x_test,
                                                                  digits.y_test)]
    assert abs(finetune.old_task_accuracy([run], digits)[0]
               - evaluate(base, digits.x_test, digits.y_test)) < 0.2


def test_step_functions_train_a_copy_and_leave_the_model_alone(task):
    model = load_pretrained("cpu")
    before = {n: p.clone() for n, p in model.state_dict().items()}
    x, y = task.x_train[:8], task.y_train[:8]
    steps = finetune.step_functions({"full": model}, x, y)
    loss = steps["full"]()
    assert torch.isfinite(loss)
    assert all(torch.equal(p, before[n]) for n, p in model.state_dict().items())


def test_a_lora_width_step_moves_only_the_adapters():
    step = finetune.width_step(32, use_lora=True, tokens=16)
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.GELU(),
                                    torch.nn.Linear(32, 32))
    step()
    # The step's model (held by the returned closure): its frozen weights stay as drawn.
    inner = [c.cell_contents for c in step.__closure__ if isinstance(c.cell_contents,
                                                                     torch.nn.Module)][0]
    assert torch.equal(inner[0].base_layer.weight, reference[0].weight)
    assert torch.equal(inner[2].base_layer.weight, reference[2].weight)
    assert any(layer.lora_B.weight.abs().sum() > 0 for _, layer in lora_layers(inner))


def test_width_point_ratio_is_lora_over_full():
    assert finetune.WidthPoint(64, full_seconds=2.0, lora_seconds=1.0).ratio == 0.5


def test_cosine_is_one_for_the_same_direction_and_zero_for_orthogonal_ones():
    a = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    assert finetune.cosine(a, 3 * a) == pytest.approx(1.0)
    assert finetune.cosine(a, -a) == pytest.approx(-1.0)
    assert finetune.cosine(a, b) == pytest.approx(0.0)
    assert finetune.cosine(a, a + b) == pytest.approx(2 ** -0.5)


def _base_full_and_lora(target: str, r: int):
    """Three copies of the pretrained model: the base, one to update in full, one with LoRA."""
    base, full_model, lora_model = (load_pretrained("cpu") for _ in range(3))
    inject_lora(lora_model, [target], r=r, alpha=r)
    mark_only_lora_as_trainable(lora_model)
    return base, full_model, lora_model


def test_compare_updates_measures_both_updates_against_w0():
    torch.manual_seed(0)
    base, full_model, lora_model = _base_full_and_lora("q_proj", r=2)
    delta = {}
    with torch.no_grad():
        for name, layer in lora_layers(lora_model):
            layer.lora_B.weight.normal_()
            delta[name] = layer.delta_weight()
            # Full fine-tuning's update: twice LoRA's, plus a part orthogonal to nothing much.
            full_model.get_submodule(name).weight.add_(2 * delta[name])
    rows = finetune.compare_updates(base, full_model, lora_model, r=2)
    assert [u.layer for u in rows] == list(delta)
    for u in rows:
        w0 = base.get_submodule(u.layer).weight
        assert u.lora_norm == pytest.approx((delta[u.layer].norm() / w0.norm()).item(), rel=1e-5)
        assert u.full_norm == pytest.approx(2 * u.lora_norm, rel=1e-4)
        assert u.size_ratio == pytest.approx(0.5, rel=1e-4)
        assert u.cosine == pytest.approx(1.0, abs=1e-4)       # the same direction
        assert u.best_cosine == pytest.approx(1.0, abs=1e-4)  # rank 2 keeps a rank-2 update


def test_the_best_rank_r_cosine_is_the_root_of_the_energy_kept():
    torch.manual_seed(1)
    base, full_model, lora_model = _base_full_and_lora("v_proj", r=4)
    with torch.no_grad():
        for name, _ in lora_layers(lora_model):
            full_model.get_submodule(name).weight.add_(torch.randn(64, 64))
    for u in finetune.compare_updates(base, full_model, lora_model, r=4):
        delta = full_model.get_submodule(u.layer).weight - base.get_submodule(u.layer).weight
        assert u.best_cosine == pytest.approx(energy_kept(delta, 4) ** 0.5, rel=1e-4)
        assert u.lora_norm == 0.0                              # B = 0: LoRA has not moved


def test_subspace_table_finds_identical_adapters_identical_and_fresh_ones_apart():
    model = load_pretrained("cpu")
    torch.manual_seed(0)
    finetune.lora(["q_proj", "v_proj"], r=4)(model)
    rows = finetune.subspace_table(model, model, ["q_proj", "v_proj"])
    assert len(rows) == 6
    for s in rows:
        assert s.top_trained == pytest.approx(1.0, abs=1e-5)
        assert s.all_trained == pytest.approx(1.0, abs=1e-5)
        assert s.top_label == "above 0.1"
        # At initialisation (seed 0, as fine_tune draws it) the model *is* its initial state.
        assert s.top_initial == pytest.approx(1.0, abs=1e-5)


def test_initial_a_is_the_a_that_fine_tune_draws(task):
    run = finetune.fine_tune(finetune.lora(["q_proj", "v_proj"], r=4), 1e-2, 0, task, steps=0)
    drawn = dict(lora_layers(run.model))["blocks.1.attn.v_proj"].lora_A.weight
    assert torch.equal(finetune.initial_a(["q_proj", "v_proj"], 4, "blocks.1.attn.v_proj"), drawn)


def test_similarity_map_has_one_entry_per_pair_of_ranks():
    a_small, a_large = torch.randn(2, 16), torch.randn(3, 16)
    grid = finetune.similarity_map(a_small, a_large)
    assert grid.shape == (2, 3) and bool(((grid >= 0) & (grid <= 1 + 1e-6)).all())
