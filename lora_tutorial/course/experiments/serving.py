"""Notebook 10's measurements after training: how far a merge moves a model's outputs.

Merged and unmerged models compute the same function in exact arithmetic, but not in the
arithmetic a machine does: a 4-bit weight must be rounded again after ΔW is added, and a
16-bit weight keeps only 8 (bf16) or 11 (fp16) significant bits of ``W0 + ΔW``. This module
measures those gaps on the course's digits model and returns named records, so that the
notebook's cells show the table and the lesson:

* :func:`relative_gap` and :func:`band`: how a gap is measured and printed the same on every
  machine (used in notebook 10, §1–§3);
* :func:`qlora_merges`: three ways to merge a QLoRA adapter, each against the unmerged model
  it was trained as (notebook 10, §3);
* :func:`half_precision_merges`: merged against unmerged in bf16 and fp16 (notebook 10, §3).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ...core.inject import lora_layers, merge_lora
from ...serving.quantized import replace_qlora_layers

BAND_EDGES = (1e-5, 5e-4, 5e-3, 5e-2, 0.25)
"""The edges of the ranges :func:`band` names: wide, so that another CPU's last bits never
move a gap from one range to the next."""


def relative_gap(output: torch.Tensor, reference: torch.Tensor) -> float:
    """The largest ``|output − reference|``, divided by the reference's largest value.

    Dividing by the largest value makes the gap a fraction of the outputs' scale, so models
    whose logits are large and models whose logits are small are compared alike.
    """
    output, reference = output.detach().float(), reference.detach().float()
    return ((output - reference).abs().max() / reference.abs().max()).item()


def band(value: float, edges: tuple[float, ...] = BAND_EDGES) -> str:
    """The range between two neighbouring ``edges`` that holds ``value`` (a fraction), as text.

    A gap such as 0.0123 prints with different last digits on different CPUs; "0.5% – 5%"
    prints the same everywhere, which is what a stored notebook output needs.

    >>> band(0.0123)
    '0.5% – 5%'
    >>> band(3e-7)
    'below 0.001%'
    """
    if value < 0:
        raise ValueError(f"a gap is never negative, got {value}")
    low = max((e for e in edges if e <= value), default=0.0)
    high = min((e for e in edges if e > value), default=None)

    def text(edge):
        return f"{100 * edge:.3g}%"

    if low == 0.0:
        return f"below {text(high)}"
    return f"{text(low)} – {text(high)}" if high is not None else f"above {text(low)}"


@dataclass(frozen=True)
class MergeGap:
    """One way of merging, measured against the model as it was trained (unmerged)."""

    how: str
    gap: float                 # relative_gap of the merged logits against the unmerged ones
    same_prediction: float     # share of inputs whose predicted class did not change
    accuracy: float            # test accuracy of the merged model

    @property
    def band(self) -> str:
        return band(self.gap)


def _share_same(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.argmax(-1) == b.argmax(-1)).float().mean().item()


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return (logits.argmax(-1).cpu() == y.cpu()).float().mean().item()


@torch.no_grad()
def qlora_merges(qlora: nn.Module, fp32_twin: nn.Module, x: torch.Tensor,
                 y: torch.Tensor) -> list[MergeGap]:
    """Three ways to merge a trained QLoRA adapter, each against the unmerged 4-bit model.

    ``qlora`` is the trained model (LoRA layers on a 4-bit base); ``fp32_twin`` is the same
    architecture with LoRA layers on the *original* fp32 weights, whose adapters are
    overwritten here with ``qlora``'s trained A and B. The three merges:

    1. dequantize → merge → requantize to 4 bits: ``Q(dequant(Q(W0)) + ΔW)``;
    2. merge into the dequantized weights, kept in fp32: ``dequant(Q(W0)) + ΔW``;
    3. merge into the original fp32 ``W0`` (wrong: the adapter learned to correct ``Q(W0)``).

    Used in notebook 10, §3.
    """
    unmerged = qlora(x)
    requantized = copy.deepcopy(qlora)
    replace_qlora_layers(requantized, "4bit")
    dequantized = copy.deepcopy(qlora)
    replace_qlora_layers(dequantized, "fp32")
    original = copy.deepcopy(fp32_twin)
    for (_, mine), (_, theirs) in zip(lora_layers(original), lora_layers(qlora)):
        mine.lora_A.weight.copy_(theirs.lora_A.weight)
        mine.lora_B.weight.copy_(theirs.lora_B.weight)
    merge_lora(original)
    outputs = {"dequantize → merge → requantize (4-bit)": requantized(x),
               "merged into dequant(Q(W0)), fp32": dequantized(x),
               "merged into the original fp32 W0": original(x)}
    return [MergeGap(how, relative_gap(logits, unmerged), _share_same(logits, unmerged),
                     _accuracy(logits, y)) for how, logits in outputs.items()]


@dataclass(frozen=True)
class HalfPrecisionGap:
    """A LoRA model in one 16-bit type: unmerged and merged, each against fp32."""

    dtype: str
    unmerged_vs_fp32: float
    merged_vs_fp32: float
    merged_vs_unmerged: float
    same_prediction: float     # merged against unmerged


@torch.no_grad()
def half_precision_merges(model: nn.Module, x: torch.Tensor,
                          dtypes=(torch.bfloat16, torch.float16)) -> list[HalfPrecisionGap]:
    """Merged against unmerged in 16-bit types, for a trained fp32 LoRA ``model``.

    Unmerged, a 16-bit model rounds ``W0·x`` and ``s·B·A·x`` separately; merged, it rounds
    ``W0 + ΔW`` once, and a small ΔW added to a large weight loses most of its bits. The
    model itself is not changed (each dtype gets a copy). Used in notebook 10, §3.
    """
    reference = model(x)
    rows = []
    for dtype in dtypes:
        half = copy.deepcopy(model).to(dtype)
        unmerged = half(x.to(dtype))
        merge_lora(half)
        merged = half(x.to(dtype))
        rows.append(HalfPrecisionGap(str(dtype).removeprefix("torch."),
                                     relative_gap(unmerged, reference),
                                     relative_gap(merged, reference),
                                     relative_gap(merged, unmerged),
                                     _share_same(merged, unmerged)))
    return rows
