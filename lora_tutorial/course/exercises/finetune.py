"""Checker for notebook 5's exercise: LoRA on the attention's query and value projections.

The learner writes ``add_lora_to_attention(model, r, alpha)``, which must put LoRA layers
on every ``q_proj`` and ``v_proj`` of the course model and leave *only* their ``lora_A``
and ``lora_B`` trainable: the pretrained weights, the biases, the LayerNorms and the
classification head (which already fits the 10 digit classes) stay frozen.
"""

from collections.abc import Callable

import torch
from torch import nn

from . import ExerciseError, call_learner, checker, require
from ...core.counting import lora_parameter_count
from ...core.inject import lora_layers
from ..models import load_pretrained

TARGETS = ("q_proj", "v_proj")


def _is_lora(name: str) -> bool:
    return ".lora_A." in name or ".lora_B." in name


def _short(names: list[str], limit: int = 4) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _are(names: list[str]) -> str:
    return "is" if len(names) == 1 else "are"


def _check_once(add_lora: Callable[..., object], r: int, alpha: float) -> str:
    model = load_pretrained(device="cpu")
    base = load_pretrained(device="cpu")
    pretrained = {name: t.clone() for name, t in base.state_dict().items()}
    depth = len(model.blocks)
    expected_names = [f"blocks.{i}.attn.{t}" for i in range(depth) for t in TARGETS]

    call_learner(add_lora, model, r=r, alpha=alpha,
                 context=f"add_lora_to_attention(model, r={r}, alpha={alpha})")

    adapted = dict(lora_layers(model))
    require(adapted, ("The model has no LoRA layers. Put LoRALinear layers in with "
                      "inject_lora(model, target_modules, r=r, alpha=alpha)."))
    missing = [n for n in expected_names if n not in adapted]
    extra = [n for n in adapted if n not in expected_names]
    require(not missing, (f"These projections have no LoRA layer: {_short(missing)}. Target "
                          "both q_proj and v_proj, in every block (the list ['q_proj', 'v_proj'] "
                          "matches them all by their last name)."))
    require(not extra, (f"LoRA was also put on {_short(extra)}. The task is the query and value "
                        "projections only (Hu et al., 2021's choice); every extra target adds "
                        "trainable parameters and changes the comparison."))
    wrong_r = sorted({layer.r for layer in adapted.values()} - {r})
    require(not wrong_r, (f"The LoRA layers have rank {wrong_r}, but the call asked for r={r}. "
                          "Pass the function's r on to inject_lora instead of a fixed number."))
    wrong_alpha = sorted({layer.alpha for layer in adapted.values()} - {alpha})
    require(not wrong_alpha, (f"The LoRA layers have alpha {wrong_alpha}, but the call asked "
                              f"for alpha={alpha}; pass the function's alpha on."))

    params = dict(model.named_parameters())
    frozen_lora = [n for n, p in params.items() if _is_lora(n) and not p.requires_grad]
    require(not frozen_lora, (f"{_short(frozen_lora)} {_are(frozen_lora)} frozen "
                              "(requires_grad=False). A and B are the only parameters that "
                              "should learn; frozen, nothing trains."))
    others = [n for n, p in params.items() if p.requires_grad and not _is_lora(n)]
    if others and all(n.startswith("head.") for n in others):
        raise ExerciseError(
            f"{_short(others)} {_are(others)} trainable. The pretrained head already maps "
            "features to the 10 digit classes, so pure LoRA keeps it frozen; training it "
            "would also make the checkpoint more than the adapter.")
    if others and all(".base_layer." in n for n in others):
        raise ExerciseError(
            f"{_short(others)} {_are(others)} trainable. The pretrained layer inside each "
            "LoRA layer must stay frozen: it would get a gradient and Adam state, which is "
            "exactly what LoRA saves.")
    require(not others, (f"Besides A and B, these still train: {_short(others)}. Call "
                         "mark_only_lora_as_trainable(model) after injecting, so every "
                         "pretrained parameter (weights, biases, LayerNorms, the head) is frozen."))

    dim = model.config.dim
    per_layer = lora_parameter_count(dim, dim, r)
    expected = len(expected_names) * per_layer
    trainable = sum(p.numel() for p in params.values() if p.requires_grad)
    require(trainable == expected, (f"{trainable:,d} parameters train, but LoRA on "
                                    f"{len(expected_names)} projections of {dim}×{dim} with r={r} "
                                    f"has r·(d + k) = {per_layer:,d} each, {expected:,d} in all."))

    state = model.state_dict()
    changed = [n for n, t in pretrained.items()
               if not torch.equal(state.get(n, state.get(_as_base_layer(n), t)), t)]
    require(not changed, (f"The pretrained values of {_short(changed)} changed. Adding LoRA must "
                          "leave W0 and every other pretrained tensor exactly as loaded."))
    images = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    model.eval()
    with torch.no_grad():
        same = torch.equal(model(images), base(images))
    nonzero_b = [n for n, layer in adapted.items() if layer.lora_B.weight.abs().sum() > 0]
    require(same, ("The adapted model does not start equal to the base model: its outputs "
                   "differ before any training."
                   + (f" B is not zero in {_short(nonzero_b)}; with B = 0 the update B·A is "
                      "zero at the start." if nonzero_b else "")))

    # The consequence that matters: a training step moves A and B only.
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    labels = torch.arange(16) % 10
    nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    moved = [n for n, p in model.named_parameters()
             if not _is_lora(n) and _pretrained_value(n, pretrained) is not None
             and not torch.equal(p.detach(), _pretrained_value(n, pretrained))]
    require(not moved, f"A training step changed pretrained parameters: {_short(moved)}.")
    total = sum(p.numel() for p in params.values())
    return (f"r={r}: {trainable:,d} of {total:,d} parameters train "
            f"({100 * trainable / total:.2f}%)")


def _as_base_layer(name: str) -> str:
    """``blocks.0.attn.q_proj.weight`` → ``blocks.0.attn.q_proj.base_layer.weight``."""
    module, _, leaf = name.rpartition(".")
    return f"{module}.base_layer.{leaf}"


def _pretrained_value(name: str, pretrained: dict[str, torch.Tensor]) -> torch.Tensor:
    """The loaded value of a (possibly wrapped) parameter of the adapted model."""
    return pretrained.get(name.replace(".base_layer.", "."), pretrained.get(name))


@checker("write add_lora_to_attention above")
def check_add_lora_to_attention(add_lora: Callable[..., object]) -> str:
    """Run the learner's ``add_lora_to_attention(model, r, alpha)`` on fresh course models.

    Raises ``ExerciseError`` with a specific message; prints one line when all is right. The
    shared :func:`~lora_tutorial.course.exercises.checker` runs it inside ``fork_rng``: the injected
    layers draw A from the global stream, but the notebook's stream (and so every later
    cell's result) does not depend on whether the checker ran.
    """
    summaries = [_check_once(add_lora, r, alpha) for r, alpha in ((8, 16), (2, 4))]
    return ("LoRA on q_proj and v_proj in every block, only A and B train, the base and the "
            "head stay frozen, and the model starts equal to the base — "
            + "; ".join(summaries) + ".")
