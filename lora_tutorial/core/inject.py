"""Module surgery: put LoRA layers into a model by name, freeze the rest, merge and unmerge.

A model is a tree of modules with dotted names (``blocks.0.attn.q_proj``). Injecting LoRA is
just replacing some leaves of that tree with a LoRA layer wrapping the leaf:
``LoRALinear`` for ``nn.Linear``, and (``layers_hf``) ``LoRAConv1D`` for GPT-2's ``Conv1D``
and ``LoRAEmbedding`` for ``nn.Embedding``. The rules for choosing leaves are PEFT's, so a
``target_modules`` value means the same thing in both:

* a list of names: a module matches if its full name equals an entry or ends with
  ``"." + entry`` (``"q_proj"`` matches every ``...attn.q_proj``);
* ``"all-linear"``: every ``nn.Linear`` and ``Conv1D`` except the model's output layer
  (the one ``model.get_output_embeddings()`` returns, e.g. a language model's ``lm_head``);
* any other single string: a regular expression that must match the *whole* module name.
"""

import contextlib
import re
import warnings
from collections.abc import Iterator

import torch
from torch import nn

from .dora import DoRALinear
from .layers import LoRALayer, LoRALinear, check_lora_settings
from .layers_hf import LoRAConv1D, LoRAEmbedding

# The layer classes inject_lora can put in, each with the kind of module it wraps.
LORA_LAYER_TYPES = (LoRALinear, LoRAConv1D, LoRAEmbedding)
ALL_LINEAR = "all-linear"


def lora_layers(model: nn.Module) -> Iterator[tuple[str, LoRALayer]]:
    """Yield ``(name, layer)`` for every LoRA layer in ``model`` (any kind)."""
    for name, module in model.named_modules():
        if isinstance(module, LoRALayer):
            yield name, module


def lora_parameters(model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """Yield ``(name, parameter)`` for the parameters LoRA adds: those of every LoRA layer
    except its frozen ``base_layer`` (``lora_A.weight``, ``lora_embedding_B``, ...)."""
    for name, layer in lora_layers(model):
        prefix = f"{name}." if name else ""
        for part, param in layer.named_parameters():
            if not part.startswith("base_layer."):
                yield prefix + part, param


def _lora_class_for(module: nn.Module, use_dora: bool = False) -> type[LoRALayer] | None:
    layer_class = next((cls for cls in LORA_LAYER_TYPES if cls.accepts(module)), None)
    return DoRALinear if use_dora and layer_class is LoRALinear else layer_class


def _is_linear(module: nn.Module) -> bool:
    return LoRALinear.accepts(module) or LoRAConv1D.accepts(module)


def _matches(name: str, target_modules: str | list[str]) -> bool:
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, name) is not None
    return any(name == t or name.endswith("." + t) for t in target_modules)


def _names_inside_lora_layers(model: nn.Module) -> dict[str, str]:
    """Map every module inside a LoRA layer (its base_layer, lora_A, ...) to the layer's name."""
    inside = {}
    for name, layer in lora_layers(model):
        for part, _ in layer.named_modules():
            if part:
                inside[f"{name}.{part}" if name else part] = name
    return inside


def linear_module_names(model: nn.Module) -> list[str]:
    """Names of the model's linear layers (``nn.Linear`` and ``Conv1D``), adapted or not."""
    inside = _names_inside_lora_layers(model)
    return [name for name, module in model.named_modules() if name not in inside and (
        _is_linear(module) or isinstance(module, LoRALinear))]


def _describe_adaptable(model: nn.Module, limit: int = 40) -> str:
    """List the modules LoRA can adapt, with their types, for error messages."""
    inside = _names_inside_lora_layers(model)
    found = [(name, type(module).__name__) for name, module in model.named_modules()
             if name not in inside and (_lora_class_for(module) or isinstance(module, LoRALayer))]
    if not found:
        return ("The model has no nn.Linear, Conv1D or nn.Embedding module that LoRA could "
                "adapt.")
    if found == [("", type(model).__name__)]:
        return (f"The model itself is a single {type(model).__name__}, which has no named "
                "submodules to target: wrap it directly, e.g. LoRALinear(model, r=8, alpha=16).")
    shown = ", ".join(f"{name or '(the model itself)'} ({kind})" for name, kind in found[:limit])
    more = f", ... and {len(found) - limit} more" if len(found) > limit else ""
    leaves = sorted({name.rsplit(".", 1)[-1] for name, _ in found if name})
    return (f"The modules LoRA can adapt are: {shown}{more}. "
            f"Their short names (usable in a list) are: {leaves}.")


def _output_layer_name(model: nn.Module) -> str | None:
    """The name of the model's output layer, as PEFT's "all-linear" finds it."""
    get_output = getattr(model, "get_output_embeddings", None)
    output = get_output() if callable(get_output) else None
    return next((name for name, module in model.named_modules() if module is output), None)


def find_target_modules(model: nn.Module, target_modules: str | list[str]) -> list[str]:
    """Return the names of the modules that ``target_modules`` selects, checking each one.

    Raises ``ValueError`` when a string is not a valid regular expression, when nothing
    matches (listing the modules that LoRA can adapt), when a match is a module LoRA cannot
    adapt, or when it is already adapted.
    """
    if isinstance(target_modules, (list, tuple, set)):
        if not target_modules or not all(isinstance(t, str) for t in target_modules):
            raise ValueError("target_modules must be a non-empty list of module names or a "
                             f"regex string, got {target_modules!r}.")
        target_modules = sorted(target_modules)
    elif not isinstance(target_modules, str):
        raise ValueError("target_modules must be a list of module names or a regex string, "
                         f"got {type(target_modules).__name__}.")
    elif target_modules.lower() != ALL_LINEAR:
        # Checked here, before any change: re.fullmatch would raise a bare re.error later.
        try:
            re.compile(target_modules)
        except re.error as err:
            raise ValueError(f"target_modules={target_modules!r} is a string, so it is read as "
                             f"a regular expression, but it is not a valid one: {err}. Escape "
                             "special characters (re.escape), or pass a list of module names "
                             "such as ['q_proj', 'v_proj'].") from err
    modules = dict(model.named_modules())
    inside = _names_inside_lora_layers(model)
    if isinstance(target_modules, str) and target_modules.lower() == ALL_LINEAR:
        output = _output_layer_name(model)
        matched = [name for name, module in modules.items() if name and name != output
                   and name not in inside and (_is_linear(module)
                                               or isinstance(module, LoRALinear))]
        if not matched:
            raise ValueError("target_modules='all-linear' found no nn.Linear or Conv1D layer "
                             "(other than the output layer). " + _describe_adaptable(model))
    else:
        matched = [name for name in modules if name and _matches(name, target_modules)]
    # The pieces inside an existing LoRA layer are never targets of their own.
    matched_inside = [n for n in matched if n in inside]
    matched = [n for n in matched if n not in inside]
    if not matched and not matched_inside:
        raise ValueError(f"target_modules={target_modules!r} matched no module. "
                         + _describe_adaptable(model))
    already = [n for n in matched if isinstance(modules[n], LoRALayer)]
    already += [inside[n] for n in matched_inside]
    if already:
        raise ValueError(f"Already adapted with LoRA: {sorted(set(already))}. Call "
                         "merge_and_unload(model) first, or pick other target_modules.")
    wrong_type = [f"{n} ({type(modules[n]).__name__})" for n in matched
                  if _lora_class_for(modules[n]) is None]
    if wrong_type:
        raise ValueError(f"LoRA can only adapt nn.Linear, Conv1D and nn.Embedding, but "
                         f"target_modules={target_modules!r} also matched: "
                         f"{', '.join(wrong_type)}. Make the names more specific. "
                         + _describe_adaptable(model))
    return matched


def _replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name), child, new)


def _shared_weights(model: nn.Module, names: list[str]) -> dict[str, tuple[str, ...]]:
    """For each module in ``names`` whose weight other modules use too, those modules' names."""
    owners: dict[int, list[str]] = {}
    for param_name, param in model.named_parameters(remove_duplicate=False):
        owners.setdefault(id(param), []).append(param_name.rpartition(".")[0])
    modules = dict(model.named_modules())
    shared = {}
    for name in names:
        weight = modules[name].weight
        others = tuple(owner for owner in owners.get(id(weight), []) if owner != name)
        if others:
            shared[name] = others
    return shared


def build_lora_layers(model: nn.Module, names: list[str], settings: dict[str, tuple],
                      use_dora: bool = False) -> dict[str, LoRALayer]:
    """Create (not yet insert) a LoRA layer for each name; ``settings[name]`` is
    ``(r, alpha, dropout, use_rslora)``; ``use_dora`` makes the ``nn.Linear`` ones DoRA.

    Weights shared with other modules are flagged, so that merging them is refused;
    :func:`install_lora_layers` warns about them. Building already freezes each wrapped base
    module (``LoRALayer.__init__``): a caller that may still give up must restore the
    ``requires_grad`` flags itself (``load_adapter`` does).
    """
    modules = dict(model.named_modules())
    layers = {name: _lora_class_for(modules[name], use_dora)(modules[name], *settings[name])
              for name in names}
    for name, others in _shared_weights(model, names).items():
        layers[name].weight_shared_with = others
    return layers


def install_lora_layers(model: nn.Module, layers: dict[str, LoRALayer]) -> None:
    """Put the layers made by :func:`build_lora_layers` in place of the modules they wrap.

    Warns (as PEFT does) about each weight shared with other modules. The warning comes
    here, at the change, not when building: a caller that builds and then refuses (an
    adapter that does not fit) must not warn about a change it never made.
    """
    for name, layer in layers.items():
        if layer.weight_shared_with:
            warnings.warn(f"The weight of {name} is shared with {list(layer.weight_shared_with)} "
                          "(weight tying). LoRA on it works unmerged, but merging would change "
                          "those modules too, so merging will be refused. To merge later, "
                          f"untie first: give {name} its own copy of the weight before "
                          "inject_lora.", stacklevel=3)
        _replace_module(model, name, layer)


def inject_lora(model: nn.Module, target_modules: str | list[str], r: int = 8,
                alpha: float = 16, dropout: float = 0.0, use_rslora: bool = False,
                use_dora: bool = False) -> list[str]:
    """Replace the selected modules of ``model`` by LoRA layers, in place.

    ``nn.Linear`` gets a ``LoRALinear``, GPT-2's ``Conv1D`` a ``LoRAConv1D`` and
    ``nn.Embedding`` a ``LoRAEmbedding``. ``use_dora=True`` puts
    :class:`~lora_tutorial.core.dora.DoRALinear` layers in instead (as PEFT's
    ``LoraConfig(use_dora=True)`` does); this package builds DoRA for ``nn.Linear`` only.
    Every check runs before the first replacement, so a failed call leaves the model as it
    was. Injection freezes only the adapted base layers; call
    :func:`mark_only_lora_as_trainable` to freeze everything else too.

    Returns the names of the adapted modules.
    """
    settings = check_lora_settings(r, alpha, dropout, use_rslora)
    names = find_target_modules(model, target_modules)
    if not isinstance(use_dora, bool):
        raise TypeError(f"use_dora must be True or False, got {use_dora!r}.")
    modules = dict(model.named_modules())
    if use_dora:
        not_linear = [name for name in names if not LoRALinear.accepts(modules[name])]
        if not_linear:
            raise ValueError(f"DoRA is built here for nn.Linear layers only, but {not_linear} "
                             "are not; target only nn.Linear modules with use_dora=True.")
    install_lora_layers(model, build_lora_layers(model, names,
                                                 {name: settings for name in names},
                                                 use_dora=use_dora))
    return names


def mark_only_lora_as_trainable(model: nn.Module, bias: str = "none") -> None:
    """Freeze every parameter except LoRA's own (``lora_A``/``lora_B``, and DoRA's
    ``lora_magnitude_vector``; loralib's function).

    ``bias``: ``"none"`` freezes all biases, ``"all"`` trains every bias in the model,
    ``"lora_only"`` trains only the biases of the adapted layers.
    """
    if bias not in ("none", "all", "lora_only"):
        raise ValueError(f"bias must be 'none', 'all' or 'lora_only', got {bias!r}.")
    lora = {id(param) for _, param in lora_parameters(model)}
    for name, param in model.named_parameters():
        param.requires_grad = id(param) in lora
        if bias == "all" and name.rsplit(".", 1)[-1] == "bias":
            param.requires_grad = True
    if bias == "lora_only":
        for _, layer in lora_layers(model):
            if getattr(layer.base_layer, "bias", None) is not None:
                layer.base_layer.bias.requires_grad = True


def merge_lora(model: nn.Module) -> None:
    """Merge every LoRA layer (``W = W0 + ΔW``). Every layer is checked first (finite
    result, real device, no weight shared with other modules): if any would fail, none is
    merged."""
    layers = [(name, layer) for name, layer in lora_layers(model) if not layer.merged]
    for name, layer in layers:
        weight = layer.base_layer.weight
        if weight.is_meta or layer.weight_shared_with:
            error = RuntimeError
        else:
            with torch.no_grad():
                finite = bool(torch.isfinite(weight + layer.delta_weight()).all())
            if finite:
                continue
            error = ValueError
        reason = ("its weights are on the meta device (shapes, no values)" if weight.is_meta
                  else f"its weight is shared with {list(layer.weight_shared_with)}"
                  if layer.weight_shared_with else "it would produce non-finite weights")
        raise error(f"Merging {name or 'the model'} is refused: {reason}; no layer was merged. "
                    "Call merge() on that layer for the details.")
    for _, layer in layers:
        layer.merge()


def unmerge_lora(model: nn.Module) -> None:
    """Undo :func:`merge_lora`: subtract ΔW from every merged layer."""
    for _, layer in lora_layers(model):
        if layer.merged:
            layer.unmerge()


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Merge every LoRA layer and put the plain base layer back in its place.

    The result has no trace of LoRA: the same architecture as the base model, with the
    adapted weights. Returns the model (the base layer itself if ``model`` is a LoRA layer).
    """
    merge_lora(model)
    if isinstance(model, LoRALayer):
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
