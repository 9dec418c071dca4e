"""The digits split and the downstream tasks made from it."""

import pytest
import torch

from lora_tutorial.course.data import TASKS, load_digits_split, load_task, split_indices
from lora_tutorial.course.models import load_pretrained
from lora_tutorial.course.training import evaluate


def test_split_shapes_types_and_range():
    x_train, y_train, x_test, y_test = load_digits_split()
    assert x_train.shape == (1347, 1, 8, 8) and x_test.shape == (450, 1, 8, 8)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert x_train.min() >= 0 and x_train.max() == 1
    assert set(y_train.tolist()) == set(y_test.tolist()) == set(range(10))


def test_split_is_deterministic_disjoint_and_complete():
    train, test = split_indices(1797)
    assert len(set(train.tolist()) & set(test.tolist())) == 0
    assert sorted(train.tolist() + test.tolist()) == list(range(1797))
    for a, b in zip(load_digits_split(seed=0), load_digits_split(seed=0)):
        assert torch.equal(a, b)
    assert not torch.equal(split_indices(1797, seed=1)[1], test)


def test_tasks_transform_the_same_split_and_keep_the_labels():
    digits = load_task("digits")
    rotated, inverted = load_task("rotated"), load_task("inverted")
    assert torch.equal(rotated.x_test, torch.rot90(digits.x_test, 1, dims=(-2, -1)))
    assert torch.equal(inverted.x_train, 1 - digits.x_train)
    for task in (rotated, inverted):
        assert torch.equal(task.y_train, digits.y_train)
        assert torch.equal(task.y_test, digits.y_test)


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="unknown task"):
        load_task("mirrored")


def test_base_model_is_good_at_digits_and_poor_at_every_downstream_task():
    model = load_pretrained("cpu")
    for name in TASKS:
        task = load_task(name)
        accuracy = evaluate(model, task.x_test, task.y_test)
        if name == "digits":
            assert accuracy > 0.95
        else:
            assert accuracy < 0.4, f"base model already good at {name!r}: {accuracy:.1%}"
