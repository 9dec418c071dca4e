"""The freezing checker of notebook 1 (lora_tutorial.course.exercises.freezing)."""

import re

import pytest
from torch import nn

from lora_tutorial.course.exercises.freezing import check_freeze_all_but_last


def freeze_right(model):
    for p in model.parameters():
        p.requires_grad_(False)
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    for p in last.parameters():
        p.requires_grad_(True)


def freeze_nothing(model):
    pass


def freeze_everything(model):
    for p in model.parameters():
        p.requires_grad = False


def freeze_forgets_bias(model):
    freeze_everything(model)
    [m for m in model.modules() if isinstance(m, nn.Linear)][-1].weight.requires_grad = True


def freeze_by_index(model):
    freeze_everything(model)
    for p in model[4].parameters():
        p.requires_grad = True


def freeze_by_reinitialising(model):
    freeze_everything(model)
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    nn.init.zeros_(last.bias)
    last.bias.requires_grad = True
    last.weight.requires_grad = True


def freeze_last_child(model):
    freeze_everything(model)
    for p in list(model.children())[-1].parameters():
        p.requires_grad = True


def freeze_head_or_last_item(model):
    freeze_everything(model)
    last = model.head if hasattr(model, "head") else model[-1]
    for p in last.parameters():
        p.requires_grad = True


def test_freezing_checker_accepts_a_right_answer(capsys):
    check_freeze_all_but_last(freeze_right)
    out = capsys.readouterr().out
    assert out.startswith("✓ Correct: only the last layer trains")
    assert "51 of 467 parameters" in out


@pytest.mark.parametrize("wrong, message", [
    (freeze_nothing, "still train: 0.weight"),
    (freeze_everything, "4.weight, 4.bias are frozen, but they belong to the last layer (4)"),
    (freeze_forgets_bias, "4.bias is frozen"),
    (freeze_by_index, "raised TypeError"),
    (freeze_by_reinitialising, "changed the values of 4.bias"),
    (freeze_last_child, "classifier.weight, classifier.bias are frozen, but they belong to "
                        "the last layer (classifier), the one part meant to learn. With it "
                        "frozen, nothing trains. Here the last nn.Linear is 'classifier', but "
                        "the last child is 'dropout': find the layer by its type"),
    (freeze_head_or_last_item, "raised TypeError: '_ClassifierThenDropout' object is not "
                               "subscriptable Here the last nn.Linear is 'classifier'"),
])
def test_freezing_checker_explains_mistakes(wrong, message):
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_freeze_all_but_last(wrong)
