"""Module surgery: put LoRA layers into a model by name, freeze the rest, merge and unmerge.

A model is a tree of modules with dotted names (``blocks.0.attn.q_proj``). Injecting LoRA is
just replacing some ``nn.Linear`` leaves of that tree with ``LoRALinear(leaf)``. The rules
for choosing leaves are PEFT's, so a ``target_modules`` value means the same thing in both:

* a list of names: a module matches if its full name equals an entry or ends with
  ``"." + entry`` (``"q_proj"`` matches every ``...attn.q_proj``);
* a single string: a regular expression that must match the *whole* module name.
"""

import contextlib
import re
from collections.abc import Iterator

import torch
from torch import nn

from .dora import DoRALinear
from .layers import LoRALinear


def lora_layers(model: nn.Module) -> Iterator[tuple[str, LoRALinear]]:
    """Yield ``(name, layer)`` for every LoRA layer in ``model``."""
    for name, module in model.named_modules():
        if isinstance(module, LoRALinear):
            yield name, module


def _matches(name: str, target_modules: str | list[str]) -> bool:
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, name) is not None
    return any(name == t or name.endswith("." + t) for t in target_modules)


def linear_module_names(model: nn.Module) -> list[str]:
    """Names of the model's linear layers: plain ``nn.Linear`` and ones already adapted."""
    inside_lora = {f"{name}.{child}" for name, _ in lora_layers(model)
                   for child in ("base_layer", "lora_A", "lora_B")}
    return [name for name, module in model.named_modules()
            if isinstance(module, (nn.Linear, LoRALinear)) and name not in inside_lora]


def _describe_linear_names(model: nn.Module, limit: int = 40) -> str:
    names = linear_module_names(model)
    shown = ", ".join(names[:limit])
    more = f", ... and {len(names) - limit} more" if len(names) > limit else ""
    leaves = sorted({n.rsplit(".", 1)[-1] for n in names})
    return (f"The model's nn.Linear modules are: {shown}{more}. "
            f"Their short names (usable in a list) are: {leaves}.")


def find_target_modules(model: nn.Module, target_modules: str | list[str]) -> list[str]:
    """Return the names of the modules that ``target_modules`` selects, checking each one.

    Raises ``ValueError`` when nothing matches (listing the ``nn.Linear`` names that exist),
    when a match is not an ``nn.Linear``, or when it is already adapted.
    """
    if isinstance(target_modules, (list, tuple, set)):
        if not target_modules or not all(isinstance(t, str) for t in target_modules):
            raise ValueError("target_modules must be a non-empty list of module names or a "
                             f"regex string, got {target_modules!r}.")
        target_modules = sorted(target_modules)
    elif not isinstance(target_modules, str):
        raise ValueError("target_modules must be a list of module names or a regex string, "
                         f"got {type(target_modules).__name__}.")
    modules = dict(model.named_modules())
    lora_names = {name for name, _ in lora_layers(model)}
    matched = [name for name in modules if name and _matches(name, target_modules)]
    # The pieces inside an existing LoRA layer are never targets of their own.
    matched_inside = [n for n in matched if n.rsplit(".", 1)[0] in lora_names]
    matched = [n for n in matched if n not in matched_inside]
    if not matched and not matched_inside:
        raise ValueError(f"target_modules={target_modules!r} matched no module. "
                         + _describe_linear_names(model))
    already = [n for n in matched if n in lora_names] + [n.rsplit(".", 1)[0]
                                                         for n in matched_inside]
    if already:
        raise ValueError(f"Already adapted with LoRA: {sorted(set(already))}. Call "
                         "merge_and_unload(model) first, or pick other target_modules.")
    wrong_type = [f"{n} ({type(modules[n]).__name__})" for n in matched
                  if not isinstance(modules[n], nn.Linear)]
    if wrong_type:
        raise ValueError(f"LoRALinear can only adapt nn.Linear, but target_modules="
                         f"{target_modules!r} also matched: {', '.join(wrong_type)}. "
                         "Make the names more specific. " + _describe_linear_names(model))
    return matched


def _replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name), child, new)


def inject_lora(model: nn.Module, target_modules: str | list[str], r: int = 8,
                alpha: float = 16, dropout: float = 0.0, use_rslora: bool = False,
                use_dora: bool = False) -> list[str]:
    """Replace the selected ``nn.Linear`` modules of ``model`` by ``LoRALinear``, in place.

    ``use_dora=True`` puts :class:`~lora_tutorial.dora.DoRALinear` layers in instead (as
    PEFT's ``LoraConfig(use_dora=True)`` does).

    Every check runs before the first replacement, so a failed call leaves the model as it
    was. Injection freezes only the adapted base layers; call
    :func:`mark_only_lora_as_trainable` to freeze everything else too.

    Returns the names of the adapted modules.
    """
    names = find_target_modules(model, target_modules)
    modules = dict(model.named_modules())
    layer_class = DoRALinear if use_dora else LoRALinear
    adapted = {name: layer_class(modules[name], r, alpha, dropout, use_rslora) for name in names}
    for name, layer in adapted.items():
        _replace_module(model, name, layer)
    return names


def mark_only_lora_as_trainable(model: nn.Module, bias: str = "none") -> None:
    """Freeze every parameter except LoRA's ``lora_A``/``lora_B`` (loralib's function),
    and DoRA's ``lora_magnitude_vector``.

    ``bias``: ``"none"`` freezes all biases, ``"all"`` trains every bias in the model,
    ``"lora_only"`` trains only the biases of the adapted layers.
    """
    if bias not in ("none", "all", "lora_only"):
        raise ValueError(f"bias must be 'none', 'all' or 'lora_only', got {bias!r}.")
    for name, param in model.named_parameters():
        param.requires_grad = any(key in name for key in ("lora_A", "lora_B",
                                                          "lora_magnitude_vector"))
        if bias == "all" and name.rsplit(".", 1)[-1] == "bias":
            param.requires_grad = True
    if bias == "lora_only":
        for _, layer in lora_layers(model):
            if layer.base_layer.bias is not None:
                layer.base_layer.bias.requires_grad = True


def merge_lora(model: nn.Module) -> None:
    """Merge every LoRA layer (``W = W0 + ΔW``); refuses before changing anything if any
    merge would produce non-finite weights."""
    layers = [(name, layer) for name, layer in lora_layers(model) if not layer.merged]
    with torch.no_grad():
        for name, layer in layers:
            if not torch.isfinite(layer.base_layer.weight + layer.delta_weight()).all():
                raise ValueError(f"Merging {name} would produce non-finite weights; no layer "
                                 "was merged.")
    for _, layer in layers:
        layer.merge()


def unmerge_lora(model: nn.Module) -> None:
    """Undo :func:`merge_lora`: subtract ΔW from every merged layer."""
    for _, layer in lora_layers(model):
        if layer.merged:
            layer.unmerge()


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Merge every LoRA layer and put the plain ``nn.Linear`` back in its place.

    The result has no trace of LoRA: the same architecture as the base model, with the
    adapted weights. Returns the model (the base layer itself if ``model`` is a LoRA layer).
    """
    merge_lora(model)
    if isinstance(model, LoRALinear):
        return model.base_layer
    for name, layer in list(lora_layers(model)):
        _replace_module(model, name, layer.base_layer)
    return model


@contextlib.contextmanager
def disable_lora(model: nn.Module):
    """Inside this ``with`` block the model behaves as the base model (LoRA paths off)."""
    layers = [layer for _, layer in lora_layers(model)]
    if any(layer.merged for layer in layers):
        raise RuntimeError("Cannot disable merged LoRA layers: call unmerge_lora(model) first.")
    for layer in layers:
        layer.disabled = True
    try:
        yield model
    finally:
        for layer in layers:
            layer.disabled = False
