"""Checker for notebook 5's decision exercise: reach an accuracy under a parameter budget.

The learner chooses where LoRA goes (``target_modules``, a list of names or a regex, as for
``inject_lora``) and its rank ``r``, so that the adapted course model

* trains at most :data:`BUDGET` parameters (only LoRA's ``A`` and ``B``), and
* reaches at least :data:`TARGET` test accuracy on the rotated digits

with the recipe notebook 5 uses everywhere: ``alpha`` = :data:`ALPHA`, :data:`STEPS` steps
of AdamW at learning rate :data:`LR` on the first 1,000 training images
(:func:`~lora_tutorial.course.experiments.finetune.fit_split`). A
single training run can be lucky, so :func:`check_budget_choice` trains with each of the
:data:`SEEDS` and requires the *mean* accuracy to reach the target. Everything is seeded
(batches and ``A``'s initialisation), so the same choice always gives the same verdict on
one machine. The budget is checked first, without training, so an over-budget answer is
refused at once.
"""

import torch

from ...core.counting import count_parameters
from ..data import TaskData, load_task
from ..experiments.finetune import fit_split
from ..facts import LORA_LR, STEPS
from ...core.inject import inject_lora, lora_layers, mark_only_lora_as_trainable
from ..models import load_pretrained
from ..training import evaluate, train
from . import ExerciseError, checker, require, require_attempted

BUDGET = 2_048
"""The most trainable parameters the adapter may have (a third of LoRA on q, v at r = 8)."""

TARGET = 0.90
"""The mean test accuracy on the rotated digits that the choice must reach."""

ALPHA, SEEDS = 16, (0, 1)
LR = LORA_LR
"""Notebook 5's LoRA learning rate (with :data:`STEPS`, from :mod:`lora_tutorial.course.facts`)."""


def _adapted_model(target_modules, r: int, seed: int) -> torch.nn.Module:
    model = load_pretrained(device="cpu")
    torch.manual_seed(seed)  # A's random start, inside the checker's forked RNG
    try:
        inject_lora(model, target_modules, r=r, alpha=ALPHA)
    except (ValueError, TypeError) as error:
        regex = (" A string is read as a regular expression that must match a whole name "
                 "(such as blocks.0.attn.q_proj); for short names use a list, e.g. "
                 "['q_proj']." if isinstance(target_modules, str) else "")
        raise ExerciseError(f"inject_lora(model, {target_modules!r}, r={r!r}) refused your "
                            f"choice: {error}{regex}") from error
    mark_only_lora_as_trainable(model)
    return model


def _trained_accuracy(target_modules, r: int, task: TaskData, seed: int) -> float:
    model = _adapted_model(target_modules, r, seed)
    train(model, fit_split(task), steps=STEPS, lr=LR, seed=seed, progress=False)
    return evaluate(model, task.x_test, task.y_test)


@checker("set my_targets and my_r above")
def check_budget_choice(target_modules, r) -> str:
    """Check a choice of LoRA ``target_modules`` and rank ``r`` against the budget and target.

    Refuses (ExerciseError) a choice over :data:`BUDGET` trainable parameters before any
    training, then trains with every seed in :data:`SEEDS` and requires the mean rotated
    test accuracy to reach :data:`TARGET`.
    """
    require_attempted(target_modules, r)
    require(isinstance(r, int) and not isinstance(r, bool) and r >= 1,
            f"my_r must be a positive whole number (a rank), got {r!r}.")
    # fork_rng: the checker draws random numbers; the notebook's own stream must not notice.
    with torch.random.fork_rng(devices=[]):
        model = _adapted_model(target_modules, r, SEEDS[0])
        trainable = count_parameters(model).trainable
        adapted = [name for name, _ in lora_layers(model)]
        require(trainable <= BUDGET,
                f"Your adapter trains {trainable:,d} parameters ({len(adapted)} LoRA layers at "
                f"r={r}), over the budget of {BUDGET:,d}. Each adapted d×k layer costs "
                "r·(d + k): lower r, or adapt fewer layers — the sweeps above show which "
                "ones carry the change this task needs.")
        task = load_task("rotated")
        accuracies = [_trained_accuracy(target_modules, r, task, seed) for seed in SEEDS]
    mean = sum(accuracies) / len(accuracies)
    require(mean >= TARGET,
            f"Within budget ({trainable:,d} ≤ {BUDGET:,d} trainable parameters), but the mean "
            f"test accuracy over seeds {list(SEEDS)} is {mean:.1%}, below the target of "
            f"{TARGET:.0%}. The placement sweep shows where the adapters help most on this "
            "task: the rotation changes what the patches look like, so the change is needed "
            "early. Spend the budget where it counts.")
    return (f"{trainable:,d} trainable parameters (budget {BUDGET:,d}) in {len(adapted)} LoRA "
            f"layers at r={r}, and the mean test accuracy over seeds {list(SEEDS)} reaches "
            f"the target of {TARGET:.0%}.")
