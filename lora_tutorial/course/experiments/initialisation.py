"""How A and B start, and how the scaling of B·A behaves as the rank grows (notebook 03).

Two small experiments on one frozen linear layer that an adapter must teach a change:

* :func:`compare_initialisations` (notebook 03, §12, "Going deeper"): the four ways to start
  A and B (each random or zero), each trained with Adam from several seeds. It shows that
  both zero never learns (each factor's gradient contains the other factor), both random
  starts away from the pretrained layer, and either choice with exactly one zero factor
  starts at the base and learns.
* :func:`rank_scaling_sweep` (notebook 03, §6): LoRA's scaling ``alpha / r`` against
  rsLoRA's ``alpha / √r`` (Kalajdzievski, 2023) at several ranks, with the same ``alpha``
  and learning rate for every rank, as the LoRA paper's recipe intends. It records what
  rsLoRA's argument is about: how large the gradient reaching B is at the first step, how
  far the update ``scaling · B·A`` has moved after some steps, and how much of the task the
  adapter has learned.

Both train the LoRA path by hand, ``h = W0·x + b + scaling · B·A·x``, exactly as the
notebook builds it, and return named records (``run.loss``, not ``run[2]``). The widget of
§6 (:mod:`lora_tutorial.course.widgets.lora_layer`) trains with :func:`train_lora` too.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

SCHEMES = {
    "A random, B zero (LoRA)": (True, False),
    "A zero, B random": (False, True),
    "both random": (True, True),
    "both zero": (False, False),
}
"""The four initialisations: name -> (A random?, B random?)."""

RULES = {"alpha / r": False, "alpha / √r": True}
"""The two scaling rules: name -> whether it is rsLoRA's ``alpha / √r``."""


def kaiming_uniform(shape: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """Uniform in ±1/√fan_in (fan_in = ``shape[1]``): what ``nn.init.kaiming_uniform_(w,
    a=math.sqrt(5))`` draws, here from the caller's generator."""
    bound = 1 / math.sqrt(shape[1])
    return torch.empty(shape).uniform_(-bound, bound, generator=generator)


def rank_scaling(alpha: float, r: int, rule: str) -> float:
    """``alpha / r`` or ``alpha / √r``, by the rule's name in :data:`RULES`."""
    if rule not in RULES:
        raise ValueError(f"unknown scaling rule {rule!r}: use one of {list(RULES)}")
    return alpha / math.sqrt(r) if RULES[rule] else alpha / r


@dataclass(frozen=True)
class Task:
    """A frozen layer ``base`` and data whose targets add a low-rank change to its outputs."""

    base: nn.Linear
    X: torch.Tensor
    Y: torch.Tensor

    @property
    def base_loss(self) -> float:
        """The mean squared error of the base layer alone (the loss before any learning)."""
        with torch.no_grad():
            return ((self.base(self.X) - self.Y) ** 2).mean().item()


def regression_task(d: int = 64, k: int = 64, change_rank: int = 8, n: int = 128,
                    seed: int = 100) -> Task:
    """A ``k -> d`` frozen layer and ``n`` inputs whose targets add a rank-``change_rank``
    change of about the size of the layer's own outputs."""
    g = torch.Generator().manual_seed(seed)
    base = nn.Linear(k, d)
    with torch.no_grad():
        base.weight.copy_(torch.randn(d, k, generator=g) / math.sqrt(k))
        base.bias.zero_()
    base.requires_grad_(False)
    X = torch.randn(n, k, generator=g)
    change = (torch.randn(d, change_rank, generator=g) @ torch.randn(change_rank, k, generator=g)
              / math.sqrt(change_rank * k))
    with torch.no_grad():
        Y = base(X) + X @ change.T
    return Task(base, X, Y)


@dataclass(frozen=True)
class Trace:
    """One adapter's training: everything per step is relative to the task's base loss."""

    losses: list[float]
    """Loss / base loss before each step, and after the last one (``steps + 1`` values)."""
    update_norms: list[float]
    """‖scaling · B·A‖ (Frobenius) at the same moments: how far the layer has moved."""
    first_grad_B: float
    """‖∂L/∂B‖ at the first step: the signal B starts learning from."""


def train_lora(task: Task, A: torch.Tensor, B: torch.Tensor, scaling: float, steps: int,
               lr: float) -> Trace:
    """Train A and B with Adam on ``task``'s mean squared error; the base stays frozen."""
    A, B = nn.Parameter(A.clone()), nn.Parameter(B.clone())
    optimizer = torch.optim.Adam([A, B], lr=lr)
    with torch.no_grad():
        base_out = task.base(task.X)
    reference = task.base_loss
    losses, norms, first_grad_B = [], [], 0.0
    for step in range(steps + 1):
        loss = ((base_out + scaling * (task.X @ A.T @ B.T) - task.Y) ** 2).mean()
        losses.append(loss.item() / reference)
        norms.append(scaling * torch.linalg.matrix_norm((B @ A).detach()).item())
        if step == steps:
            break
        optimizer.zero_grad()
        loss.backward()
        if step == 0:
            first_grad_B = B.grad.norm().item()
        optimizer.step()
    return Trace(losses, norms, first_grad_B)


@dataclass(frozen=True)
class InitialisationRun:
    """One initialisation from one seed, trained on the task."""

    scheme: str
    seed: int
    start_change: float
    """‖adapted output − base output‖ / ‖base output‖ before training (0 = starts at the base)."""
    losses: list[float]
    """Loss / base loss before each step (``losses[0]``) and after the last."""


def compare_initialisations(task: Task, r: int, scaling: float,
                            seeds: Iterable[int] = range(5), steps: int = 50,
                            lr: float = 1e-2) -> list[InitialisationRun]:
    """Each scheme of :data:`SCHEMES` from each seed: A and B random (Kaiming-uniform, as
    LoRA draws A) or zero, then ``steps`` Adam steps on the task."""
    d, k = task.base.out_features, task.base.in_features
    with torch.no_grad():
        base_out = task.base(task.X)
    runs = []
    for scheme, (random_A, random_B) in SCHEMES.items():
        for seed in seeds:
            g = torch.Generator().manual_seed(seed)
            A = kaiming_uniform((r, k), g) if random_A else torch.zeros(r, k)
            B = kaiming_uniform((d, r), g) if random_B else torch.zeros(d, r)
            A, B = A.to(task.X.device), B.to(task.X.device)
            start = scaling * (task.X @ A.T @ B.T)
            trace = train_lora(task, A, B, scaling, steps, lr)
            runs.append(InitialisationRun(scheme, seed,
                                          (start.norm() / base_out.norm()).item(),
                                          trace.losses))
    return runs


@dataclass(frozen=True)
class RankScalingRun:
    """One rank, one scaling rule, one seed (A's draw), after ``steps`` Adam steps."""

    rule: str
    r: int
    seed: int
    scaling: float
    first_grad_B: float
    """‖∂L/∂B‖ at the first step."""
    update_norm: float
    """‖scaling · B·A‖ after the last step."""
    loss: float
    """Loss / base loss after the last step (1 = learned nothing, 0 = learned the change)."""


def rank_scaling_sweep(ranks: Sequence[int] = (2, 8, 32), seeds: Iterable[int] = (0, 1, 2),
                       alpha: float = 16, steps: int = 40, lr: float = 1e-3,
                       task: Task | None = None) -> list[RankScalingRun]:
    """Both rules of :data:`RULES` at every rank and seed, same ``alpha`` and ``lr`` for all.

    A starts Kaiming-uniform (from the seed), B at zero, as in every LoRA layer.
    """
    task = task or regression_task()
    d, k = task.base.out_features, task.base.in_features
    seeds = list(seeds)
    runs = []
    for rule in RULES:
        for r in ranks:
            scaling = rank_scaling(alpha, r, rule)
            for seed in seeds:
                A = kaiming_uniform((r, k), torch.Generator().manual_seed(seed))
                trace = train_lora(task, A, torch.zeros(d, r), scaling, steps, lr)
                runs.append(RankScalingRun(rule, r, seed, scaling, trace.first_grad_B,
                                           trace.update_norms[-1], trace.losses[-1]))
    return runs


def select(runs: Iterable, **fields) -> list:
    """The runs whose fields equal the given values: ``select(runs, rule="alpha / r", r=8)``."""
    return [run for run in runs if all(getattr(run, name) == value
                                       for name, value in fields.items())]
