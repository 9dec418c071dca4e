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
