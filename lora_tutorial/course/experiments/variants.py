"""Notebook 09's experiments: LoRA's variants compared fairly, and DoRA's magnitude/direction split.

Two questions need more runs than a notebook cell should show:

* **Is a variant better, or was it given a better learning rate?** LoRA+ and rsLoRA change
  how large LoRA's updates are, so at one shared learning rate they win or lose by the rate
  as much as by the method. :func:`tune` gives every (method, rank) its own rate from a small
  grid, chosen on a validation split carved from the training images (never on the test
  images), and reports the test accuracy and loss at that rate over several seeds.
  ``benchmarks/sweep_variants.py`` runs it for every method at r = 4, 16 and 64 and records
  the table; notebook 09, §3 shows it and re-runs the cheapest row live (:func:`fine_tune`).
* **Why does DoRA split a weight into a length and a direction?** Liu et al. (2024, §3)
  watch, during training, how far each output unit's length (magnitude) and direction move
  from the pretrained weight: full fine-tuning moves them in *opposite* amounts (large
  direction changes with small length changes, a negative slope), LoRA in proportion (a
  positive slope). :func:`magnitude_direction` measures the same on the course model
  (notebook 09, §8, a Going deeper section).

Every function returns a named record (:class:`Run`, :class:`Tuned`, :class:`MDPoint`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ...core.inject import inject_lora, lora_layers, mark_only_lora_as_trainable
from ..data import load_task
from ..facts import BATCH, BLOCK_LINEARS
from ..models import load_pretrained
from ..training import batch_indices, make_optimizer, train_step
from ...variants.loraplus import make_loraplus_optimizer

METHODS = ("LoRA", "rsLoRA", "LoRA+", "DoRA")
"""The methods compared: plain LoRA (scaling α/r), rsLoRA (α/√r), LoRA+ (B's learning rate
16 × A's), DoRA (a trained length per output feature)."""

ALPHA = 16
"""LoRA's α in every run: the scaling is α/r (α/√r for rsLoRA)."""

STEPS = 60
"""Training steps of one run (batches of :data:`~lora_tutorial.course.facts.BATCH` images)."""

VALIDATION = 300
"""Training images held out to choose each method's learning rate (the test images never are)."""

RATES = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
"""The learning-rate grid of the search (for LoRA+, A's rate; B's is 16 times larger)."""

LORAPLUS_RATIO = 16.0
"""LoRA+'s λ: B's learning rate over A's (Hayou et al., 2024, suggest about 16)."""


@dataclass(frozen=True)
class Run:
    """One training run: a method at a rank, a learning rate and a seed, and what it reached."""

    method: str
    r: int
    lr: float
    seed: int
    val_loss: float        # cross-entropy on the held-out training images (used to tune)
    accuracy: float        # test accuracy, 0–1
    loss: float            # test cross-entropy


@dataclass(frozen=True)
class Tuned:
    """One (method, rank) of the search: the rate it chose and the runs at that rate."""

    method: str
    r: int
    lr: float                                  # the tuned rate: lowest mean validation loss
    runs: tuple[Run, ...]                      # one per seed, at the tuned rate
    val_loss_by_lr: dict[float, float] = field(default_factory=dict)   # mean over seeds

    @property
    def accuracies(self) -> list[float]:
        return [run.accuracy for run in self.runs]

    @property
    def losses(self) -> list[float]:
        return [run.loss for run in self.runs]


def split(task_name: str = "rotated"):
    """The task's images as (x_train, y_train, x_val, y_val, x_test, y_test).

    The last :data:`VALIDATION` training images are held out for choosing learning rates.
    """
    task = load_task(task_name)
    n = len(task.y_train) - VALIDATION
    return (task.x_train[:n], task.y_train[:n], task.x_train[n:], task.y_train[n:],
            task.x_test, task.y_test)


def variant_model(method: str, r: int, seed: int, alpha: float = ALPHA,
                  device: str | torch.device = "cpu") -> nn.Module:
    """The pretrained digits model with ``method``'s adapter on every block linear.

    ``seed`` fixes each LoRA layer's random A. LoRA+ differs from LoRA only in its optimizer
    (:func:`optimizer_for`), so its model is plain LoRA's.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {METHODS}")
    model = load_pretrained(device)
    torch.manual_seed(seed)
    inject_lora(model, BLOCK_LINEARS, r=r, alpha=alpha, use_rslora=method == "rsLoRA",
                use_dora=method == "DoRA")
    mark_only_lora_as_trainable(model)
    return model


def optimizer_for(method: str, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """AdamW at ``lr``; for LoRA+, with B (and every trainable vector) at 16 × ``lr``."""
    if method == "LoRA+":
        return make_loraplus_optimizer(model, lr, LORAPLUS_RATIO)
    return make_optimizer(model, lr)


@torch.no_grad()
def _scores(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, y).item()
    return (logits.argmax(-1) == y).float().mean().item(), loss


def fine_tune(method: str, r: int, lr: float, seed: int, steps: int = STEPS,
              data=None) -> Run:
    """Train ``method`` at rank ``r`` for ``steps`` steps at ``lr``; score it.

    ``seed`` sets both the random A and the order of the batches. ``data`` is :func:`split`'s
    tuple (pass it in to avoid reloading the images for every run). Used in notebook 09, §3,
    to re-run the sweep's cheapest row live.
    """
    x_train, y_train, x_val, y_val, x_test, y_test = data if data is not None else split()
    model = variant_model(method, r, seed)
    optimizer = optimizer_for(method, model, lr)
    model.train()
    for idx in batch_indices(len(y_train), BATCH, steps, seed):
        train_step(model, optimizer, x_train[idx], y_train[idx])
    model.eval()
    _, val_loss = _scores(model, x_val, y_val)
    accuracy, loss = _scores(model, x_test, y_test)
    return Run(method, r, lr, seed, val_loss, accuracy, loss)


def tune(method: str, r: int, rates=RATES, seeds=(0, 1, 2), steps: int = STEPS,
         data=None, progress=None) -> Tuned:
    """Every rate × every seed; keep the rate with the lowest mean validation loss.

    ``progress``, if given, is called after each run with the :class:`Run`.
    ``benchmarks/sweep_variants.py`` calls it for every (method, rank) that notebook 09, §3 shows.
    """
    if len(rates) < 1 or len(seeds) < 1:
        raise ValueError("tune needs at least one rate and one seed")
    data = data if data is not None else split()
    by_lr = {}
    for lr in rates:
        by_lr[lr] = []
        for seed in seeds:
            run = fine_tune(method, r, lr, seed, steps, data)
            by_lr[lr].append(run)
            if progress is not None:
                progress(run)
    mean_val = {lr: sum(run.val_loss for run in runs) / len(runs) for lr, runs in by_lr.items()}
    best = min(mean_val, key=mean_val.get)
    return Tuned(method, r, best, tuple(by_lr[best]), mean_val)


# --- DoRA's analysis: how magnitude and direction move during training -----------------

@dataclass(frozen=True)
class MDPoint:
    """One layer at one checkpoint: mean change of length (ΔM) and of direction (ΔD).

    Over the layer's output features n (rows of PyTorch's (out, in) weight):
    ΔM = mean |‖w_n‖ − ‖w0_n‖|, ΔD = mean (1 − cos(w_n, w0_n)), as Liu et al. (2024) define
    them (their W is (in, out), so their columns are these rows).
    """

    method: str
    layer: str
    step: int
    delta_m: float
    delta_d: float


def magnitude_direction_change(weight: torch.Tensor, weight0: torch.Tensor) -> tuple[float, float]:
    """(ΔM, ΔD) between an (out, in) weight and its pretrained ``weight0``, row by row."""
    norms, norms0 = weight.norm(dim=1), weight0.norm(dim=1)
    delta_m = (norms - norms0).abs().mean().item()
    cos = nn.functional.cosine_similarity(weight, weight0, dim=1)
    delta_d = (1 - cos).mean().item()
    return delta_m, delta_d


def _effective_weights(model: nn.Module, names) -> dict[str, torch.Tensor]:
    weights = {}
    with torch.no_grad():
        adapted = dict(lora_layers(model))
        for name in names:
            if name in adapted:
                layer = adapted[name]
                weights[name] = (layer.base_layer.weight + layer.delta_weight()).clone()
            else:
                weights[name] = model.get_submodule(name).weight.clone()
    return weights


def slope(points: list[MDPoint]) -> float:
    """Least-squares slope of ΔD against ΔM over ``points`` (the sign is what the paper reads)."""
    m = torch.tensor([p.delta_m for p in points], dtype=torch.float64)
    d = torch.tensor([p.delta_d for p in points], dtype=torch.float64)
    m_centred = m - m.mean()
    return ((m_centred * (d - d.mean())).sum() / (m_centred ** 2).sum()).item()


def magnitude_direction(method: str, steps: int = STEPS, checkpoints=(15, 30, 45, 60),
                        lr: float | None = None, r: int = 8, seed: int = 0,
                        targets=("q_proj", "v_proj")) -> list[MDPoint]:
    """Train ``method`` ("full", "LoRA" or "DoRA") on the rotated digits; record (ΔM, ΔD) of
    every q_proj and v_proj at each checkpoint (the layers the paper analyses).

    Full fine-tuning trains every weight (default rate 1e-3); LoRA and DoRA adapt every block
    linear at rank ``r`` (default rate 3e-3). Used in notebook 09, §8.
    """
    x_train, y_train, *_ = split()
    if method == "full":
        model = load_pretrained("cpu")
        lr = 1e-3 if lr is None else lr
    elif method in ("LoRA", "DoRA"):
        model = variant_model(method, r, seed)
        lr = 3e-3 if lr is None else lr
    else:
        raise ValueError(f"method must be 'full', 'LoRA' or 'DoRA', got {method!r}")
    names = sorted(name for name, _ in model.named_modules() if name.rsplit(".", 1)[-1] in targets)
    start = _effective_weights(model, names)
    optimizer = make_optimizer(model, lr)
    model.train()
    points = []
    for step, idx in enumerate(batch_indices(len(y_train), BATCH, steps, seed), start=1):
        train_step(model, optimizer, x_train[idx], y_train[idx])
        if step in checkpoints:
            now = _effective_weights(model, names)
            for name in names:
                dm, dd = magnitude_direction_change(now[name], start[name])
                points.append(MDPoint(method, name, step, dm, dd))
    model.eval()
    return points
