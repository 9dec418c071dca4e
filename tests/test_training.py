"""Training helpers and the pretrain script."""

import json

import torch

from lora_tutorial import pretrain
from lora_tutorial.data import load_task
from lora_tutorial.models import TinyViT, TinyViTConfig, load_pretrained
from lora_tutorial.training import batch_indices, evaluate, make_optimizer, train


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


def test_random_shift_moves_digits_by_at_most_one_pixel():
    images = torch.zeros(50, 1, 8, 8)
    images[:, :, 3, 4] = 1.0
    shifted = pretrain.random_shift(images, torch.Generator().manual_seed(0))
    rows, cols = (shifted[:, 0] == 1).nonzero()[:, 1:].T
    assert shifted.sum() == 50  # every digit stays whole
    assert set(rows.tolist()) == {2, 3, 4} and set(cols.tolist()) == {3, 4, 5}


def test_pretrain_script_writes_loadable_weights(tmp_path, capsys):
    pretrain.main(["--out", str(tmp_path), "--steps", "5", "--no-progress"])
    assert "test accuracy" in capsys.readouterr().out
    info = json.loads((tmp_path / "tiny_vit_digits.json").read_text())
    assert info["metrics"]["steps"] == 5 and 0 <= info["metrics"]["test_accuracy"] <= 1
    model = load_pretrained("cpu", directory=tmp_path)
    digits = load_task("digits")
    assert evaluate(model, digits.x_test, digits.y_test) == info["metrics"]["test_accuracy"]


def test_batch_larger_than_the_data_is_a_clear_error():
    import pytest
    from lora_tutorial.training import batch_indices

    with pytest.raises(ValueError, match="batch_size must be between 1 and the number"):
        batch_indices(50, 64, steps=3, seed=0)


# The language-model helpers: lm_loss, train_lm, evaluate_lm.

def _tiny_gpt(seed=0):
    from lora_tutorial.models.gpt import TinyGPT, TinyGPTConfig
    torch.manual_seed(seed)
    return TinyGPT(TinyGPTConfig(context=16, dim=32, depth=2, heads=4, mlp_hidden=64))


def test_lm_loss_scores_each_position_against_the_next_byte():
    from lora_tutorial.training import lm_loss
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
    from lora_tutorial.text import load_corpus
    from lora_tutorial.training import train_lm
    tokens = load_corpus("code", "validation")
    runs = [train_lm(_tiny_gpt(), tokens, steps=40, lr=3e-3, batch_size=8, seed=0,
                     progress=False) for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0]) == 40
    assert sum(runs[0][-5:]) / 5 < sum(runs[0][:5]) / 5 - 1.0


def test_train_lm_changes_only_trainable_parameters():
    from lora_tutorial.text import load_corpus
    from lora_tutorial.training import train_lm
    model = _tiny_gpt()
    for name, p in model.named_parameters():
        p.requires_grad = name.startswith("lm_head")
    before = {n: p.clone() for n, p in model.named_parameters()}
    train_lm(model, load_corpus("docs", "validation"), steps=3, lr=1e-2, batch_size=4,
             progress=False)
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed == {"lm_head.weight"} and not model.training


def test_evaluate_lm_is_the_mean_over_every_prediction_whatever_the_batching():
    from lora_tutorial.text import load_corpus, validation_windows
    from lora_tutorial.training import evaluate_lm, lm_loss
    model = _tiny_gpt()
    windows = validation_windows(load_corpus("docs", "validation"), 16, count=10)
    with torch.no_grad():
        whole = lm_loss(model, windows).item()
    assert abs(evaluate_lm(model, windows, batch_size=3) - whole) < 1e-5
    assert abs(evaluate_lm(model, windows, batch_size=256) - whole) < 1e-5
