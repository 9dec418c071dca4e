"""Checker for notebook 8's exercise: adapt the tiny GPT to code with the fewest parameters.

The learner writes ``prepare_for_code(model)``, which gets a fresh pretrained
:class:`~lora_tutorial.course.models.gpt.TinyGPT` and decides what may learn: LoRA on some modules
at some rank and alpha, or anything else that keeps the pretrained weights as they are. The
checker then trains the model exactly as the notebook trained its LoRA run (``STEPS`` steps
of AdamW at ``LR`` on the code corpus, seed 0) and measures the validation loss on code.

To pass, at most ``BUDGET`` parameters may train — half of what LoRA on ``q_proj`` and
``v_proj`` at r = 8 trains — and the code validation loss must reach ``TARGET``. ``LR`` is the
rate notebook 8's sweep tuned for LoRA q,v (``facts.CODE_LEARNING_RATES``); LoRA q,v at r = 4
(half the budget on the attention) misses the target, and notebook 8 §6 (the same budget on
the attention or on the MLP) is the evidence the learner reasons from.
"""

from collections.abc import Callable

import torch
from torch import nn

from ...core.inject import lora_layers
from ..facts import CODE_BATCH, CODE_LEARNING_RATES, CODE_STEPS
from ..models.gpt import load_pretrained_gpt
from ..text import load_corpus, validation_windows
from ..training import evaluate_lm, train_lm
from . import checker, call_learner, require

STEPS = CODE_STEPS
LR = CODE_LEARNING_RATES["LoRA q,v (r=8)"]
BATCH_SIZE = CODE_BATCH
BUDGET = 8_192
TARGET = 1.83
VALIDATION_WINDOWS = 128


def _pretrained_value(name: str, pretrained: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """The loaded value of a (possibly LoRA-wrapped) parameter, or None for a new one."""
    return pretrained.get(name.replace(".base_layer.", "."))


def adaptation_result(prepare: Callable[[nn.Module], object],
                      progress: bool = True) -> tuple[int, int, float]:
    """Prepare a fresh model with ``prepare``, train it as the exercise does, and measure it.

    Returns ``(trainable parameters, all parameters, code validation loss)``. Raises
    :class:`~lora_tutorial.course.exercises.ExerciseError` if ``prepare`` fails, returns another
    model instead of preparing the one it was given, trains nothing, leaves the pretrained
    weights training beside LoRA, or changes a pretrained weight.
    """
    model = load_pretrained_gpt("cpu")
    pretrained = {name: t.clone() for name, t in model.state_dict().items()}
    torch.manual_seed(0)   # LoRA's A is drawn at injection: the same seed as the notebook
    returned = call_learner(prepare, model, context="prepare_for_code(model)")
    require(not isinstance(returned, nn.Module) or returned is model,
            "prepare_for_code returned another model. The checker trains the model it gave "
            "you, so prepare that one in place (inject_lora(model, ...) changes it where it "
            "is; no copy, nothing to return).")
    changed = [name for name, t in model.state_dict().items()
               if _pretrained_value(name, pretrained) is not None
               and not torch.equal(t, _pretrained_value(name, pretrained))]
    require(not changed, f"prepare_for_code changed pretrained weights ({', '.join(changed[:3])}"
            "). Adapt the model by adding trainable parts (inject_lora) or by choosing which "
            "parameters train, not by overwriting what pretraining learned.")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    require(trainable > 0, "Nothing is trainable after prepare_for_code(model), so training "
            "cannot change the model. Inject LoRA layers (their A and B train) or leave some "
            "parameters with requires_grad=True.")
    lora = {id(p) for _, layer in lora_layers(model)
            for name, p in layer.named_parameters() if name.startswith("lora_")}
    pretrained_training = [n for n, p in model.named_parameters()
                           if p.requires_grad and id(p) not in lora]
    require(not lora or trainable <= BUDGET or not pretrained_training,
            f"{trainable:,d} parameters train, more than the budget of {BUDGET:,d}: your LoRA "
            f"layers are in, but the pretrained weights still train too "
            f"({', '.join(pretrained_training[:3])}, ...). Call "
            "mark_only_lora_as_trainable(model) after inject_lora.")
    require(trainable <= BUDGET,
            f"{trainable:,d} parameters train, more than the budget of {BUDGET:,d}. A LoRA "
            "layer on a d×k matrix trains r·(d + k) numbers: lower r, or adapt fewer or "
            "narrower modules (count them with count_parameters(model)).")
    train_lm(model, load_corpus("code", "train"), steps=STEPS, lr=LR, batch_size=BATCH_SIZE,
             seed=0, progress=progress, desc="checker: train on code")
    windows = validation_windows(load_corpus("code", "validation"), model.config.context,
                                 count=VALIDATION_WINDOWS)
    return trainable, total, evaluate_lm(model, windows)


@checker("write prepare_for_code(model) above")
def check_fewest_parameters(prepare_for_code: Callable[[nn.Module], object]) -> str:
    """Train the learner's preparation of the tiny GPT on code; check budget and target."""
    # fork_rng: the checker seeds and draws random numbers, but the notebook's own random
    # stream (and so every later cell's result) must not depend on whether it ran.
    with torch.random.fork_rng(devices=[]):
        trainable, total, loss = adaptation_result(prepare_for_code)
    require(loss <= TARGET,
            f"With {trainable:,d} trainable parameters the code validation loss reached "
            f"{loss:.3f} nats/byte after {STEPS} steps, above the target {TARGET}. Within the "
            "budget, try other target modules (§6 compared the attention and the MLP at the "
            "same budget) or a larger alpha, which scales the update.")
    return (f"{trainable:,d} trainable parameters ({100 * trainable / total:.2f}% of the "
            f"model, within the budget of {BUDGET:,d}) reach the target code validation loss "
            f"(≤ {TARGET} nats/byte) in {STEPS} steps.")
