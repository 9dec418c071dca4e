"""The training helpers (lora_tutorial.course.training); the pretrain script's tests are in test_pretrain.py."""

import math

import pytest
import torch

from refusal import unchanged
from lora_tutorial.course.data import load_task
from lora_tutorial.course.models import TinyViT, TinyViTConfig, load_pretrained
from lora_tutorial.course.training import (
    batch_indices,
    evaluate,
    make_optimizer,
    pretraining_arguments,
    pretraining_recipe,
    single_thread,
    steps_to_run,
    train,
    warmup_cosine_schedule,
)


def test_batches_are_seeded_and_each_epoch_is_a_permutation():
    batches = batch_indices(n=10, batch_size=5, steps=4, seed=3)
    assert [b.tolist() for b in batches] == [b.tolist() for b in batch_indices(10, 5, 4, 3)]
    assert sorted(torch.cat(batches[:2]).tolist()) == list(range(10))
    assert all(len(b) == 5 for b in batches)


def test_training_is_deterministic_and_the_loss_falls():
    task = load_task("rotated")
    runs = [train(load_pretrained("cpu"), task, steps=25, lr=1e-3, seed=0, progress=False)
            for _ in range(2)]
    assert runs[0] == runs[1]
    assert len(runs[0]) == 25
    assert sum(runs[0][-5:]) / 5 < 0.5 * runs[0][0]


def test_only_trainable_parameters_are_optimised_and_changed():
    model = load_pretrained("cpu")
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith("head.")
    optimizer = make_optimizer(model, lr=1e-3)
    assert sum(p.numel() for g in optimizer.param_groups for p in g["params"]) == 650
    before = {n: p.clone() for n, p in model.named_parameters()}
    train(model, load_task("inverted"), steps=3, progress=False)
    for name, param in model.named_parameters():
        assert torch.equal(param, before[name]) != name.startswith("head."), name


def test_evaluate_returns_a_fraction_and_keeps_the_mode():
    model = TinyViT(TinyViTConfig(dim=16, depth=1, heads=2)).train()
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 10, (8,))
    assert 0.0 <= evaluate(model, x, y) <= 1.0
    assert model.training


def test_steps_to_run_is_every_step_or_the_first_few():
    assert steps_to_run(100, None) == 100 and steps_to_run(100, 8) == 8
    for bad in (0, 101):
        with pytest.raises(ValueError, match=r"stop_after must be between 1 and steps \(100\)"):
            steps_to_run(100, bad)


def test_schedule_warms_up_linearly_then_decays_to_zero():
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=1.0)
    schedule = warmup_cosine_schedule(optimizer, steps=200)   # warm-up: 10 steps
    rates = []
    for _ in range(200):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    def cosine(step):
        return 0.5 * (1 + math.cos(math.pi * step / 200))

    assert rates[:3] == pytest.approx([0.1, 0.2, 0.3])
    assert rates[9] == pytest.approx(cosine(9))   # the warm-up meets the decay just below 1
    assert rates[100] == pytest.approx(0.5) and rates[-1] == pytest.approx(cosine(199))
    assert all(a >= b for a, b in zip(rates[9:], rates[10:]))


def test_pretraining_arguments_take_the_scripts_defaults_and_overrides():
    defaults = {"steps": 10, "lr": 1e-3, "batch_size": 4, "weight_decay": 0.5}
    args = pretraining_arguments("demo", [], **defaults)
    assert pretraining_recipe(args) == {**defaults, "seed": 0}
    assert args.out.endswith("weights") and not args.no_progress
    args = pretraining_arguments("demo", ["--lr", "0.1", "--seed", "3", "--no-progress"],
                                 **defaults)
    assert (args.lr, args.seed, args.no_progress) == (0.1, 3, True)


def test_single_thread_restores_the_thread_count_even_after_an_error():
    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        with pytest.raises(RuntimeError, match="stop"), single_thread():
            inside = torch.get_num_threads()
            raise RuntimeError("stop")
        assert (inside, torch.get_num_threads()) == (1, 3)
    finally:
        torch.set_num_threads(threads)


def test_batch_larger_than_the_data_is_a_clear_error():
    with pytest.raises(ValueError, match="batch_size must be between 1 and the number"):
        batch_indices(50, 64, steps=3, seed=0)


# The language-model helpers: lm_loss, train_lm, evaluate_lm.

def _tiny_gpt(seed=0):
    from lora_tutorial.course.models.gpt import TinyGPT, TinyGPTConfig
    torch.manual_seed(seed)
    return TinyGPT(TinyGPTConfig(context=16, dim=32, depth=2, heads=4, mlp_hidden=64))


def test_lm_loss_scores_each_position_against_the_next_byte():
    from lora_tutorial.course.training import lm_loss
    model = _tiny_gpt()
    windows = torch.randint(0, 256, (3, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(windows[:, :-1])
        expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 256),
                                                     windows[:, 1:].reshape(-1))
        assert torch.allclose(lm_loss(model, windows), expected)
        wrong = torch.nn.functional.cross_entropy(logits.reshape(-1, 256),
                                                  windows[:, :-1].reshape(-1))
        assert not torch.allclose(lm_loss(model, windows), wrong)


def test_train_lm_is_deterministic_and_the_loss_falls():
    from lora_tutorial.course.text import load_corpus
    from lora_tutorial.course.training import train_lm
    tokens = load_corpus("code", "validation")
    runs = [train_lm(_tiny_gpt(), tokens, steps=40, lr=3e-3, batch_size=8, seed=0,
                     progress=False) for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0]) == 40
    assert sum(runs[0][-5:]) / 5 < sum(runs[0][:5]) / 5 - 1.0


def test_train_lm_changes_only_trainable_parameters():
    from lora_tutorial.course.text import load_corpus
    from lora_tutorial.course.training import train_lm
    model = _tiny_gpt()
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("lm_head")
    before = {n: p.clone() for n, p in model.named_parameters()}
    train_lm(model, load_corpus("docs", "validation"), steps=3, lr=1e-2, batch_size=4,
             progress=False)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {"lm_head.weight"} and not model.training


def test_evaluate_lm_is_the_mean_over_every_prediction_whatever_the_batching():
    from lora_tutorial.course.text import load_corpus, validation_windows
    from lora_tutorial.course.training import evaluate_lm, lm_loss
    model = _tiny_gpt()
    windows = validation_windows(load_corpus("docs", "validation"), 16, count=10)
    with torch.no_grad():
        whole = lm_loss(model, windows).item()
    assert abs(evaluate_lm(model, windows, batch_size=3) - whole) < 1e-5
    assert abs(evaluate_lm(model, windows, batch_size=256) - whole) < 1e-5


def test_train_with_our_own_optimizer_gives_the_same_losses_and_keeps_its_state():
    task = load_task("rotated")
    by_rate = train(load_pretrained("cpu"), task, steps=6, lr=3e-3, seed=1, progress=False)
    model = load_pretrained("cpu")
    optimizer = make_optimizer(model, lr=3e-3)
    assert train(model, task, steps=6, seed=1, progress=False, optimizer=optimizer) == by_rate
    assert all(optimizer.state[p]["step"] == 6 for p in model.parameters())


@pytest.mark.parametrize("setting", [{"lr": 1e-2}, {"weight_decay": 0.1}])
def test_train_refuses_an_optimizer_together_with_its_settings(setting):
    model = load_pretrained("cpu")
    optimizer = make_optimizer(model, lr=1e-3)
    with unchanged(model), pytest.raises(ValueError, match="optimizer already has its own"):
        train(model, load_task("rotated"), steps=2, progress=False, optimizer=optimizer,
              **setting)
    assert optimizer.state == {}
