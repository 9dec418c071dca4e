"""Checker for notebook 3's last exercise: put LoRA layers into a model by module name.

The learner writes ``add_lora_by_name(model, target_modules, r, alpha)``, the module surgery
that ``inject_lora`` + ``mark_only_lora_as_trainable`` (and PEFT's ``get_peft_model``) do:

* walk ``model.named_modules()`` and pick every ``nn.Linear`` whose name is a target or ends
  in ``"." + target`` (``"q_proj"`` matches ``"blocks.0.attn.q_proj"``, not ``"xq_proj"``);
* replace each one, in its parent module, by a LoRA layer that *wraps* it (the learner's own
  class from the exercise before, or the package's ``LoRALinear``); a target at the root of
  the model (``"proj"``) has the parent name ``""``, and ``model.get_submodule("")`` is the
  model itself;
* freeze every parameter except the LoRA layers' A and B (freeze the model *before* wrapping,
  or re-enable A and B afterwards: freezing afterwards freezes them too);
* return the list of the names it adapted, as ``inject_lora`` does;
* raise an error (``ValueError``) when no module matches: a typo in a target name must not
  silently train nothing.

:func:`check_add_lora_by_name` compares the result with ``inject_lora`` +
``mark_only_lora_as_trainable`` on models whose targets sit at different depths: the course's
toy transformer (targets three levels deep, ``blocks.1.attn.q_proj``) and a model with
``proj`` at depth 1 and 5.
"""

import copy
from collections.abc import Callable

import torch
from torch import nn

from . import ExerciseError, NotAttempted, call_learner, checker, require
from ...core.inject import inject_lora, mark_only_lora_as_trainable
from ..models.toy import ToyTransformer


class _Mixed(nn.Module):
    """``proj`` at depth 1 and depth 5, and ``out_proj``, which ends in "proj" but is no target."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 10)
        mlp = nn.Module()
        mlp.proj, mlp.out_proj = nn.Linear(10, 12), nn.Linear(12, 10)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList([nn.Identity(), nn.Module()])
        self.encoder.layers[1].mlp = mlp
        self.head = nn.Linear(10, 2, bias=False)

    def forward(self, x):
        mlp = self.encoder.layers[1].mlp
        return self.head(mlp.out_proj(torch.relu(mlp.proj(self.proj(x)))))


# (description, model factory, input width, targets, r, alpha)
_CASES = [
    ("a 2-block transformer with targets q_proj, v_proj", ToyTransformer, 8,
     ["q_proj", "v_proj"], 4, 8),
    ("a 2-block transformer with targets fc1, fc2 (MLP layers, other shapes)", ToyTransformer,
     8, ["fc1", "fc2"], 2, 16),
    ("a model with proj at depth 1 and depth 5 (and an out_proj that is no target)", _Mixed, 6,
     ["proj"], 3, 6),
]


def _build(factory: Callable[[], nn.Module], generator: torch.Generator) -> nn.Module:
    model = factory()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=generator))
    return model.eval()


def _linears(model: nn.Module) -> dict[str, nn.Linear]:
    return {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}


def _check_case(add_lora: Callable[..., object], description: str, model: nn.Module,
                width: int, targets: list[str], r: int, alpha: float,
                generator: torch.Generator) -> int:
    reference = copy.deepcopy(model)
    expected = set(inject_lora(reference, targets, r=r, alpha=alpha))
    mark_only_lora_as_trainable(reference)
    base = copy.deepcopy(model)
    linears = _linears(model)
    call = f"add_lora_by_name(model, {targets}, r={r}, alpha={alpha})"
    at_root = sorted(name for name in expected if "." not in name)
    root_hint = (f" {', '.join(at_root)} sits at the root of the model: its parent's name is "
                 f"'' ({at_root[0]!r}.rpartition('.') gives ('', '', {at_root[0]!r})), and "
                 "model.get_submodule('') is the model itself." if at_root else "")
    try:
        returned = call_learner(add_lora, model, list(targets), r, alpha,
                                context=f"On {description}, {call}")
    except ExerciseError as error:
        raise ExerciseError(f"{error}{root_hint}") from error.__cause__

    wrapped = {name for name, original in linears.items()
               if model.get_submodule(name) is not original}
    missing = sorted(expected - wrapped)
    extra = sorted(wrapped - expected)
    require(not missing, f"On {description}, {call} left {', '.join(missing)} a plain "
                         "nn.Linear. Match every module whose name is a target or ends in "
                         "'.' + target, at any depth (name == t or name.endswith('.' + t)), "
                         "and set the new layer on its parent: setattr(parent, child_name, "
                         "lora_layer)." + (root_hint if set(at_root) & set(missing) else ""))
    require(not extra, f"On {description}, {call} also replaced {', '.join(extra)}, which is no "
                       "target. Compare whole name parts (name == t or name.endswith('.' + t)), "
                       "not substrings: 'out_proj' ends with 'proj' but is not a 'proj' layer.")
    trainable = 0
    for name in sorted(expected):
        layer, original = model.get_submodule(name), linears[name]
        d, k = original.weight.shape
        require(any(sub is original for sub in layer.modules()),
                f"On {description}, the new {name} does not contain the original nn.Linear. "
                "Wrap the existing layer (LoRALinear(module, ...)): its pretrained weight is "
                "what LoRA keeps frozen and adds the update to.")
        require(not any(p.requires_grad for p in original.parameters()),
                f"On {description}, the pretrained weight inside {name} still trains. Freeze it "
                "(requires_grad_(False)): W0 must get no gradient and no optimizer state.")
        count = sum(p.numel() for p in layer.parameters() if p.requires_grad)
        require(count > 0,
                f"On {description}, nothing in the new {name} trains: its A and B are frozen "
                "too. Freezing the whole model after wrapping freezes the new A and B as well. "
                "Freeze first (model.requires_grad_(False)) and then wrap — a new LoRA layer's "
                "A and B start trainable — or set requires_grad_(True) on A and B afterwards.")
        require(count == r * (d + k),
                f"On {description}, {name} ({d}×{k}) has {count:,d} trainable numbers; a "
                f"rank-{r} LoRA layer has r·(d + k) = {r * (d + k):,d} (A is r×k, B is d×r). "
                "Pass the function's r on to the layer.")
        scaling = getattr(layer, "scaling", None)
        require(scaling is None or abs(float(scaling) - alpha / r) < 1e-12,
                f"On {description}, {name}.scaling is {scaling}, but alpha/r = {alpha}/{r} = "
                f"{alpha / r:g}. Pass the function's alpha on to the layer.")
        trainable += count
    lora_params = {id(p) for name in expected for p in model.get_submodule(name).parameters()}
    others = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in lora_params]
    require(not others, f"On {description}, these still train: {', '.join(others)}. Freeze every "
                        "parameter outside the LoRA layers (the LayerNorms, the biases of "
                        "other layers, the head): only A and B learn.")
    require(trainable == sum(p.numel() for p in reference.parameters() if p.requires_grad),
            f"On {description}, {trainable:,d} parameters train, unlike inject_lora + "
            "mark_only_lora_as_trainable.")
    names = list(returned) if isinstance(returned, (list, tuple)) else None
    require(names is not None and sorted(names) == sorted(expected),
            f"On {description}, {call} returned {returned!r:.120}; return the list of the names "
            f"it adapted, as inject_lora does (here {sorted(expected)}), so the caller can see "
            "what was adapted.")
    x = torch.randn(1, 5, width, generator=generator)   # one sequence of 5 tokens
    with torch.no_grad():
        start = call_learner(model, x, context=f"On {description}, the adapted model's forward")
        require(torch.allclose(start, base(x), atol=1e-6),
                f"On {description}, the adapted model's outputs differ from the base model's "
                "before any training. With B = 0 every LoRA layer adds exactly zero.")
    return trainable


def _check_no_match(add_lora: Callable[..., object], generator: torch.Generator) -> None:
    model = _build(ToyTransformer, generator)
    before = _linears(model)
    try:
        add_lora(model, ["qproj"], 4, 8)
    except NotImplementedError as error:
        raise NotAttempted from error
    except Exception:  # any clear error will do; the model must be left as it was
        require(_linears(model) == before,
                "With target_modules=['qproj'] your function raised, but only after changing "
                "the model. Find the targets first, raise if there are none, then replace.")
        return
    raise ExerciseError("With target_modules=['qproj'] (a typo: the layers are called q_proj) "
                        "your function returned without an error, leaving a model that trains "
                        "nothing. Raise an error (e.g. ValueError) that lists the model's "
                        "nn.Linear names when no module matches, as inject_lora and PEFT do.")


@checker("write add_lora_by_name above")
def check_add_lora_by_name(add_lora_by_name: Callable[..., object]) -> str:
    """Check the learner's ``add_lora_by_name(model, target_modules, r, alpha)``.

    Raises :class:`~lora_tutorial.course.exercises.ExerciseError` with a specific message; prints
    one line when all is right.
    """
    generator = torch.Generator().manual_seed(0)
    summaries = []
    for description, factory, width, targets, r, alpha in _CASES:
        model = _build(factory, generator)
        trainable = _check_case(add_lora_by_name, description, model, width, targets, r,
                                alpha, generator)
        total = sum(p.numel() for p in model.parameters())
        summaries.append(f"{targets} at r={r}: {trainable:,d} of {total:,d} parameters train")
    _check_no_match(add_lora_by_name, generator)
    return ("the same layers as inject_lora at every depth, only A and B train, the model "
            "starts equal to the base, and a target that matches nothing raises — "
            + "; ".join(summaries) + ".")
