"""The LoRA parameter-count checker of notebook 4 (lora_tutorial.course.exercises.counting)."""

import re

import pytest
import torch
from torch import nn

from lora_tutorial import count_parameters, inject_lora, mark_only_lora_as_trainable
from lora_tutorial.course.exercises.counting import check_lora_param_count, gpt2_shapes
from lora_tutorial.course.skeletons import GPT2_SMALL, meta_skeleton


def correct_count(shapes, r, targets):
    return sum(r * (d + k) for name, (d, k) in shapes.items()
               if any(name == t or name.endswith("." + t) for t in targets))


def count_by_rule(rule):
    """A count that is right but for how it matches a name with the targets."""
    return lambda shapes, r, targets: sum(r * (d + k) for name, (d, k) in shapes.items()
                                          if any(rule(name, t) for t in targets))


def test_count_checker_accepts_a_correct_function(capsys):
    check_lora_param_count(correct_count)
    assert capsys.readouterr().out.startswith("✓ Correct")


@pytest.mark.parametrize("wrong, message", [
    (lambda s, r, t: sum(d * k for n, (d, k) in s.items() if n.split(".")[-1] in t),
     "the full matrix"),
    (lambda s, r, t: sum(r * d * k for n, (d, k) in s.items() if n.split(".")[-1] in t),
     "added, not multiplied"),
    (lambda s, r, t: sum(2 * r * d for n, (d, k) in s.items() if n.split(".")[-1] in t),
     "you used d for both matrices"),
    (lambda s, r, t: sum(r * k for n, (d, k) in s.items() if n.split(".")[-1] in t),
     "only one of the two matrices"),
    (lambda s, r, t: sum(r * (d + k) for n, (d, k) in s.items()), "You counted every layer"),
    (lambda s, r, t: sum(r * (d + k) for n, (d, k) in s.items() if n in t),
     "No layer matched the targets"),
    (lambda s, r, t: r * sum(d + k for n, (d, k) in list(s.items())[:6]
                             if n.split(".")[-1] in t), "add up every block"),
    (lambda s, r, t: float(correct_count(s, r, t)), "not the float"),
    (lambda s, r, t: torch.tensor(correct_count(s, r, t)), "plain Python int"),
    (lambda s, r, t: 1 / 0, "raised ZeroDivisionError"),
    (count_by_rule(lambda name, t: t in name),
     "matched the targets as substrings, so 'q_proj' also picked blocks.0.attn.xq_proj, "
     "blocks.0.mlp.q_proj_gate"),
    (count_by_rule(lambda name, t: name.endswith(t)),
     re.escape("name.endswith(target) also picked blocks.0.attn.xq_proj: compare with '.' + "
               "target")),
    (count_by_rule(lambda name, t: name.split(".")[-1] == t),
     "compared only the last part of each name, which never equals a dotted target such as "
     "'attn.q_proj'"),
    (count_by_rule(lambda name, t: name.endswith("." + t)),
     "no layer matched, but the one layer here is called 'layer', exactly the target"),
])
def test_count_checker_names_each_mistake(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_lora_param_count(wrong, verbose=False)


def test_gpt2_shapes_match_the_meta_skeleton():
    skeleton = meta_skeleton(GPT2_SMALL)
    real = {name: tuple(m.weight.shape) for name, m in skeleton.named_modules()
            if isinstance(m, nn.Linear)}
    assert real == gpt2_shapes()
    inject_lora(skeleton, ["q_proj", "v_proj"], r=8)
    mark_only_lora_as_trainable(skeleton)
    assert count_parameters(skeleton).trainable == correct_count(real, 8, ["q_proj", "v_proj"])
