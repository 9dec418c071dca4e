"""Choosing LoRA's rank r from LoRA runs alone: notebook 2's rank sweep.

Used in notebook 02, §8 ("Going deeper: choosing the rank r from LoRA runs", read after
notebook 3).

Notebook 2 (§6) fine-tunes *every* weight of a small MLP and finds that the change of its
hidden layer, ΔW, is close to low rank. But a full fine-tune is exactly what LoRA is meant to
avoid, so in practice r is chosen from LoRA runs:

1. train LoRA at a few ranks, each over a few seeds (:func:`lora_rank_sweep`, which returns a
   :class:`RankSweep` of :class:`RankRun` records);
2. double r only while the larger rank wins *beyond the spread over seeds*: its worst seed
   beats the smaller rank's best seed (:func:`doubling_rule`, a :class:`RankChoice`);
3. as a hint, read how many directions hold 90% of the energy of one generous run's
   ΔW = (α/r)·B·A (:func:`~lora_tutorial.core.lowrank.rank_for_energy` on
   :attr:`RankRun.delta_weight`).

The training is the notebook's own: full-batch Adam on the training rows, accuracy on the
test rows, LoRA on one layer and everything else frozen.
"""

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from ...core.layers import LoRALinear


@dataclass(frozen=True)
class ClassificationTask:
    """A classification task: ``inputs`` (n × features), integer ``labels`` (n), and the
    row indices that ``train`` and that ``test``."""

    inputs: torch.Tensor
    labels: torch.Tensor
    train: torch.Tensor
    test: torch.Tensor


@dataclass(frozen=True)
class RankRun:
    """One LoRA training: its rank, its seed, what it reached and the update it learned."""

    r: int
    seed: int
    accuracy: float
    """Test accuracy after training, in percent."""
    delta_weight: torch.Tensor
    """The adapter's update (α/r)·B·A after training, shaped like the adapted weight."""


@dataclass(frozen=True)
class RankSweep:
    """Every run of a sweep over ranks and seeds, and the recipe they shared."""

    runs: tuple[RankRun, ...]
    alpha: float
    steps: int
    lr: float

    @property
    def ranks(self) -> list[int]:
        """The ranks tried, smallest first."""
        return sorted({run.r for run in self.runs})

    @property
    def seeds(self) -> list[int]:
        """The seeds every rank was trained with."""
        return sorted({run.seed for run in self.runs})

    def run(self, r: int, seed: int) -> RankRun:
        """The run with rank ``r`` and seed ``seed``."""
        for run in self.runs:
            if run.r == r and run.seed == seed:
                return run
        raise KeyError(f"no run with r={r} and seed={seed}; ranks {self.ranks}, "
                       f"seeds {self.seeds}")

    def accuracies(self, r: int) -> list[float]:
        """Test accuracies (percent) of rank ``r``, one per seed, in the order of the seeds."""
        return [self.run(r, seed).accuracy for seed in self.seeds]


@dataclass(frozen=True)
class Doubling:
    """One step of the doubling rule: does rank ``large`` beat rank ``small`` beyond the spread?"""

    small: int
    large: int
    beyond_the_spread: bool
    """True when the worst seed of ``large`` is above the best seed of ``small``."""


@dataclass(frozen=True)
class RankChoice:
    """What the doubling rule chose, and the comparisons it made on the way."""

    chosen: int
    steps: tuple[Doubling, ...]


def _accuracy(model: nn.Module, task: ClassificationTask) -> float:
    with torch.no_grad():
        predicted = model(task.inputs[task.test]).argmax(1)
    return 100 * (predicted == task.labels[task.test]).float().mean().item()


def lora_run(pretrained: nn.Module, layer: str, task: ClassificationTask, *, r: int, seed: int,
             alpha: float = 16, steps: int = 150, lr: float = 1e-2) -> RankRun:
    """Train LoRA of rank ``r`` on the ``nn.Linear`` called ``layer`` of a copy of ``pretrained``.

    Everything else stays frozen. ``seed`` sets the random start of LoRA's A (B starts at
    zero, notebook 3). Training is full-batch Adam for ``steps`` steps on ``task.train``;
    ``pretrained`` itself is left untouched.
    """
    torch.manual_seed(seed)
    model = copy.deepcopy(pretrained)
    model.requires_grad_(False)
    parent_name, _, child = layer.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    adapted = LoRALinear(getattr(parent, child), r=r, alpha=alpha)
    setattr(parent, child, adapted)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    inputs, labels = task.inputs[task.train], task.labels[task.train]
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(inputs), labels).backward()
        optimizer.step()
    return RankRun(r=r, seed=seed, accuracy=_accuracy(model, task),
                   delta_weight=adapted.delta_weight().detach())


def lora_rank_sweep(pretrained: nn.Module, layer: str, task: ClassificationTask, *,
                    ranks: Sequence[int], seeds: Sequence[int], alpha: float = 16,
                    steps: int = 150, lr: float = 1e-2, progress: bool = True) -> RankSweep:
    """:func:`lora_run` for every rank in ``ranks`` and every seed in ``seeds``.

    α stays the same for every rank, as the LoRA paper recommends when r changes (notebook 3
    explains why the scaling α/r makes that fair).
    """
    pairs = [(r, seed) for r in ranks for seed in seeds]
    runs = tuple(lora_run(pretrained, layer, task, r=r, seed=seed, alpha=alpha, steps=steps,
                          lr=lr)
                 for r, seed in tqdm(pairs, desc="LoRA runs", disable=not progress))
    return RankSweep(runs=runs, alpha=alpha, steps=steps, lr=lr)


def doubling_rule(sweep: RankSweep) -> RankChoice:
    """Start at the smallest rank and move to the next only while it wins beyond the spread.

    "Beyond the spread" means the larger rank's *worst* seed is above the smaller rank's
    *best* seed: then the gain cannot be an accident of the seeds. The rule stops at the
    first rank whose successor does not win that way (or at the largest rank tried).
    """
    ranks = sweep.ranks
    steps = []
    for small, large in zip(ranks, ranks[1:]):
        wins = min(sweep.accuracies(large)) > max(sweep.accuracies(small))
        steps.append(Doubling(small=small, large=large, beyond_the_spread=wins))
        if not wins:
            return RankChoice(chosen=small, steps=tuple(steps))
    return RankChoice(chosen=ranks[-1], steps=tuple(steps))
