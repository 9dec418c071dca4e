"""Shipping a QLoRA adapter: merging it into a 4-bit base means dequantize, merge, requantize.

A QLoRA adapter was trained on top of the *quantized* base ``Q(W0)``: its forward pass was
``dequant(Q(W0))·x + s·B·A·x``. A 4-bit weight has no fp32 tensor to add ``ΔW`` to (notebook
9's ``Linear4bit`` refuses ``.weight``), so merging has to

1. dequantize: ``W = dequant(Q(W0))``, what the adapter saw in training;
2. merge: ``W + ΔW``;
3. requantize: ``Q(W + ΔW)``, back to 4 bits.

Step 3 rounds every weight again, to levels whose block scales now include ``ΔW``: the merged
4-bit layer is *not* the model the adapter was trained with. Serving the adapter unmerged on
the 4-bit base avoids that error (at the cost of the LoRA product on every call); merging
into a full-precision copy ``dequant(Q(W0)) + ΔW`` avoids it too, at the full-precision size.

Introduced in notebook 10, §3.
"""

import torch
from torch import nn

from ..core.inject import lora_layers, replace_module
from ..core.layers import LoRALinear
from ..variants.quantize import Linear4bit


def _check_qlora_layer(layer: nn.Module) -> None:
    if type(layer) is not LoRALinear or not isinstance(layer.base_layer, Linear4bit):
        raise TypeError(f"Expected a LoRALinear whose base_layer is a Linear4bit (a QLoRA layer, "
                        f"made by quantize_base_layers), got {type(layer).__name__} with base "
                        f"{type(getattr(layer, 'base_layer', None)).__name__}.")


@torch.no_grad()
def merge_into_4bit(layer: LoRALinear) -> Linear4bit:
    """A new 4-bit layer holding ``Q(dequant(Q(W0)) + ΔW)``: the QLoRA adapter merged.

    The same quantization type and double quantization as the base; the layer itself is not
    changed (keep it to serve the adapter unmerged).

    Introduced in notebook 10, §3.
    """
    _check_qlora_layer(layer)
    base = layer.base_layer
    merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None)
    merged.weight.copy_(base.dequantize() + layer.delta_weight())
    if base.bias is not None:
        merged.bias.copy_(base.bias)
    return Linear4bit(merged, base.quant_type, base.double_quant)


@torch.no_grad()
def merge_into_full_precision(layer: LoRALinear, dtype: torch.dtype = torch.float32) -> nn.Linear:
    """An ``nn.Linear`` in ``dtype`` holding ``dequant(Q(W0)) + ΔW``: merged, not requantized.

    Introduced in notebook 10, §3.
    """
    _check_qlora_layer(layer)
    base = layer.base_layer
    merged = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                       dtype=dtype)
    merged.weight.copy_(base.dequantize() + layer.delta_weight())
    if base.bias is not None:
        merged.bias.copy_(base.bias)
    return merged


def replace_qlora_layers(model: nn.Module, how: str = "4bit") -> list[str]:
    """Merge every QLoRA layer of ``model`` in place: ``"4bit"`` (requantized) or ``"fp32"``.

    Every layer is checked before the first replacement. Returns the merged layers' names.

    Introduced in notebook 10, §3.
    """
    merge = {"4bit": merge_into_4bit, "fp32": merge_into_full_precision}
    if how not in merge:
        raise ValueError(f"how must be '4bit' or 'fp32', got {how!r}.")
    layers = list(lora_layers(model))
    if not layers:
        raise ValueError("The model has no LoRA layers to merge.")
    for _, layer in layers:
        _check_qlora_layer(layer)
    merged = {name: merge[how](layer) for name, layer in layers}
    for name, new in merged.items():
        replace_module(model, name, new)
    return list(merged)
