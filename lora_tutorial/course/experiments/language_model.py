"""Notebook 8's experiments: adapting the tiny GPT to code, and what each method costs.

Used in notebook 8, §4–§6, and by ``benchmarks/sweep_language_model.py``, which runs
:func:`adapt` for every method, several learning rates and several seeds, and records the
result that the notebook shows.

Two questions, each answered by a named record:

* **How much did it learn, and how much did it forget?** :func:`adapt` trains one method
  from the pretrained model at one learning rate and seed, exactly as
  :func:`~lora_tutorial.course.training.train_lm` would, but stops at a few steps along the
  way to measure the validation loss on code (the new domain: *learning*) and on the
  documentation (the old domain: *forgetting*). The result, a :class:`Run`, holds those
  points as a learn–forget curve.
* **What does it cost?** :func:`costs` measures what a method keeps besides the frozen
  model: trainable parameters, AdamW's state after one step, and the checkpoint it must store
  per task. It also hands back one training step, ready to be timed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from ...core.adapters import save_adapter
from ...core.counting import optimizer_state_bytes
from ...core.inject import inject_lora, mark_only_lora_as_trainable
from ..facts import GPT_LINEARS
from ..measure import file_size
from ..models.gpt import load_pretrained_gpt, save_pretrained_gpt
from ..text import random_windows
from ..training import evaluate_lm, lm_loss, make_optimizer

LORA_TARGETS = {
    "LoRA q,v (r=8)": (["q_proj", "v_proj"], 8),
    "LoRA up,down (r=4)": (["up_proj", "down_proj"], 4),
    "LoRA all linears (r=8)": (GPT_LINEARS, 8),
}
"""Each LoRA method: the modules it adapts and its rank (α = 2r for all, so α/r = 2).

q,v at r = 8 and up,down at r = 4 train the same number of parameters: a 128×128 projection
takes r·(128 + 128) = 8·256, a 128×384 one r·(128 + 384) = 4·512, both 2,048 per module."""

METHODS = ("head/embedding only", "LoRA q,v (r=8)", "LoRA up,down (r=4)",
           "LoRA all linears (r=8)", "full fine-tuning")
"""Every method notebook 8 compares, from the fewest trainable parameters to the most."""

HEAD_AND_EMBEDDINGS = ("embed_tokens", "pos_embed", "lm_head")
"""What "head/embedding only" trains: the tensors that touch bytes; every block is frozen."""


def prepare(method: str, device: str = "cpu", init_seed: int = 0) -> nn.Module:
    """A fresh pretrained model, set up so that only what ``method`` trains has a gradient.

    LoRA's A is drawn at injection, so the global seed is set to ``init_seed`` just before.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    model = load_pretrained_gpt(device)
    torch.manual_seed(init_seed)
    if method == "head/embedding only":
        for name, param in model.named_parameters():
            param.requires_grad = name.startswith(HEAD_AND_EMBEDDINGS)
    elif method in LORA_TARGETS:
        targets, r = LORA_TARGETS[method]
        inject_lora(model, targets, r=r, alpha=2 * r)
        mark_only_lora_as_trainable(model)
    return model


@dataclass(frozen=True)
class CurvePoint:
    """The validation losses (nats/byte) after ``step`` training steps."""

    step: int
    code: float
    docs: float


@dataclass(frozen=True)
class Run:
    """One method trained once: its learning rate, seed, and where it ended up.

    ``code`` is the final validation loss on code (lower: learned more), ``docs`` the final
    one on the documentation (higher: forgot more); ``curve`` holds both along training,
    starting at step 0 (the base model); ``losses`` is every step's training loss.
    """

    method: str
    lr: float
    seed: int
    trainable: int
    code: float
    docs: float
    curve: tuple[CurvePoint, ...]
    losses: tuple[float, ...]


def adapt(method: str, lr: float, seed: int, code_train: torch.Tensor, code_val: torch.Tensor,
          docs_val: torch.Tensor, *, steps: int, batch_size: int,
          points: Sequence[int] = (), model: nn.Module | None = None) -> Run:
    """Train ``method`` on ``code_train`` and measure learning and forgetting along the way.

    The steps are those of :func:`~lora_tutorial.course.training.train_lm` (same seed, same
    windows, same AdamW), so the final losses equal a ``train_lm`` run's; in addition, after
    each step listed in ``points`` (and always at 0 and at the end), the validation losses on
    code and docs are measured. Pass ``model`` to train one you prepared yourself (it must be
    fresh from :func:`prepare`); it is trained in place.
    """
    model = prepare(method) if model is None else model
    torch.manual_seed(seed)
    optimizer = make_optimizer(model, lr)
    generator = torch.Generator().manual_seed(seed)
    context = model.config.context
    wanted = sorted({0, steps, *(p for p in points if 0 < p < steps)})

    def point(step: int) -> CurvePoint:
        return CurvePoint(step, evaluate_lm(model, code_val), evaluate_lm(model, docs_val))

    curve = [point(0)]
    losses = []
    model.train()
    for step in range(1, steps + 1):
        loss = lm_loss(model, random_windows(code_train, batch_size, context, generator))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step in wanted:
            curve.append(point(step))    # evaluate_lm switches to eval and back to train
    model.eval()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Run(method, lr, seed, trainable, curve[-1].code, curve[-1].docs, tuple(curve),
               tuple(losses))


@dataclass(frozen=True)
class Costs:
    """What one method keeps besides the frozen model, and one of its training steps.

    ``adam_bytes``: AdamW's state after one step (two fp32 moments per trained number and a
    step counter per tensor); ``checkpoint_bytes``: the file a method stores per task (the
    adapter for LoRA, the trained tensors for head/embedding, the whole model for full
    fine-tuning); ``step()``: runs one more training step on a copy, for timing.
    """

    method: str
    trainable: int
    adam_bytes: int
    checkpoint_bytes: int
    step: Callable[[], None]


def checkpoint_bytes(method: str, model: nn.Module, directory: str | Path) -> int:
    """Bytes of the file ``method`` must store for one task (see :class:`Costs`)."""
    path = Path(directory) / method.split(" (")[0].replace(" ", "_").replace("/", "_")
    if method in LORA_TARGETS:
        return file_size(save_adapter(model, path) / "adapter_model.safetensors")
    if method == "full fine-tuning":
        return file_size(save_pretrained_gpt(model, path))
    trained = {name: p.detach().contiguous() for name, p in model.named_parameters()
               if p.requires_grad}
    save_file(trained, f"{path}.safetensors")
    return file_size(f"{path}.safetensors")


def costs(method: str, model: nn.Module, batch: torch.Tensor, lr: float,
          directory: str | Path) -> Costs:
    """Measure :class:`Costs` of ``method`` on a copy of ``model`` (which stays untouched)."""
    copied = copy.deepcopy(model).train()
    optimizer = make_optimizer(copied, lr)

    def step() -> None:
        loss = lm_loss(copied, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()   # AdamW creates its state on the first step
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Costs(method, trainable, optimizer_state_bytes(optimizer),
                 checkpoint_bytes(method, model, directory), step)


@dataclass(frozen=True)
class Spread:
    """A figure over several seeds: the mean, the lowest and the highest run."""

    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("a spread needs at least one run")
        return cls(sum(values) / len(values), min(values), max(values))

    def __str__(self) -> str:
        return f"{self.mean:.3f} ({self.low:.3f}–{self.high:.3f})"


@dataclass(frozen=True)
class Tuned:
    """One method of the recorded sweep, at the learning rate its search chose."""

    method: str
    lr: float
    rates: tuple[float, ...]
    trainable: int
    code: tuple[float, ...]
    docs: tuple[float, ...]
    curve_steps: tuple[int, ...]
    curve_code: tuple[float, ...]
    curve_docs: tuple[float, ...]
    curve_code_by_seed: tuple[tuple[float, ...], ...] = ()
    curve_docs_by_seed: tuple[tuple[float, ...], ...] = ()

    def docs_at_code(self, level: float) -> tuple[float, ...] | None:
        """Forgetting at matched learning: each seed's docs loss when its code loss reaches
        ``level`` (read off its learn–forget curve), or None if some seed never gets there."""
        found = [docs_at_code(code, docs, level)
                 for code, docs in zip(self.curve_code_by_seed, self.curve_docs_by_seed)]
        return None if not found or None in found else tuple(found)

    @property
    def code_spread(self) -> Spread:
        return Spread.of(self.code)

    @property
    def docs_spread(self) -> Spread:
        return Spread.of(self.docs)


def tune(runs: Sequence[Run]) -> dict:
    """Pick each method's learning rate (lowest mean code loss over seeds) and summarise.

    Returns a dictionary ready to be recorded: per method the tuned rate, every rate's
    per-seed losses, the per-seed losses at the tuned rate with their mean and min–max, and
    the learn–forget curve at the tuned rate (mean over seeds at each measured step).
    """
    summary = {}
    for method in dict.fromkeys(run.method for run in runs):
        mine = [run for run in runs if run.method == method]
        rates = sorted({run.lr for run in mine})
        by_rate = {lr: [run for run in mine if run.lr == lr] for lr in rates}

        def mean_code(lr: float) -> float:
            return sum(run.code for run in by_rate[lr]) / len(by_rate[lr])

        best = min(rates, key=mean_code)
        chosen = sorted(by_rate[best], key=lambda run: run.seed)
        steps = [p.step for p in chosen[0].curve]
        summary[method] = {
            "tuned_lr": best,
            "tuned_at_edge_of_grid": best in (rates[0], rates[-1]),
            "trainable": chosen[0].trainable,
            "seeds": [run.seed for run in chosen],
            "code": [run.code for run in chosen],
            "docs": [run.docs for run in chosen],
            "code_mean_min_max": list(vars(Spread.of([r.code for r in chosen])).values()),
            "docs_mean_min_max": list(vars(Spread.of([r.docs for r in chosen])).values()),
            "curve": {"steps": steps,
                      "code": [sum(r.curve[i].code for r in chosen) / len(chosen)
                               for i in range(len(steps))],
                      "docs": [sum(r.curve[i].docs for r in chosen) / len(chosen)
                               for i in range(len(steps))],
                      "code_by_seed": [[p.code for p in r.curve] for r in chosen],
                      "docs_by_seed": [[p.docs for p in r.curve] for r in chosen]},
            "rates": {f"{lr:g}": {"code": [r.code for r in by_rate[lr]],
                                  "docs": [r.docs for r in by_rate[lr]]} for lr in rates},
        }
    return summary


def tuned_from_record(figures: dict) -> dict[str, Tuned]:
    """The recorded sweep's figures (``results.load("language_model").figures``) as records."""
    return {method: Tuned(method, entry["tuned_lr"],
                          tuple(float(lr) for lr in entry["rates"]), entry["trainable"],
                          tuple(entry["code"]), tuple(entry["docs"]),
                          tuple(entry["curve"]["steps"]), tuple(entry["curve"]["code"]),
                          tuple(entry["curve"]["docs"]),
                          tuple(map(tuple, entry["curve"].get("code_by_seed", ()))),
                          tuple(map(tuple, entry["curve"].get("docs_by_seed", ()))))
            for method, entry in figures["methods"].items()}


def docs_at_code(code: Sequence[float], docs: Sequence[float], level: float) -> float | None:
    """The docs loss on a learn–forget curve where the code loss first falls to ``level``.

    The curve is measured at a few steps only, so between two of them the point is found by
    straight-line interpolation. None if the code loss never gets down to ``level``.
    """
    if len(code) != len(docs) or not code:
        raise ValueError("a learn–forget curve needs as many docs losses as code losses")
    if code[0] <= level:
        return docs[0]
    for i in range(1, len(code)):
        if code[i] <= level:
            share = (code[i - 1] - level) / (code[i - 1] - code[i])
            return docs[i - 1] + share * (docs[i] - docs[i - 1])
    return None
