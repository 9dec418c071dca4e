"""Checker for notebook 6's exercise: merge a LoRA update into the frozen weight.

The learner writes ``merge_weights(W0, A, B, alpha, r) -> W`` where ``W0`` is the frozen
weight (d×k), ``A`` is r×k and ``B`` is d×r. It must return the merged weight

    W = W0 + (alpha / r) · B·A

as a *new* tensor, leaving ``W0`` untouched: the base weight is shared by every adapter, and
keeping it intact is what makes unmerging and swapping adapters possible.

:func:`check_merge_weights` runs it on a non-square layer (so that mixing up the order of
the factors shows up as a shape error) and names the usual mistakes.
"""

import torch
from torch import nn

from . import ExerciseError, call_learner, checker
from ...core.layers import LoRALinear

D, K, R, ALPHA = 6, 10, 3, 12  # non-square, r ≠ d, k, and alpha/r = 4 differs from 1 and r/alpha


def _factors(d: int, k: int, r: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    w0 = torch.randn(d, k, generator=generator)
    a = torch.randn(r, k, generator=generator) / k ** 0.5
    b = torch.randn(d, r, generator=generator) * 0.5
    return w0, a, b


def _call(fn, w0, a, b, alpha, r):
    d, k = w0.shape
    try:
        return call_learner(fn, w0, a, b, alpha, r,
                            context=f"merge_weights(W0, A, B, alpha={alpha}, r={r})")
    except ExerciseError as error:
        cause = str(error.__cause__)
        if "shapes cannot be multiplied" in cause or "size mismatch" in cause:
            raise ExerciseError(f"Your function raised a shape error ({cause}). The order of the "
                                f"factors matters: A is r×k = {tuple(a.shape)} and B is d×r = "
                                f"{tuple(b.shape)}, so A @ B multiplies ({r}×{k})·({d}×{r}), "
                                f"which only fits when k = d. The update is B @ A: "
                                f"({d}×{r})·({r}×{k}) = {d}×{k}, the shape of W0.")
        raise


@checker("write merge_weights above")
def check_merge_weights(fn) -> str:
    """Check ``merge_weights(W0, A, B, alpha, r)``; raise ``ExerciseError`` with advice."""
    w0, a, b = _factors(D, K, R, seed=0)
    w0_before, a_before, b_before = w0.clone(), a.clone(), b.clone()
    result = _call(fn, w0, a, b, ALPHA, R)

    if not isinstance(result, torch.Tensor):
        raise ExerciseError(f"merge_weights should return the merged weight as a tensor, got "
                            f"{type(result).__name__}. Did you forget the return statement?")
    changed_w0 = not torch.equal(w0, w0_before)
    if result is w0 or changed_w0:
        raise ExerciseError("Your function changed W0 in place (e.g. with W0 += ... or "
                            "W0.add_(...)). Merge into a new tensor (W = W0 + ...) and leave W0 "
                            "alone: one frozen base is shared by every task adapter, and a base "
                            "that was silently modified can no longer be unmerged, disabled or "
                            "given another adapter.")
    if not (torch.equal(a, a_before) and torch.equal(b, b_before)):
        raise ExerciseError("Your function changed A or B. Merging only reads the factors; keep "
                            "them as they are so that the merge can be undone (unmerge subtracts "
                            "the same B·A).")
    if tuple(result.shape) != (D, K):
        if tuple(result.shape) == (K, D):
            raise ExerciseError(f"Your result has shape {tuple(result.shape)}, the transpose of "
                                f"W0's ({D}, {K}). PyTorch stores a weight as out×in (d×k), and "
                                f"the update " "B·A already has that shape: no .T is needed.")
        raise ExerciseError(f"Your result has shape {tuple(result.shape)}, but the merged weight "
                            f"must have W0's shape ({D}, {K}): W = W0 + (alpha/r)·B·A.")

    update = b @ a
    candidates = {
        "right": w0 + (ALPHA / R) * update,
        "no scaling": w0 + update,
        "inverted": w0 + (R / ALPHA) * update,
        "rslora": w0 + (ALPHA / R ** 0.5) * update,
        "alpha only": w0 + ALPHA * update,
        "no base": (ALPHA / R) * update,
        "subtracted": w0 - (ALPHA / R) * update,
        "twice": w0 + 2 * (ALPHA / R) * update,
        "unchanged": w0,
    }
    found = next((name for name, value in candidates.items()
                  if torch.allclose(result, value, atol=1e-5)), None)
    messages = {
        "no scaling": f"You forgot the scaling: W0 + B·A. The LoRA layer multiplies its "
                      f"update by alpha/r (here {ALPHA}/{R} = {ALPHA / R:g}), so the merged "
                      "weight must too, or the merged model computes something else.",
        "inverted": f"Your scaling is upside down: r/alpha instead of alpha/r = "
                    f"{ALPHA / R:g}.",
        "rslora": "You scaled by alpha/√r (rsLoRA's rule). This layer uses alpha/r "
                  f"(here {ALPHA / R:g}); merge with the scaling the layer was trained with.",
        "alpha only": "You multiplied by alpha but did not divide by r: the scaling is "
                      f"alpha/r = {ALPHA / R:g}.",
        "no base": "Your result is only the update (alpha/r)·B·A: add W0. Merging folds the "
                   "update *into* the pretrained weight; without W0 the model forgets "
                   "everything it learned in pretraining.",
        "subtracted": "You subtracted the update: that is unmerging. Merging adds it.",
        "twice": "Your result holds the update twice (W0 + 2·ΔW). Add it once.",
        "unchanged": "Your result equals W0: the update was never added.",
    }
    if found != "right":
        raise ExerciseError(messages.get(found, "Your result does not equal W0 + "
                                         "(alpha/r)·B·A. Check the order of the factors (B @ A) "
                                         "and the scaling."))

    # A square layer: here A @ B would not raise, so test a second case; alpha/r = 5/2 is
    # not a whole number, so integer division (alpha // r = 2) shows up too.
    w0, a, b = _factors(8, 8, 2, seed=1)
    result = _call(fn, w0.clone(), a, b, 5, 2)
    if (not torch.is_tensor(result) or tuple(result.shape) != (8, 8)
            or not torch.allclose(result, w0 + 2.5 * b @ a, atol=1e-5)):
        if torch.is_tensor(result) and torch.allclose(result, w0 + 2 * b @ a, atol=1e-5):
            raise ExerciseError("With alpha=5 and r=2 your scaling is 2, not 5/2 = 2.5: "
                                "alpha // r is integer division, which drops the fraction. "
                                "Use alpha / r.")
        raise ExerciseError("Your function fails on a square 8×8 layer with r=2, alpha=5. Use "
                            "only W0, A, B, alpha and r (no fixed sizes) and compute W0 + "
                            "(alpha/r)·(B @ A).")

    # The merged weight in a plain nn.Linear gives the LoRA layer's outputs.
    generator = torch.Generator().manual_seed(2)
    layer = LoRALinear(nn.Linear(K, D), r=R, alpha=ALPHA)
    with torch.no_grad():
        for p in layer.parameters():  # the checker's own values, not the global stream's
            p.copy_(torch.randn(p.shape, generator=generator) / K ** 0.5)
        layer.lora_B.weight.copy_(0.5 * torch.randn(D, R, generator=generator))
        merged = nn.Linear(K, D)
        merged.weight.copy_(_call(fn, layer.base_layer.weight.detach().clone(),
                                  layer.lora_A.weight.detach(), layer.lora_B.weight.detach(),
                                  ALPHA, R))
        merged.bias.copy_(layer.base_layer.bias)
        x = torch.randn(5, K, generator=generator)
        if not torch.allclose(merged(x), layer(x), atol=1e-5):
            raise ExerciseError("An nn.Linear holding your merged weight does not reproduce the "
                                "LoRA layer's outputs. Check the order B @ A and the scaling "
                                "alpha/r.")
    return ("W = W0 + (alpha/r)·B·A has W0's shape (d×k), W0 is left untouched, and a plain "
            "nn.Linear with W computes what the LoRA layer computes.")
