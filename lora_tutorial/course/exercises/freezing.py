"""Checker for notebook 1's exercise: freeze everything except the last layer.

The learner writes ``freeze_all_but_last(model)``, which must leave only the parameters of
the model's last ``nn.Linear`` trainable, for *any* model, by flipping ``requires_grad``.
The test models are chosen so that only finding the layer by its *type* works: an
``nn.Sequential`` (no names), a model whose last linear layer is called ``head``, one where it
is called ``classifier`` and a dropout child comes after it, and one where it is the last
child but is called ``out``.
"""

from collections.abc import Callable

import torch
from torch import nn

from . import ExerciseError, call_learner, checker, require


class _Classifier(nn.Module):
    """A model whose last linear layer is not the last item of an ``nn.Sequential``."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32))
        self.norm = nn.LayerNorm(32)
        self.head = nn.Linear(32, 5)

    def forward(self, x):
        return self.head(torch.relu(self.norm(self.body(x))))


class _ClassifierThenDropout(nn.Module):
    """The last linear layer is called ``classifier`` and is *not* the last child: a dropout
    module is registered after it (``children()`` ends with ``dropout``)."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 12))
        self.classifier = nn.Linear(12, 4)
        self.dropout = nn.Dropout(0.0)

    def forward(self, x):
        return self.classifier(self.dropout(self.encoder(x)))


class _NamedOut(nn.Module):
    """The last linear layer is the last child, but it is called ``out``, not ``head``."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(7, 9)
        self.mix = nn.Linear(9, 9)
        self.out = nn.Linear(9, 2)

    def forward(self, x):
        return self.out(torch.relu(self.mix(torch.relu(self.embed(x)))))


def _test_models(generator: torch.Generator) -> list[tuple[str, nn.Module, int]]:
    """(description, model, input width) triples, with values drawn from ``generator``."""
    mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                        nn.Linear(16, 3))
    models = [("a 3-layer nn.Sequential MLP", mlp, 8),
              ("a model with a body, a LayerNorm and a head", _Classifier(), 10),
              ("a model whose last nn.Linear, classifier, is followed by a dropout child",
               _ClassifierThenDropout(), 6),
              ("a model whose last child, an nn.Linear, is called out (not head)",
               _NamedOut(), 7)]
    with torch.no_grad():
        for _, model, _ in models:
            for p in model.parameters():
                p.copy_(0.3 * torch.randn(p.shape, generator=generator))
    return models


def _last_linear_name(model: nn.Module) -> str:
    return [name for name, module in model.named_modules() if isinstance(module, nn.Linear)][-1]


def _by_type_hint(model: nn.Module, last: str) -> str:
    """Why a rule other than "the last nn.Linear" fails on ``model``, and the rule to use."""
    last_child = list(dict(model.named_children()))[-1]
    where = (f"Here the last nn.Linear is {last!r}, but the last child is {last_child!r}"
             if last_child != last else
             f"Here the last nn.Linear is the last child, but it is called {last!r}")
    return (f"{where}: find the layer by its type, not by its name or position — the last "
            "module m in model.modules() with isinstance(m, nn.Linear).")


@checker("write freeze_all_but_last above")
def check_freeze_all_but_last(freeze_all_but_last: Callable[[nn.Module], object]) -> str:
    """Run the learner's function on four models and explain what is wrong.

    The learner's function changes each model in place (its return value is ignored); the
    checker then requires: no parameter replaced, removed or changed in value; the last
    ``nn.Linear``'s weight and bias trainable; every other parameter (LayerNorms included)
    frozen; and one Adam step moving only the last layer.

    Raises :class:`~lora_tutorial.course.exercises.ExerciseError` with a specific message; prints
    one line when all is right.
    """
    generator = torch.Generator().manual_seed(0)
    summaries = []
    for description, model, width in _test_models(generator):
        last = _last_linear_name(model)
        before = {name: p.detach().clone() for name, p in model.named_parameters()}
        ids_before = {name: id(p) for name, p in model.named_parameters()}
        try:
            call_learner(freeze_all_but_last, model, context=f"On {description}, your function")
        except ExerciseError as error:
            if isinstance(error.__cause__, (AttributeError, TypeError, IndexError)):
                raise ExerciseError(f"{error} {_by_type_hint(model, last)}") from error.__cause__
            raise
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
                f"On {description}, {', '.join(frozen_head)} "
                f"{'is' if len(frozen_head) == 1 else 'are'} frozen, but "
                f"{'it belongs' if len(frozen_head) == 1 else 'they belong'} to the "
                f"last layer ({last}), the one part meant to learn. With it frozen, nothing "
                f"trains. {_by_type_hint(model, last)}")
        still_training = [n for n, p in params.items() if p.requires_grad and n not in head]
        require(not still_training,
                f"On {description}, these parameters still train: {', '.join(still_training)}. "
                "Each of them would get a gradient and Adam state and be changed by every step. "
                "Set requires_grad = False on every parameter outside the last layer "
                f"(here {last}). {_by_type_hint(model, last)}")
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
