"""Notebook 05's experiments: fine-tune the digits model several ways, over seeds, and measure.

Notebook 05 compares full fine-tuning, head-only training and LoRA on the rotated digits.
Each comparison is many short training runs (a learning-rate search per method, three seeds
each, sweeps of the rank and of the target modules), and each run leaves several numbers
behind. This module runs them and returns *named records* (``run.accuracy``,
``search.chosen``, ``costs.adam_bytes``), so a notebook cell shows the table or the plot and
the idea, not the bookkeeping. The notebook builds the training loop by hand once (§2) and
checks that :func:`fine_tune` gives the same losses.

Used in notebook 05: §2 (:func:`fine_tune`, the set-ups), §3 (:func:`search_learning_rate`),
§4 (:func:`costs`), §5 (:func:`old_task_accuracy`), §6 (:func:`step_functions`,
:func:`width_sweep`), §7 (:func:`over_seeds`), §10 (:func:`compare_updates`) and §11
(:func:`subspace_table`).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from ...core.adapters import save_adapter
from ...core.counting import count_parameters, gradient_bytes, optimizer_state_bytes
from ...core.inject import inject_lora, lora_layers, mark_only_lora_as_trainable
from ...core.lowrank import low_rank_approximation, subspace_similarity
from ..data import TaskData
from ..measure import file_size, time_interleaved
from ..models import load_pretrained
from ..training import evaluate, make_optimizer, train, train_step
from ..facts import BATCH, STEPS

SEEDS = (0, 1, 2)
"""Every set-up of notebook 05 runs with these seeds; tables show mean and min–max."""

FIT_SIZE = 1_000
"""Training images used for training; the rest of the training set is held out."""

SetUp = Callable[[nn.Module], None]


def fit_split(task: TaskData) -> TaskData:
    """The first :data:`FIT_SIZE` training images to train on; the rest as a held-out set.

    The returned ``x_test``/``y_test`` are the *held-out training images* (for choosing
    settings such as the learning rate), never the task's real test images.
    """
    return TaskData(f"{task.name} (fit)", task.x_train[:FIT_SIZE], task.y_train[:FIT_SIZE],
                    task.x_train[FIT_SIZE:], task.y_train[FIT_SIZE:])


# The set-ups: each takes a fresh pretrained model and decides what trains.

def full_finetuning(model: nn.Module) -> None:
    """Full fine-tuning: every parameter stays trainable."""


def head_only(model: nn.Module) -> None:
    """Train only the final ``head`` layer (a "linear probe"); everything else is frozen."""
    model.requires_grad_(False)
    model.head.requires_grad_(True)


def lora(targets, r: int = 8, alpha: float = 16) -> SetUp:
    """A set-up that puts LoRA (rank ``r``, numerator ``alpha``) on ``targets`` and trains
    only A and B. ``targets`` is a list of names or a regex, as :func:`inject_lora` takes."""
    def set_up(model: nn.Module) -> None:
        inject_lora(model, targets, r=r, alpha=alpha)   # A starts random: seed before this
        mark_only_lora_as_trainable(model)
    return set_up


@dataclass
class Run:
    """One training run: what was trained, how, and what it achieved.

    ``accuracy`` is on the task's test images (reported, never used to choose anything);
    ``held_out`` on the held-out training images (used to choose the learning rate).
    """

    method: str
    lr: float
    seed: int
    accuracy: float
    held_out: float
    trainable: int
    total: int
    losses: list[float] = field(repr=False)
    model: nn.Module = field(repr=False)
    optimizer: torch.optim.Optimizer = field(repr=False)

    @property
    def percent(self) -> float:
        """Trainable parameters as a percentage of all parameters (as PEFT prints it)."""
        return 100 * self.trainable / self.total


def fine_tune(set_up: SetUp, lr: float, seed: int, task: TaskData, *, method: str = "",
              steps: int = STEPS, batch_size: int = BATCH,
              device: str | torch.device = "cpu") -> Run:
    """Load a fresh pretrained model, apply ``set_up``, train it with AdamW; return a :class:`Run`.

    The seed is set before the set-up (LoRA draws A there) and :func:`train` sets it again
    before training, so the same arguments always give the same run. The optimizer is made
    here and kept in the record, so its state can be measured afterwards.
    """
    model = load_pretrained(device)
    torch.manual_seed(seed)
    set_up(model)
    optimizer = make_optimizer(model, lr)
    fit = fit_split(task)
    losses = train(model, fit, steps=steps, batch_size=batch_size, seed=seed, progress=False,
                   optimizer=optimizer)
    count = count_parameters(model)
    return Run(method, lr, seed, evaluate(model, task.x_test, task.y_test),
               evaluate(model, fit.x_test, fit.y_test), count.trainable, count.total, losses,
               model, optimizer)


def over_seeds(method: str, set_up: SetUp, lr: float, task: TaskData,
               seeds: Sequence[int] = SEEDS, **kwargs) -> list[Run]:
    """The same set-up trained once per seed."""
    return [fine_tune(set_up, lr, seed, task, method=method, **kwargs) for seed in seeds]


def accuracies(runs: Sequence[Run]) -> list[float]:
    """The test accuracy of each run (one per seed)."""
    return [run.accuracy for run in runs]


@dataclass
class Search:
    """A learning-rate search for one method: every rate, every seed.

    The chosen rate is the one with the best *mean held-out* accuracy; the test images play
    no part in the choice.
    """

    method: str
    runs: dict[float, list[Run]] = field(repr=False)

    @property
    def rates(self) -> list[float]:
        return sorted(self.runs)

    def held_out(self, lr: float) -> list[float]:
        """Held-out accuracy of each seed at ``lr``."""
        return [run.held_out for run in self.runs[lr]]

    @property
    def chosen(self) -> float:
        return max(self.rates, key=lambda lr: _mean(self.held_out(lr)))

    @property
    def best(self) -> list[Run]:
        """The runs (one per seed) at the chosen rate."""
        return self.runs[self.chosen]


def search_learning_rate(method: str, set_up: SetUp, rates: Sequence[float], task: TaskData,
                         seeds: Sequence[int] = SEEDS, **kwargs) -> Search:
    """Train ``set_up`` at every rate with every seed; the record says which rate won."""
    return Search(method, {lr: over_seeds(method, set_up, lr, task, seeds, **kwargs)
                           for lr in rates})


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def old_task_accuracy(runs: Sequence[Run], old: TaskData) -> list[float]:
    """Each run's accuracy on ``old``'s test images: what is left of the original task."""
    return [evaluate(run.model, old.x_test, old.y_test) for run in runs]


@dataclass
class Costs:
    """What one trained method keeps: bytes read from the tensors that exist after training.

    ``adam_bytes`` includes PyTorch's 4-byte step counter per parameter tensor
    (``step_counters`` of them); the rest of Adam's state is two fp32 moments per parameter.
    """

    trainable: int
    total: int
    gradient_bytes: int
    adam_bytes: int
    step_counters: int
    checkpoint_bytes: int

    @property
    def percent(self) -> float:
        return 100 * self.trainable / self.total


def _checkpoint_bytes(model: nn.Module, folder: Path) -> int:
    """Bytes of the file(s) a method must save per task.

    LoRA: the adapter (its A and B, and a small JSON config); head only: the head's two
    tensors; full fine-tuning: the whole state dict. All as safetensors.
    """
    if any(True for _ in lora_layers(model)):
        return file_size(save_adapter(model, folder / "adapter"))
    state = model.state_dict()
    if not any(p.requires_grad for n, p in model.named_parameters()
               if not n.startswith("head.")):
        state = {k: v for k, v in state.items() if k.startswith("head.")}
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()},
              folder / "model.safetensors")
    return file_size(folder / "model.safetensors")


def costs(run: Run) -> Costs:
    """Trainable count, gradient bytes, Adam-state bytes and checkpoint size of ``run``."""
    model, optimizer = run.model, run.optimizer
    counters = sum(1 for state in optimizer.state.values() if "step" in state)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = _checkpoint_bytes(model, Path(folder))
    return Costs(run.trainable, run.total, gradient_bytes(model), optimizer_state_bytes(optimizer),
                 counters, checkpoint)


def step_functions(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor,
                   lr: float = 1e-3, warmup: int = 3) -> dict[str, Callable[[], object]]:
    """One training step per model, on a *copy* of each, ready to time or to measure.

    Each copy gets its own AdamW (over what requires a gradient), and ``warmup`` steps
    first create its gradients and Adam state, so a measured step starts from the state
    training is in. The learning rate changes neither the time nor the memory of a step.
    """
    steps = {}
    for name, original in models.items():
        model = copy.deepcopy(original).train()
        optimizer = make_optimizer(model, lr)

        def step(model=model, optimizer=optimizer):
            return train_step(model, optimizer, x, y)
        for _ in range(warmup):
            step()
        steps[name] = step
    return steps


def width_step(width: int, use_lora: bool, tokens: int = 256, r: int = 8,
               seed: int = 0) -> Callable[[], object]:
    """One training step of two ``width``×``width`` linear layers (GELU between), full or LoRA.

    The input requires a gradient, as it would if layers below were trained too, so the
    frozen layers must still pass the gradient through: LoRA skips only the weight-gradient
    products, not the input-gradient ones.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))
    if use_lora:
        inject_lora(model, ["0", "2"], r=r, alpha=2 * r)
        mark_only_lora_as_trainable(model)
    optimizer = make_optimizer(model, 1e-3)
    x = torch.randn(tokens, width, generator=generator).requires_grad_(True)
    y = torch.randint(width, (tokens,), generator=generator)
    return lambda: train_step(model, optimizer, x, y)


@dataclass
class WidthPoint:
    """Median seconds of one full and one LoRA step at one layer width."""

    width: int
    full_seconds: float
    lora_seconds: float

    @property
    def ratio(self) -> float:
        return self.lora_seconds / self.full_seconds


def width_sweep(widths: Sequence[int], tokens: int = 256, repeats: int = 5,
                warmup: int = 2) -> list[WidthPoint]:
    """Time a full and a LoRA step (interleaved) at each width; live timings, never fixed."""
    points = []
    for width in widths:
        times = time_interleaved({"full": width_step(width, False, tokens),
                                  "lora": width_step(width, True, tokens)},
                                 repeats=repeats, warmup=warmup)
        points.append(WidthPoint(width, times["full"], times["lora"]))
    return points


# Going deeper (§10, §11): what the two methods' updates look like.

@dataclass
class LayerUpdate:
    """Full fine-tuning's update of one layer against LoRA's (norms relative to ‖W0‖).

    ``best_cosine`` is the cosine between full fine-tuning's ΔW and its own best rank-r
    approximation (a ceiling for any rank-r update); ``cosine`` the cosine between LoRA's
    ΔW and full fine-tuning's.
    """

    layer: str
    full_norm: float
    lora_norm: float
    best_cosine: float
    cosine: float

    @property
    def size_ratio(self) -> float:
        return self.lora_norm / self.full_norm


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """⟨a, b⟩_F / (‖a‖_F ‖b‖_F): 1 for the same direction, 0 for orthogonal matrices."""
    return ((a * b).sum() / (a.norm() * b.norm())).item()


def compare_updates(base: nn.Module, full_model: nn.Module, lora_model: nn.Module,
                    r: int = 8) -> list[LayerUpdate]:
    """For each LoRA layer of ``lora_model``: the two updates' sizes and their cosine."""
    w0s = {n: p.detach() for n, p in base.named_parameters()}
    wfts = {n: p.detach() for n, p in full_model.named_parameters()}
    rows = []
    for name, layer in lora_layers(lora_model):
        w0 = w0s[f"{name}.weight"]
        delta_full = wfts[f"{name}.weight"] - w0
        delta_lora = layer.delta_weight().detach()
        best = low_rank_approximation(delta_full, r)
        rows.append(LayerUpdate(name, (delta_full.norm() / w0.norm()).item(),
                                (delta_lora.norm() / w0.norm()).item(),
                                cosine(best, delta_full), cosine(delta_lora, delta_full)))
    return rows


def initial_a(targets, r: int, layer: str, seed: int = 0, alpha: float = 16) -> torch.Tensor:
    """The A matrix of ``layer`` as :func:`fine_tune` drew it, before any training."""
    model = load_pretrained("cpu")
    torch.manual_seed(seed)
    lora(targets, r=r, alpha=alpha)(model)
    return model.get_submodule(layer).lora_A.weight.detach()


@dataclass
class Similarity:
    """Subspace similarity φ between two adapters' A matrices of one layer, trained and at
    initialisation: φ(1, 1) for the top direction, φ(r_small, r_large) for the whole spaces."""

    layer: str
    top_trained: float
    top_initial: float
    all_trained: float
    all_initial: float

    @property
    def top_label(self) -> str:
        """φ(1, 1) after training, as "above 0.1" or "below 0.1".

        The top singular vector of a trained A moves a little with the CPU's last bits
        (φ(1, 1) by about 0.01 between machines), so a table that must print the same on
        every machine shows which side of 0.1 it lies, not its digits.
        """
        return "above 0.1" if self.top_trained > 0.1 else "below 0.1"


def similarity_map(a_small: torch.Tensor, a_large: torch.Tensor) -> torch.Tensor:
    """φ(i, j) for every i ≤ rank of ``a_small`` and j ≤ rank of ``a_large``."""
    return torch.tensor([[subspace_similarity(a_small, a_large, i, j)
                          for j in range(1, a_large.shape[0] + 1)]
                         for i in range(1, a_small.shape[0] + 1)])


def subspace_table(small: nn.Module, large: nn.Module, targets, seed: int = 0) -> list[Similarity]:
    """φ between the A matrices of two LoRA models (same targets, two ranks), per layer."""
    large_layers = dict(lora_layers(large))
    rows = []
    for name, layer in lora_layers(small):
        a_small, a_large = layer.lora_A.weight.detach(), large_layers[name].lora_A.weight.detach()
        r_small, r_large = a_small.shape[0], a_large.shape[0]
        a0_small, a0_large = (initial_a(targets, r_small, name, seed),
                              initial_a(targets, r_large, name, seed))
        rows.append(Similarity(name, subspace_similarity(a_small, a_large, 1, 1),
                               subspace_similarity(a0_small, a0_large, 1, 1),
                               subspace_similarity(a_small, a_large, r_small, r_large),
                               subspace_similarity(a0_small, a0_large, r_small, r_large)))
    return rows
