"""Checker for notebook 1's exercise: freeze everything except the last layer.

The learner writes ``freeze_all_but_last(model)``, which must leave only the parameters of
the model's last ``nn.Linear`` trainable, for *any* model, by flipping ``requires_grad``.
"""

from collections.abc import Callable

import torch
from torch import nn

from . import call_learner, checker, require


class _Classifier(nn.Module):
    """A model whose last linear layer is not the last item of an ``nn.Sequential``."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32))
        self.norm = nn.LayerNorm(32)
        self.head = nn.Linear(32, 5)

    def forward(self, x):
        return self.head(torch.relu(self.norm(self.body(x))))


def _test_models(generator: torch.Generator) -> list[tuple[str, nn.Module, int]]:
    """(description, model, input width) triples, with values drawn from ``generator``."""
    mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                        nn.Linear(16, 3))
    models = [("a 3-layer nn.Sequential MLP", mlp, 8),
              ("a model with a body, a LayerNorm and a head", _Classifier(), 10)]
    with torch.no_grad():
        for _, model, _ in models:
            for p in model.parameters():
                p.copy_(0.3 * torch.randn(p.shape, generator=generator))
    return models


def _last_linear_name(model: nn.Module) -> str:
    return [name for name, module in model.named_modules() if isinstance(module, nn.Linear)][-1]


@checker("write freeze_all_but_last above")
def check_freeze_all_but_last(freeze_all_but_last: Callable[[nn.Module], object]) -> str:
    """Run the learner's function on two different models and explain what is wrong.

    Raises :class:`~lora_tutorial.course.exercises.ExerciseError` with a specific message; prints
    one line when all is right.
    """
    generator = torch.Generator().manual_seed(0)
    summaries = []
    for description, model, width in _test_models(generator):
        last = _last_linear_name(model)
        before = {name: p.detach().clone() for name, p in model.named_parameters()}
        ids_before = {name: id(p) for name, p in model.named_parameters()}
        call_learner(freeze_all_but_last, model, context=f"On {description}, your function")
        params = dict(model.named_parameters())
        require(params.keys() == before.keys() and all(
            id(p) == ids_before[n] for n, p in params.items()),
            f"On {description}, your function replaced or removed parameters. Freezing must "
            "only flip requires_grad on the existing ones: the pretrained values are the point.")
        changed = [n for n, p in params.items() if not torch.equal(p.detach(), before[n])]
        require(not changed, f"On {description}, your function changed the values of "
                             f"{', '.join(changed)}. Freezing must only flip requires_grad.")
        head = [n for n in params if n.startswith(last + ".")]
        frozen_head = [n for n in head if not params[n].requires_grad]
        require(not frozen_head,
                f"On {description}, {', '.join(frozen_head)} is frozen, but it belongs to the "
                f"last layer ({last}), the one part meant to learn. With it frozen, nothing "
                "trains.")
        still_training = [n for n, p in params.items() if p.requires_grad and n not in head]
        require(not still_training,
                f"On {description}, these parameters still train: {', '.join(still_training)}. "
                "Each of them would get a gradient and Adam state and be changed by every step. "
                "Set requires_grad = False on every parameter outside the last layer "
                f"(here {last}), and find that layer by type, not by a hard-coded index or name.")
        # The consequence that matters: a training step changes only the last layer.
        optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
        model(torch.randn(4, width, generator=generator)).pow(2).mean().backward()
        optimizer.step()
        moved = [n for n, p in model.named_parameters()
                 if n not in head and not torch.equal(p.detach(), before[n])]
        require(not moved, f"On {description}, a training step still changed {', '.join(moved)}.")
        trainable = sum(params[n].numel() for n in head)
        total = sum(p.numel() for p in params.values())
        summaries.append(f"{trainable:,d} of {total:,d} parameters train on {description}")
    return "only the last layer trains — " + "; ".join(summaries) + "."
