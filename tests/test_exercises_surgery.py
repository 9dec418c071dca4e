"""The module-surgery exercise of notebook 3: its checker accepts right answers, names wrong ones."""

import re

import pytest
from torch import nn

from lora_tutorial import LoRALinear, inject_lora, mark_only_lora_as_trainable
from lora_tutorial.course.exercises import CORRECT, ExerciseError
from lora_tutorial.course.exercises.surgery import check_add_lora_by_name


def _targets_in(model, target_modules):
    return [name for name, module in model.named_modules()
            if isinstance(module, nn.Linear) and name.split(".")[-1] in target_modules]


def right(model, target_modules, r, alpha):
    names = _targets_in(model, target_modules)
    if not names:
        raise ValueError(f"No nn.Linear named {target_modules}.")
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(getattr(parent, child), r=r, alpha=alpha))
    model.requires_grad_(False)
    for name in names:
        for p in (model.get_submodule(name).lora_A, model.get_submodule(name).lora_B):
            p.requires_grad_(True)
    return names


def package(model, target_modules, r, alpha):
    names = inject_lora(model, target_modules, r=r, alpha=alpha)
    mark_only_lora_as_trainable(model)
    return names


def test_checker_accepts_a_hand_written_surgery_and_the_package(capsys):
    assert bool(check_add_lora_by_name(right)) is True
    assert bool(check_add_lora_by_name(package)) is True
    out = capsys.readouterr().out
    assert out.count(CORRECT) == 2
    assert "['q_proj', 'v_proj'] at r=4: 256 of 1,451 parameters train" in out


def no_freeze(model, target_modules, r, alpha):
    inject_lora(model, target_modules, r=r, alpha=alpha)


def head_trains(model, target_modules, r, alpha):
    package(model, target_modules, r, alpha)
    model.head.requires_grad_(True)


def substring_match(model, target_modules, r, alpha):
    names = [n for n, m in model.named_modules()
             if isinstance(m, nn.Linear) and any(n.endswith(t) for t in target_modules)]
    if not names:
        raise ValueError("nothing matched")
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(getattr(parent, child), r=r, alpha=alpha))
    mark_only_lora_as_trainable(model)
    return names


def substring_anywhere(model, target_modules, r, alpha):
    names = [n for n, m in model.named_modules()
             if isinstance(m, nn.Linear) and any(t in n for t in target_modules)]
    if not names:
        raise ValueError("nothing matched")
    model.requires_grad_(False)
    _wrap(model, names, r, alpha, lambda name: name.rpartition(".")[::2])
    return names


def top_level_only(model, target_modules, r, alpha):
    for name in [n for n, m in model.named_children() if n in target_modules]:
        setattr(model, name, LoRALinear(getattr(model, name), r=r, alpha=alpha))
    mark_only_lora_as_trainable(model)


def fixed_rank(model, target_modules, r, alpha):
    return package(model, target_modules, 4, alpha)


def silent_on_no_match(model, target_modules, r, alpha):
    names = _targets_in(model, target_modules)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(getattr(parent, child), r=r, alpha=alpha))
    mark_only_lora_as_trainable(model)
    return names


def copies_the_layer(model, target_modules, r, alpha):
    for name in _targets_in(model, target_modules) or [None]:
        if name is None:
            raise ValueError("nothing matched")
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        old = getattr(parent, child)
        new = nn.Linear(old.in_features, old.out_features, bias=old.bias is not None)
        new.load_state_dict(old.state_dict())
        setattr(parent, child, LoRALinear(new, r=r, alpha=alpha))
    mark_only_lora_as_trainable(model)


def _wrap(model, names, r, alpha, split):
    for name in names:
        parent_name, child = split(name)
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(getattr(parent, child), r=r, alpha=alpha))


def wraps_then_freezes(model, target_modules, r, alpha):
    names = _targets_in(model, target_modules)
    if not names:
        raise ValueError("nothing matched")
    _wrap(model, names, r, alpha, lambda name: name.rpartition(".")[::2])
    model.requires_grad_(False)                 # also freezes the new A and B
    return names


def rsplit_fails_at_the_root(model, target_modules, r, alpha):
    names = _targets_in(model, target_modules)
    if not names:
        raise ValueError("nothing matched")
    model.requires_grad_(False)
    _wrap(model, names, r, alpha, lambda name: name.rsplit(".", 1))   # "proj" has no dot
    return names


def skips_the_root(model, target_modules, r, alpha):
    names = [n for n in _targets_in(model, target_modules) if "." in n]
    if not names:
        raise ValueError("nothing matched")
    model.requires_grad_(False)
    _wrap(model, names, r, alpha, lambda name: name.rpartition(".")[::2])
    return names


def returns_nothing(model, target_modules, r, alpha):
    right(model, target_modules, r, alpha)


@pytest.mark.parametrize("wrong, message", [
    (no_freeze, "these still train"),
    (head_trains, "these still train: head.weight, head.bias"),
    (substring_match, "also replaced encoder.layers.1.mlp.out_proj"),
    (substring_anywhere, "also replaced encoder.layers.1.mlp.out_proj, which is no target. "
                         "Compare whole name parts"),
    (top_level_only, "left blocks.0.attn.q_proj"),
    (fixed_rank, "blocks.0.fc1 (16×8) has 96 trainable numbers; a rank-2 LoRA layer has r·(d + k) = 48"),
    (silent_on_no_match, "returned without an error"),
    (copies_the_layer, "does not contain the original nn.Linear"),
    (wraps_then_freezes, "nothing in the new blocks.0.attn.q_proj trains: its A and B are "
                         "frozen too. Freezing the whole model after wrapping"),
    (rsplit_fails_at_the_root, "raised ValueError: not enough values to unpack (expected 2, "
                               "got 1) proj sits at the root of the model: its parent's name "
                               "is '' ('proj'.rpartition('.') gives ('', '', 'proj'))"),
    (skips_the_root, "left proj a plain nn.Linear. Match every module"),
    (skips_the_root, "proj sits at the root of the model"),
    (returns_nothing, "returned None; return the list of the names it adapted, as inject_lora "
                      "does (here ['blocks.0.attn.q_proj', 'blocks.0.attn.v_proj', "
                      "'blocks.1.attn.q_proj', 'blocks.1.attn.v_proj'])"),
])
def test_checker_names_each_mistake(wrong, message, capsys):
    with pytest.raises(ExerciseError, match=re.escape(message)):
        check_add_lora_by_name(wrong)
    assert CORRECT not in capsys.readouterr().out
