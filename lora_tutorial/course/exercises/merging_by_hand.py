"""Checker for notebook 6's exercise: merge a LoRA layer into a plain ``nn.Linear``, and back.

The learner writes two functions:

* ``merge_to_linear(layer)``: given a trained :class:`~lora_tutorial.core.layers.LoRALinear`,
  return a *new* plain ``nn.Linear`` holding ``W = W0 + (alpha/r)·B·A`` and the base layer's
  bias, so that it computes exactly what the LoRA layer computes — with no LoRA path left,
  hence no extra latency. The LoRA layer itself must stay as it was (its ``W0`` is shared
  by every adapter).
* ``unmerge_linear(merged, A, B, alpha, r)``: given such a merged ``nn.Linear`` and the
  adapter's factors, return a new ``nn.Linear`` holding ``W0 = W − (alpha/r)·B·A`` (equal
  to the pretrained weight up to floating-point rounding) and the same bias.

:func:`check_merge_by_hand` tests both on non-square layers (so that ``A @ B`` cannot even
be computed), with and without a bias, and names the usual mistakes.
"""

import torch
from torch import nn

from ...core.layers import LoRALinear
from . import ExerciseError, call_learner, checker, require

D, K, R, ALPHA = 6, 10, 3, 12  # non-square; alpha/r = 4 differs from 1, alpha and r/alpha


def _trained_layer(d: int, k: int, r: int, alpha: float, bias: bool, seed: int) -> LoRALinear:
    """A LoRA layer with random W0 and a non-zero B, as after training."""
    generator = torch.Generator().manual_seed(seed)
    base = nn.Linear(k, d, bias=bias)
    layer = LoRALinear(base, r=r, alpha=alpha)
    with torch.no_grad():
        base.weight.copy_(torch.randn(d, k, generator=generator))
        if bias:
            base.bias.copy_(torch.randn(d, generator=generator))
        layer.lora_A.weight.copy_(torch.randn(r, k, generator=generator) / k ** 0.5)
        layer.lora_B.weight.copy_(torch.randn(d, r, generator=generator) * 0.5)
    return layer


def _snapshot(layer: LoRALinear) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone() for name, t in layer.state_dict().items()}


def _shape_hint(error: ExerciseError, d: int, k: int, r: int) -> ExerciseError:
    if "shapes cannot be multiplied" in str(error) or "size mismatch" in str(error):
        return ExerciseError(
            f"{error}. The order of the factors matters: A is r×k = ({r}, {k}) and B is "
            f"d×r = ({d}, {r}), so B @ A is d×k = ({d}, {k}), the shape of W0; A @ B only "
            "fits when k = d.")
    return error


def _check_merge(merge_to_linear, layer: LoRALinear, x: torch.Tensor) -> nn.Linear:
    d, k, r = layer.out_features, layer.in_features, layer.r
    before = _snapshot(layer)
    try:
        merged = call_learner(merge_to_linear, layer,
                              context=f"On a {d}×{k} LoRA layer (r={r}), merge_to_linear")
    except ExerciseError as error:
        raise _shape_hint(error, d, k, r) from error
    require(type(merged) is nn.Linear,
            f"merge_to_linear returned {type(merged).__name__}, not a plain nn.Linear. The "
            "point of merging is that no LoRA layer is left: build nn.Linear(in_features, "
            "out_features) and copy the merged weight (and the bias) into it.")
    changed = [n for n, t in _snapshot(layer).items() if not torch.equal(t, before[n])]
    require(not changed,
            f"merge_to_linear changed the LoRA layer itself ({', '.join(changed)}). Build a "
            "new nn.Linear and leave the layer alone: W0 is shared by every adapter.")
    require(merged.weight is not layer.base_layer.weight
            and merged.weight.data_ptr() != layer.base_layer.weight.data_ptr(),
            "The merged layer shares its weight tensor with the LoRA layer's base layer, so "
            "changing one changes the other. Copy the values into a new nn.Linear.")
    require(tuple(merged.weight.shape) == (d, k),
            f"The merged weight has shape {tuple(merged.weight.shape)}, but it must have W0's "
            f"shape ({d}, {k}) (out × in). B @ A already has that shape: no transpose.")
    has_bias = layer.base_layer.bias is not None
    require((merged.bias is not None) == has_bias,
            "The merged layer must have a bias exactly when the base layer has one "
            "(nn.Linear(k, d, bias=...)): LoRA never changes the bias, so copy it as it is."
            if has_bias else
            "The base layer has no bias, so the merged layer must not have one either "
            "(nn.Linear(k, d, bias=False)): an extra bias, even a random one, changes outputs.")

    w0 = layer.base_layer.weight.detach()
    update = layer.lora_B.weight.detach() @ layer.lora_A.weight.detach()
    weight = merged.weight.detach()
    mistakes = {
        "no scaling": (w0 + update, "You forgot the scaling: W0 + B·A. The LoRA layer "
                       f"multiplies its update by alpha/r (here {layer.alpha}/{r} = "
                       f"{layer.scaling:g}), so the merged weight must too."),
        "alpha only": (w0 + layer.alpha * update, "You multiplied by alpha but did not "
                       f"divide by r: the scaling is alpha/r = {layer.scaling:g} (or simply "
                       "use layer.scaling)."),
        "inverted": (w0 + (r / layer.alpha) * update, "Your scaling is upside down: r/alpha "
                     f"instead of alpha/r = {layer.scaling:g}."),
        "no base": (layer.scaling * update, "Your weight is only the update (alpha/r)·B·A: "
                    "add W0. Without it the layer forgets everything pretraining taught it."),
        "subtracted": (w0 - layer.scaling * update, "You subtracted the update: that is "
                       "unmerging. Merging adds it."),
        "unchanged": (w0, "Your merged weight equals W0: the update was never added."),
    }
    right = w0 + layer.scaling * update
    if not torch.allclose(weight, right, atol=1e-5):
        for value, message in mistakes.values():
            if torch.allclose(weight, value, atol=1e-5):
                raise ExerciseError(message)
        raise ExerciseError("The merged weight is not W0 + (alpha/r)·B·A. Check the order "
                            "B @ A and the scaling alpha/r.")
    if has_bias:
        require(torch.allclose(merged.bias.detach(), layer.base_layer.bias.detach()),
                "The merged layer's bias differs from the base layer's. LoRA leaves the bias "
                "alone, so copy layer.base_layer.bias as it is.")
    with torch.no_grad():
        require(torch.allclose(merged(x), layer(x), atol=1e-5),
                "The merged nn.Linear does not reproduce the LoRA layer's outputs.")
    return merged


def _check_unmerge(unmerge_linear, layer: LoRALinear, merged: nn.Linear) -> None:
    d, k, r = layer.out_features, layer.in_features, layer.r
    a, b = layer.lora_A.weight.detach().clone(), layer.lora_B.weight.detach().clone()
    merged_before = {n: t.detach().clone() for n, t in merged.state_dict().items()}
    try:
        restored = call_learner(unmerge_linear, merged, a, b, layer.alpha, r,
                                context=f"On a {d}×{k} merged layer (r={r}), unmerge_linear")
    except ExerciseError as error:
        raise _shape_hint(error, d, k, r) from error
    require(type(restored) is nn.Linear,
            f"unmerge_linear returned {type(restored).__name__}; return a plain nn.Linear "
            "holding W0 and the bias.")
    require(all(torch.equal(t, merged_before[n]) for n, t in merged.state_dict().items()),
            "unmerge_linear changed the merged layer it was given (e.g. with -= or sub_). "
            "Return a new nn.Linear and leave the merged one as it was.")
    require(tuple(restored.weight.shape) == (d, k),
            f"The unmerged weight has shape {tuple(restored.weight.shape)}, not W0's "
            f"({d}, {k}).")
    w0 = layer.base_layer.weight.detach()
    weight = restored.weight.detach()
    if not torch.allclose(weight, w0, atol=1e-5):
        if torch.allclose(weight, w0 + 2 * layer.delta_weight().detach(), atol=1e-5):
            raise ExerciseError("You added the update a second time (W + ΔW = W0 + 2·ΔW). "
                                "Unmerging subtracts it: W0 = W − (alpha/r)·B·A.")
        if torch.allclose(weight, merged.weight.detach() - b @ a, atol=1e-5):
            raise ExerciseError("You subtracted B·A without the scaling alpha/r, so part of "
                                "the update is left in the weight.")
        raise ExerciseError("The unmerged weight is not W0. Subtract exactly what merging "
                            "added: W0 = W − (alpha/r)·(B @ A).")
    if layer.base_layer.bias is not None:
        require(restored.bias is not None
                and torch.allclose(restored.bias.detach(), layer.base_layer.bias.detach()),
                "The unmerged layer must keep the bias as it was (merging never changed it).")
    else:
        require(restored.bias is None, "The base layer has no bias; neither may the unmerged "
                                       "layer.")


@checker("write merge_to_linear and unmerge_linear above")
def check_merge_by_hand(merge_to_linear, unmerge_linear) -> str:
    """Check the learner's ``merge_to_linear(layer)`` and ``unmerge_linear(W, A, B, alpha, r)``."""
    cases = [(D, K, R, ALPHA, True, 0), (K, D, 2, 4, False, 1)]  # d×k and k×d, bias or not
    for d, k, r, alpha, bias, seed in cases:
        layer = _trained_layer(d, k, r, alpha, bias, seed)
        x = torch.randn(5, k, generator=torch.Generator().manual_seed(seed + 10))
        merged = _check_merge(merge_to_linear, layer, x)
        _check_unmerge(unmerge_linear, layer, merged)
    return ("merge_to_linear returns a plain nn.Linear with W = W0 + (alpha/r)·B·A and the "
            "bias, computing what the LoRA layer computes; unmerge_linear gives W0 back up to "
            "rounding; neither changes its input (tested on a 6×10 layer with a bias and a "
            "10×6 layer without).")
