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
from .layers import LoRALayer, LoRALinear
from .layers_hf import LoRAConv1D, LoRAEmbedding
from .settings import LoRASettings

# The layer classes inject_lora can put in, each with the kind of module it wraps.
LORA_LAYER_TYPES = (LoRALinear, LoRAConv1D, LoRAEmbedding)
ALL_LINEAR = "all-linear"


def lora_layers(model: nn.Module) -> Iterator[tuple[str, LoRALayer]]:
    """Yield ``(name, layer)`` for every LoRA layer in ``model`` (any kind).

    Introduced in notebook 05, §9.
    """
    for name, module in model.named_modules():
        if isinstance(module, LoRALayer):
            yield name, module


def lora_parameters(model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """Yield ``(name, parameter)`` for the parameters LoRA adds: those of every LoRA layer
    except its frozen ``base_layer`` (``lora_A.weight``, ``lora_embedding_B``, ...).

    Introduced in notebook 03, §11.
    """
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


# PyTorch modules that read a child's weight directly instead of calling the child, so a LoRA
# layer in the child's place is skipped or fails: nn.MultiheadAttention hands out_proj.weight
# to F.multi_head_attention_forward; nn.TransformerEncoderLayer hands linear1.weight and
# linear2.weight to its fast inference path (eval mode).
WEIGHT_READERS = {nn.MultiheadAttention: ("out_proj",),
                  nn.TransformerEncoderLayer: ("linear1", "linear2")}


def _read_directly(modules: dict[str, nn.Module], name: str) -> bool:
    """Whether the parent of ``name`` reads its weight instead of calling it (see above)."""
    parent, _, child = name.rpartition(".")
    return any(isinstance(modules.get(parent), kind) and child in children
               for kind, children in WEIGHT_READERS.items())


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
    """Names of the model's linear layers (``nn.Linear`` and ``Conv1D``), adapted or not.

    Introduced in notebook 07, §7.
    """
    inside = _names_inside_lora_layers(model)
    return [name for name, module in model.named_modules() if name not in inside and (
        _is_linear(module) or isinstance(module, LoRALinear))]


def _describe_adaptable(model: nn.Module, limit: int = 40) -> str:
    """List the modules LoRA can adapt, with their types, for error messages."""
    inside = _names_inside_lora_layers(model)
    modules = dict(model.named_modules())
    found = [(name, type(module).__name__) for name, module in modules.items()
             if name not in inside and not _read_directly(modules, name)
             and (_lora_class_for(module) or isinstance(module, LoRALayer))]
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


def _checked_targets(target_modules: object) -> str | list[str]:
    """``target_modules`` as a sorted list or a valid regex (or "all-linear"), else ValueError."""
    if isinstance(target_modules, (list, tuple, set)):
        if not target_modules or not all(isinstance(t, str) for t in target_modules):
            raise ValueError("target_modules must be a non-empty list of module names or a "
                             f"regex string, got {target_modules!r}.")
        return sorted(target_modules)
    if not isinstance(target_modules, str):
        raise ValueError("target_modules must be a list of module names or a regex string, "
                         f"got {type(target_modules).__name__}.")
    if target_modules.lower() != ALL_LINEAR:
        # Checked here, before any change: re.fullmatch would raise a bare re.error later.
        try:
            re.compile(target_modules)
        except re.error as err:
            raise ValueError(f"target_modules={target_modules!r} is a string, so it is read as "
                             f"a regular expression, but it is not a valid one: {err}. Escape "
                             "special characters (re.escape), or pass a list of module names "
                             "such as ['q_proj', 'v_proj'].") from err
    return target_modules


def select_modules(model: nn.Module, target_modules: str | list[str]) -> list[str]:
    """The names ``target_modules`` selects by PEFT's rules, adapted already or not.

    A LoRA layer counts under its own name; the pieces inside it (its ``base_layer``,
    ``lora_A``, ...) are never selected. Nothing else is checked: see
    :func:`find_target_modules`.

    Introduced in notebook 03, §11.
    """
    target_modules = _checked_targets(target_modules)
    inside = _names_inside_lora_layers(model)
    if isinstance(target_modules, str) and target_modules.lower() == ALL_LINEAR:
        output = _output_layer_name(model)
        return [name for name, module in model.named_modules() if name and name != output
                and name not in inside and (_is_linear(module) or isinstance(module, LoRALinear))]
    return [name for name, _ in model.named_modules()
            if name and name not in inside and _matches(name, target_modules)]


def find_target_modules(model: nn.Module, target_modules: str | list[str]) -> list[str]:
    """Return the names of the modules that ``target_modules`` selects, checking each one.

    Raises ``ValueError`` when a string is not a valid regular expression, when nothing
    matches (listing the modules that LoRA can adapt), when a match is a module LoRA cannot
    adapt, or when it is already adapted.

    Introduced in notebook 03, §11.
    """
    target_modules = _checked_targets(target_modules)
    matched = select_modules(model, target_modules)
    modules = dict(model.named_modules())
    inside = _names_inside_lora_layers(model)
    # The pieces inside an existing LoRA layer are never targets of their own.
    all_linear = isinstance(target_modules, str) and target_modules.lower() == ALL_LINEAR
    matched_inside = [] if all_linear else [n for n in inside if _matches(n, target_modules)]
    if not matched and not matched_inside:
        if all_linear:
            raise ValueError("target_modules='all-linear' found no nn.Linear or Conv1D layer "
                             "(other than the output layer). " + _describe_adaptable(model))
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
    read_directly = [f"{n} (in a {type(modules[n.rpartition('.')[0]]).__name__})"
                     for n in matched if _read_directly(modules, n)]
    if read_directly:
        raise ValueError(
            f"LoRA cannot adapt {', '.join(read_directly)}: the module around it reads its "
            "weight directly instead of calling it (nn.MultiheadAttention always reads "
            "out_proj.weight; nn.TransformerEncoderLayer reads linear1.weight and "
            "linear2.weight on its fast path in eval mode), so a LoRA layer there would be "
            "skipped or fail at the first forward. Target nn.Linear layers that the model's "
            "forward calls instead, e.g. a block written with q_proj, k_proj, v_proj, o_proj, "
            "fc1 and fc2 as the course's models are; or use PEFT, which can adapt a whole "
            "nn.MultiheadAttention (target_modules=['self_attn']). "
            + _describe_adaptable(model))
    return matched


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Put ``new`` where the submodule called ``name`` (``"blocks.0.attn.q_proj"``) is.

    Module surgery in one line: find the parent (``"blocks.0.attn"``; ``""`` is the model
    itself) and set its attribute (``q_proj``) to the new module.

    Introduced in notebook 03, §11.
    """
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name), child, new)


def _memory_of(tensor: torch.Tensor) -> tuple:
    """Tensors with equal keys share memory: the same storage (two Parameters made from one
    tensor's ``.data`` included), or, where there is no storage (``meta``), the same tensor."""
    storage = None if tensor.is_meta else tensor.untyped_storage()
    if storage is None or storage.nbytes() == 0:
        return ("tensor", id(tensor))
    return ("storage", tensor.device, storage.data_ptr())


def shared_weights(model: nn.Module, names: list[str]) -> dict[str, tuple[str, ...]]:
    """For each module in ``names`` whose weight other modules use too, those modules' names.

    "Use too" means sharing memory: the same Parameter (weight tying, as GPT-2's ``lm_head``
    and token embeddings) or two Parameters over one storage. A LoRA layer's weight is its
    ``base_layer``'s. Merging into such a weight would change the other modules as well.

    Introduced in notebook 03, §11.
    """
    owners: dict[tuple, set[str]] = {}
    tensors = [*model.named_parameters(remove_duplicate=False),
               *model.named_buffers(remove_duplicate=False)]
    for tensor_name, tensor in tensors:
        owners.setdefault(_memory_of(tensor), set()).add(tensor_name.rpartition(".")[0])
    modules = dict(model.named_modules())
    shared = {}
    for name in names:
        module = modules[name]
        weight = (module.base_layer if isinstance(module, LoRALayer) else module).weight
        others = tuple(sorted(owner for owner in owners.get(_memory_of(weight), ())
                              if owner != name and not owner.startswith(f"{name}.")))
        if others:
            shared[name] = others
    return shared


def build_lora_layers(model: nn.Module,
                      settings: dict[str, LoRASettings]) -> dict[str, LoRALayer]:
    """Create (not yet install) a LoRA layer for each module name, with that name's settings.

    The model is not changed, even if building fails halfway (a rank too large to allocate):
    building a layer freezes the module it wraps (``LoRALayer.__init__``), so those flags are
    put back here, and :func:`install_lora_layers` freezes them for good. Weights shared with
    other modules are flagged, so that merging them is refused.

    Introduced in notebook 03, §11.
    """
    modules = dict(model.named_modules())
    not_linear = [name for name, s in settings.items()
                  if s.use_dora and not LoRALinear.accepts(modules[name])]
    if not_linear:
        raise ValueError(f"DoRA is built here for nn.Linear layers only, but {not_linear} "
                         "are not; target only nn.Linear modules with use_dora=True.")
    flags = [(param, param.requires_grad) for name in settings
             for param in modules[name].parameters()]
    layers = {}
    try:
        for name, layer_settings in settings.items():
            module = modules[name]
            try:
                layers[name] = _lora_class_for(module, layer_settings.use_dora).from_settings(
                    module, layer_settings)
            except (RuntimeError, MemoryError) as err:
                kind = MemoryError if isinstance(err, MemoryError) else RuntimeError
                raise kind(f"Could not build the LoRA layer for {name} with r="
                           f"{layer_settings.r}; the model was left unchanged, and a smaller "
                           f"r needs less memory. {type(err).__name__}: {err}") from err
    finally:
        for param, requires_grad in flags:
            param.requires_grad_(requires_grad)
    for name, others in shared_weights(model, list(settings)).items():
        layers[name].weight_shared_with = others
    return layers


def install_lora_layers(model: nn.Module, layers: dict[str, LoRALayer]) -> None:
    """Put the layers made by :func:`build_lora_layers` in place of the modules they wrap,
    freezing those modules.

    Warns (as PEFT does) about each weight shared with other modules. The warning comes
    here, at the change, not when building: a caller that builds and then refuses (an
    adapter that does not fit) must not warn about a change it never made.

    Introduced in notebook 03, §11.
    """
    for name, layer in layers.items():
        if layer.weight_shared_with:
            warnings.warn(f"The weight of {name} is shared with {list(layer.weight_shared_with)} "
                          "(weight tying). LoRA on it works unmerged, but merging would change "
                          "those modules too, so merging will be refused. To merge later, "
                          f"untie first: give {name} its own copy of the weight before "
                          "inject_lora.", stacklevel=3)
        layer.base_layer.requires_grad_(False)
        replace_module(model, name, layer)


def inject_lora(model: nn.Module, target_modules: str | list[str], r: int = 8,
                alpha: float = 16, dropout: float = 0.0, use_rslora: bool = False,
                use_dora: bool = False) -> list[str]:
    """Replace the selected modules of ``model`` by LoRA layers, in place.

    ``nn.Linear`` gets a ``LoRALinear``, GPT-2's ``Conv1D`` a ``LoRAConv1D`` and
    ``nn.Embedding`` a ``LoRAEmbedding``. ``use_dora=True`` puts
    :class:`~lora_tutorial.core.dora.DoRALinear` layers in instead (as PEFT's
    ``LoraConfig(use_dora=True)`` does); this package builds DoRA for ``nn.Linear`` only.
    Three steps: find the targets, build their layers, install them. Everything that can
    fail happens before the install, so a failed call leaves the model as it was. Injection
    freezes only the adapted base layers; call :func:`mark_only_lora_as_trainable` to
    freeze everything else too.

    Returns the names of the adapted modules.

    Introduced in notebook 03, §11.
    """
    settings = LoRASettings(r, alpha, dropout, use_rslora, use_dora)
    names = find_target_modules(model, target_modules)
    install_lora_layers(model, build_lora_layers(model, dict.fromkeys(names, settings)))
    return names


def mark_only_lora_as_trainable(model: nn.Module, bias: str = "none") -> None:
    """Freeze every parameter except LoRA's own (``lora_A``/``lora_B``, and DoRA's
    ``lora_magnitude_vector``; loralib's function).

    ``bias``: ``"none"`` freezes all biases, ``"all"`` trains every bias in the model,
    ``"lora_only"`` trains only the biases of the adapted layers.

    Introduced in notebook 03, §11.
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
    """Merge every LoRA layer (``W = W0 + ΔW``). Every layer is checked first
    (:meth:`LoRALayer.merged_weight`): if any would be refused, none is merged.

    Introduced in notebook 06, §3.
    """
    layers = [(name, layer) for name, layer in lora_layers(model) if not layer.merged]
    for name, layer in layers:
        try:
            layer.merged_weight()
        except (RuntimeError, ValueError) as err:
            kind = RuntimeError if isinstance(err, RuntimeError) else ValueError
            raise kind(f"Merging {name or 'the model'} is refused ({err}); no layer was "
                       "merged.") from err
    for _, layer in layers:
        layer.merge()


def unmerge_lora(model: nn.Module) -> None:
    """Undo :func:`merge_lora`: subtract ΔW from every merged layer.

    Introduced in notebook 06, §3.
    """
    for _, layer in lora_layers(model):
        if layer.merged:
            layer.unmerge()


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Merge every LoRA layer and put the plain base layer back in its place.

    The result has no trace of LoRA: the same architecture as the base model, with the
    adapted weights. Returns the model (the base layer itself if ``model`` is a LoRA layer).

    Introduced in notebook 03, §10.
    """
    merge_lora(model)
    if isinstance(model, LoRALayer):
        return model.base_layer
    for name, layer in list(lora_layers(model)):
        replace_module(model, name, layer.base_layer)
    return model


@contextlib.contextmanager
def disable_lora(model: nn.Module):
    """Inside this ``with`` block the model behaves as the base model (LoRA paths off).

    Leaving the block gives every layer back the state it had before, so blocks nest: an
    inner block ending inside an outer one leaves LoRA off.

    Introduced in notebook 06, §8.
    """
    layers = [layer for _, layer in lora_layers(model)]
    if any(layer.merged for layer in layers):
        raise RuntimeError("Cannot disable merged LoRA layers: call unmerge_lora(model) first.")
    before = [(layer, layer.disabled) for layer in layers]
    for layer in layers:
        layer.disabled = True
    try:
        yield model
    finally:
        for layer, disabled in before:
            layer.disabled = disabled
