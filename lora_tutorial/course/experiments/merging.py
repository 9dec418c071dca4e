"""Merging, unmerging and timing a LoRA model: the bookkeeping behind notebook 6's checks.

Notebook 6 merges one layer by hand first (§2); for the whole model it calls these helpers,
which return named records, so its cells show the claim ("✓ merged equals unmerged") and
the measured ratio, not the loops that compare every layer.
"""

import copy
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from lora_tutorial.core.inject import lora_layers, merge_lora, unmerge_lora
from lora_tutorial.course.measure import time_interleaved
from lora_tutorial.course.training import evaluate


def frozen_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every LoRA layer's frozen weight W0, by layer name, to compare with later."""
    return {name: layer.base_layer.weight.detach().clone() for name, layer in lora_layers(model)}


@dataclass(frozen=True)
class WeightGap:
    """How far every LoRA layer's stored weight is from a saved copy."""

    max_error: float
    """The largest |W − W_saved| over all layers."""
    changed: int
    """How many single weights are not bit-identical to the saved copy."""
    total: int
    """How many weights were compared."""


def weight_gap(model: nn.Module, saved: dict[str, torch.Tensor]) -> WeightGap:
    """Compare each LoRA layer's stored weight with ``saved`` (from :func:`frozen_weights`).

    Used in notebook 06, §3, after unmerging: the gap is rounding, not a lost update.
    """
    layers = dict(lora_layers(model))
    if set(layers) != set(saved):
        raise ValueError(f"the saved weights name other layers: {sorted(set(saved) ^ set(layers))}")
    max_error, changed, total = 0.0, 0, 0
    for name, layer in layers.items():
        diff = layer.base_layer.weight.detach() - saved[name]
        max_error = max(max_error, diff.abs().max().item())
        changed += int((diff != 0).sum().item())
        total += diff.numel()
    return WeightGap(max_error=max_error, changed=changed, total=total)


@dataclass(frozen=True)
class DoubleMerge:
    """What a second merge does: refused with a warning, and what it would have cost."""

    warning: str
    """The warning ``LoRALinear.merge()`` gave when asked to merge a merged layer."""
    weight_unchanged: bool
    """The refused second merge left the weight exactly as it was."""
    accuracy_once: float
    """Accuracy of the model merged once."""
    accuracy_twice: float
    """Accuracy with ΔW added a second time by hand (what a merge without a flag would do)."""


def merge_twice(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> DoubleMerge:
    """Merge ``model``, ask one layer to merge again, and measure ΔW added twice on a copy.

    The model is unmerged again at the end, as it came in. Used in notebook 06, §3.
    """
    merge_lora(model)
    name, layer = next(iter(lora_layers(model)))
    before = layer.base_layer.weight.detach().clone()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer.merge()                                   # refused: the flag says merged
    if not caught:
        raise RuntimeError(f"{name}: a second merge gave no warning")
    unchanged = torch.equal(before, layer.base_layer.weight)

    doubled = copy.deepcopy(model)
    with torch.no_grad():
        for _, lay in lora_layers(doubled):
            lay.base_layer.weight += lay.delta_weight()  # what a flag-less second merge does
    result = DoubleMerge(warning=str(caught[0].message), weight_unchanged=unchanged,
                         accuracy_once=evaluate(model, x, y),
                         accuracy_twice=evaluate(doubled, x, y))
    unmerge_lora(model)
    return result


@dataclass(frozen=True)
class Latency:
    """Median milliseconds per forward pass of each model, measured interleaved."""

    ms: dict[str, float]

    def ratio(self, name: str, reference: str) -> float:
        """How many times ``reference``'s time ``name`` took."""
        return self.ms[name] / self.ms[reference]


def inference_latency(models: dict[str, nn.Module], x: torch.Tensor, repeats: int = 10,
                      warmup: int = 2) -> Latency:
    """Time one forward pass of each model on ``x`` (no gradients), in alternation.

    Interleaving the candidates (``time_interleaved``) lets a busy moment on the machine hit
    all of them alike. Used in notebook 06, §4.
    """
    with torch.no_grad():
        seconds = time_interleaved({name: (lambda m=m: m(x)) for name, m in models.items()},
                                   repeats=repeats, warmup=warmup)
    return Latency(ms={name: 1000 * s for name, s in seconds.items()})
