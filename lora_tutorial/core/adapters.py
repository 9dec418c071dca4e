"""Save and load just the adapter: a few small tensors and a JSON config, in PEFT's format.

A LoRA checkpoint holds only what LoRA added to each adapted layer (``lora_A`` and
``lora_B``; ``lora_embedding_A``/``_B`` for embeddings), so one base model can serve many
tasks, each a small file. The files are exactly what Hugging Face PEFT writes with
``save_pretrained``, so either side can load the other's:

* ``adapter_model.safetensors``: tensors named ``base_model.model.<module>.lora_A.weight``
  and so on. safetensors stores raw numbers only, so loading a file can never run code
  (unlike pickle-based ``torch.save`` files).
* ``adapter_config.json``: ``r``, ``lora_alpha``, ``target_modules`` and friends, and
  PEFT's ``rank_pattern``/``alpha_pattern`` for layers whose rank or alpha differ.

DoRA layers (:mod:`lora_tutorial.core.dora`) add one vector per module,
``<module>.lora_magnitude_vector``, and ``"use_dora": true`` in the config, as in PEFT.

Loading trusts nothing: every field of the config is checked before the model is touched,
and a setting this package cannot honour exactly is refused, never ignored.
"""

import collections
import json
import re
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..common.files import write_files
from .inject import (build_lora_layers, find_target_modules, install_lora_layers, lora_layers,
                     lora_parameters, select_modules, shared_weights)
from .layers import LoRALayer, LoRALinear
from .layers_hf import LoRAEmbedding
from .settings import LoRASettings

WEIGHTS_NAME = "adapter_model.safetensors"
CONFIG_NAME = "adapter_config.json"
PEFT_PREFIX = "base_model.model."

# Config fields that describe the adapter but do not change what loading computes.
INFORMATIONAL_FIELDS = {"peft_type", "task_type", "base_model_name_or_path", "revision",
                        "inference_mode", "init_lora_weights", "peft_version", "auto_mapping",
                        "megatron_core", "qalora_group_size", "runtime_config"}
# Fields this package reads and honours.
HONOURED_FIELDS = {"r", "lora_alpha", "lora_dropout", "use_rslora", "target_modules",
                   "fan_in_fan_out", "bias", "rank_pattern", "alpha_pattern", "use_dora"}


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the LoRA tensors, keyed by PEFT's checkpoint names.

    Introduced in notebook 06, §5.
    """
    return {PEFT_PREFIX + name: param for name, param in lora_parameters(model)}


def _target_modules_for_config(model: nn.Module, names: list[str]) -> list[str]:
    """Short names (``q_proj``) when they select exactly the adapted modules, else full names."""
    short = sorted({n.rsplit(".", 1)[-1] for n in names})
    everything = [n for n, _ in model.named_modules()]
    selected = {n for n in everything if any(n == s or n.endswith("." + s) for s in short)}
    return short if selected == set(names) else sorted(names)


def _most_common(values: list) -> object:
    return collections.Counter(values).most_common(1)[0][0]


def _shared_setting(layers: dict, what: str, read) -> object:
    values = {read(layer) for layer in layers.values()}
    if len(values) != 1:
        raise ValueError(f"All LoRA layers must share one {what} to be saved as one "
                         f"adapter; found {sorted(values)}.")
    return values.pop()


def adapter_config(model: nn.Module, base_model_name_or_path: str | None = None) -> dict:
    """The ``adapter_config.json`` that describes the model's LoRA layers, as PEFT writes it.

    The most common rank and alpha become ``r`` and ``lora_alpha``; layers that differ are
    listed in PEFT's ``rank_pattern``/``alpha_pattern`` by their full (escaped) names.

    Introduced in notebook 06, §6.
    """
    layers = dict(lora_layers(model))
    if not layers:
        raise ValueError("The model has no LoRA layers to save; call inject_lora first.")
    settings = {name: layer.settings for name, layer in layers.items()}
    dora = _shared_setting(settings, "layer type (LoRA or DoRA)", lambda s: s.use_dora)
    r = _most_common([s.r for s in settings.values()])
    alpha = _most_common([s.alpha for s in settings.values()])
    patterns = {
        "rank_pattern": {re.escape(n): s.r for n, s in settings.items() if s.r != r},
        "alpha_pattern": {re.escape(n): s.alpha for n, s in settings.items() if s.alpha != alpha},
    }
    return {
        "peft_type": "LORA",
        "task_type": None,
        "base_model_name_or_path": base_model_name_or_path,
        "r": r,
        "lora_alpha": alpha,
        # Written only when some layer differs; PEFT reads a missing pattern as empty.
        **{key: pattern for key, pattern in patterns.items() if pattern},
        "lora_dropout": _shared_setting(settings, "dropout", lambda s: s.dropout),
        "use_rslora": _shared_setting(settings, "use_rslora", lambda s: s.use_rslora),
        "target_modules": _target_modules_for_config(model, list(layers)),
        "bias": "none",
        # PEFT sets this per layer type anyway (True for Conv1D, False for nn.Linear).
        "fan_in_fan_out": any(isinstance(layer, LoRALinear) and layer.fan_in_fan_out
                              for layer in layers.values()),
        "init_lora_weights": True,
        "inference_mode": True,
        "modules_to_save": None,
        # PEFT's key, written only for DoRA: a config without it means plain LoRA.
        **({"use_dora": True} if dora else {}),
    }


def save_adapter(model: nn.Module, directory: str | Path,
                 base_model_name_or_path: str | None = None) -> Path:
    """Write the model's adapter to ``directory`` (created if needed); return the path.

    Both files are written to temporary files first and then moved into place
    (:func:`~lora_tutorial.common.files.write_files`), so an error leaves the previous
    adapter (or none), never half of each; only a crash of the machine between the two
    final renames, microseconds apart, could. A config or weights file that is a symlink is
    replaced by a regular file; the file it pointed to is not touched.

    Introduced in notebook 06, §5.
    """
    config = adapter_config(model, base_model_name_or_path)
    lora = {id(param) for _, param in lora_parameters(model)}
    not_saved = [name for name, p in model.named_parameters()
                 if p.requires_grad and id(p) not in lora]
    if not_saved:
        warnings.warn(f"Only the LoRA tensors are saved, but these parameters are trainable "
                      f"too and will not be in the adapter: {not_saved[:5]}"
                      f"{' ...' if len(not_saved) > 5 else ''}. Call "
                      "mark_only_lora_as_trainable(model) before training if that is not "
                      "intended.", stacklevel=2)
    tensors = {key: t.detach().contiguous().cpu() for key, t in lora_state_dict(model).items()}
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        file = next(p for p in (directory, *directory.parents) if p.exists() and not p.is_dir())
        raise NotADirectoryError(
            f"Cannot save the adapter to {directory}: {file} is a file, not a folder. An "
            f"adapter is a folder holding {CONFIG_NAME} and {WEIGHTS_NAME}; pass the path of "
            "a folder (it is created if needed). Nothing was written.") from err
    write_files(directory, {
        WEIGHTS_NAME: lambda path: save_file(tensors, path, metadata={"format": "pt"}),
        CONFIG_NAME: lambda path: path.write_text(json.dumps(config, indent=2) + "\n"),
    })
    return directory


@dataclass(frozen=True)
class AdapterSettings:
    """What an ``adapter_config.json`` asks for, checked: which modules, and their settings.

    ``settings`` holds ``r``, ``lora_alpha``, ``lora_dropout``, ``use_rslora`` and
    ``use_dora``; PEFT's ``rank_pattern``/``alpha_pattern`` give some modules another rank or
    alpha, which :meth:`for_module` applies.

    Introduced in notebook 06, §7.
    """

    settings: LoRASettings
    target_modules: str | list[str]
    rank_pattern: dict
    alpha_pattern: dict

    def for_module(self, name: str) -> LoRASettings:
        """The settings of the module ``name``. PEFT's rule: the first pattern that matches
        the end of the name (at a dot) wins."""
        return replace(self.settings, r=_from_pattern(self.rank_pattern, name, self.settings.r),
                       alpha=_from_pattern(self.alpha_pattern, name, self.settings.alpha))


def _from_pattern(pattern: dict, name: str, default: object) -> object:
    for key, value in pattern.items():
        if re.match(rf"(.*\.)?({key})$", name):
            return value
    return default


def _is_off(value: object) -> bool:
    return value is None or value is False or value == {} or value == [] or value == ""


def _pattern(config: dict, field: str, check) -> dict:
    value = config.get(field) or {}
    if not isinstance(value, dict):
        raise ValueError(f"{field} must be a mapping from module-name patterns to values, "
                         f"got {value!r}.")
    for key, item in value.items():
        try:
            re.compile(key)
        except re.error as err:
            raise ValueError(f"{field} has an invalid pattern {key!r}: {err}.") from err
        check(item)
    return value


def _json_flag(config: dict, field: str) -> bool:
    """A PEFT flag that is JSON's ``true`` or ``false`` (absent means false)."""
    value = config.get(field, False)
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be true or false, got {value!r}.")
    return value


def check_adapter_config(config: object) -> AdapterSettings:
    """Check every field of an adapter config; return the settings this package uses.

    Raises ``ValueError`` naming the first field that is missing, has a wrong type or value,
    or asks for something this package cannot do exactly (e.g. bias tensors).

    Introduced in notebook 06, §7.
    """
    if not isinstance(config, dict):
        raise ValueError(f"the config must be a JSON object, got a {type(config).__name__}.")
    if config.get("peft_type", "LORA") != "LORA":
        raise ValueError(f"it holds a {config['peft_type']!r} adapter, not LoRA.")
    missing = [key for key in ("r", "lora_alpha", "target_modules") if key not in config]
    if missing:
        raise ValueError(f"required fields are missing: {missing}.")
    _json_flag(config, "fan_in_fan_out")            # honoured by the layer type (Conv1D)
    settings = LoRASettings(config["r"], config["lora_alpha"], config.get("lora_dropout", 0.0),
                            config.get("use_rslora", False), _json_flag(config, "use_dora"))
    target_modules = config["target_modules"]
    if not (isinstance(target_modules, str) or (
            isinstance(target_modules, list) and target_modules
            and all(isinstance(t, str) for t in target_modules))):
        raise ValueError(f"target_modules must be a non-empty list of names or a regex "
                         f"string, got {target_modules!r}.")
    if config.get("bias", "none") != "none":
        raise ValueError(f"bias={config['bias']!r} adapters also train and save biases; only "
                         "bias='none' is supported here.")
    rank_pattern = _pattern(config, "rank_pattern", lambda v: replace(settings, r=v))
    alpha_pattern = _pattern(config, "alpha_pattern", lambda v: replace(settings, alpha=v))
    not_supported = [f"{key}={value!r}" for key, value in config.items()
                     if key not in INFORMATIONAL_FIELDS | HONOURED_FIELDS and not _is_off(value)]
    if not_supported:
        raise ValueError(f"it uses settings this package does not implement: "
                         f"{', '.join(not_supported)}. Load it with PEFT instead.")
    return AdapterSettings(settings, target_modules, rank_pattern, alpha_pattern)


def _read(directory: Path) -> tuple[dict, AdapterSettings, dict[str, torch.Tensor]]:
    """The config as written, its checked settings, and the tensors (all finite)."""
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory} is a file, not an adapter folder; an adapter "
                                 f"folder holds {CONFIG_NAME} and {WEIGHTS_NAME}.")
    for needed in (CONFIG_NAME, WEIGHTS_NAME):
        if not (directory / needed).is_file():
            raise FileNotFoundError(f"{directory} has no {needed}; an adapter directory needs "
                                    f"{CONFIG_NAME} and {WEIGHTS_NAME}.")
    config_path, weights_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        adapter = check_adapter_config(config)
    except json.JSONDecodeError as err:
        raise ValueError(f"{config_path} is not valid JSON: {err}.") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{config_path} is not a text file (not UTF-8): {err}.") from err
    except ValueError as err:
        raise ValueError(f"{config_path}: {err}") from err
    try:
        tensors = load_file(weights_path)
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{weights_path} is not a readable safetensors file (truncated, or "
                         f"another format): {err}.") from err
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(f"{weights_path} holds non-finite values (inf or NaN) in {key}: "
                             "loaded, it would turn the model's outputs into inf/NaN. "
                             "Re-export the adapter from a model without them.")
    # PEFT drops the adapter name ("default") from keys when it saves, as we do.
    return config, adapter, tensors


def read_adapter(directory: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read and check an adapter's config and tensors without touching any model.

    Returns the config as written and the tensors. Any problem is a ``ValueError`` (or
    ``FileNotFoundError``) that names the file: a config that is not JSON or not an object
    or has a wrong field, a weights file that is not safetensors, a tensor with inf or NaN.

    Introduced in notebook 06, §7.
    """
    config, _, tensors = _read(Path(directory))
    return config, tensors


def _check_fits(tensors: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]],
                optional: dict[str, tuple[int, ...]], directory: Path) -> None:
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected) - set(optional))
    expected = expected | {key: shape for key, shape in optional.items() if key in tensors}
    if missing or unexpected:
        raise ValueError(f"The adapter in {directory} does not fit this model. Missing "
                         f"tensors: {missing or 'none'}. Tensors the model has no place for: "
                         f"{unexpected or 'none'}.")
    for key, shape in expected.items():
        if tuple(tensors[key].shape) != shape:
            raise ValueError(f"Shape mismatch for {key}: the adapter has "
                             f"{tuple(tensors[key].shape)}, the model needs {shape}. Was it "
                             "trained with another rank r or for another model?")


def _expected_tensors(layers: dict) -> tuple[dict, dict]:
    """The tensors the adapter must hold for these layers, and those it may hold, by shape."""
    expected, optional = {}, {}
    for name, layer in layers.items():
        for part, param in layer.named_parameters():
            if not part.startswith("base_layer."):
                expected[f"{PEFT_PREFIX}{name}.{part}"] = tuple(param.shape)
        if isinstance(layer, LoRAEmbedding):
            # PEFT also saves the whole table of an adapted embedding (the vocabulary may
            # have been resized for the task) and loads it into the base; so do we.
            table = layer.base_layer.weight
            optional[f"{PEFT_PREFIX}{name}.base_layer.weight"] = tuple(table.shape)
    return expected, optional


def _check_kinds(adapter: AdapterSettings, dora: list[bool]) -> None:
    """The layers to load into (``dora``: which are, or can be built as, DoRA) must all be of
    the kind the file describes (LoRA or DoRA)."""
    if set(dora) != {adapter.settings.use_dora}:
        kind = "a DoRA" if adapter.settings.use_dora else "a plain LoRA"
        raise ValueError(f"it describes {kind} adapter, but the layers it would load into are "
                         "not all of that kind (DoRA is built here for nn.Linear only); load it "
                         "into a fresh base model, or with PEFT.")


def _check_same_layers(model: nn.Module, layers: dict[str, LoRALayer],
                       adapter: AdapterSettings) -> None:
    """The file's target_modules and ranks must describe the model's LoRA layers exactly.

    Its alpha, rsLoRA and dropout are the file's to set (that is swapping adapters), but the
    modules and the ranks are the layers' shapes: a file that disagrees was made for
    other layers, and loading it anyway would scale by the layers' r, not by its own.
    """
    selected = select_modules(model, adapter.target_modules)
    if set(selected) != set(layers):
        raise ValueError(f"its target_modules={adapter.target_modules!r} selects "
                         f"{sorted(selected)} in this model, but the model's LoRA layers are "
                         f"{sorted(layers)}. Load it into a fresh base model, or call "
                         "merge_and_unload(model) first.")
    ranks = [f"{name} (file r={adapter.for_module(name).r}, layer r={layer.r})"
             for name, layer in layers.items() if adapter.for_module(name).r != layer.r]
    if ranks:
        raise ValueError(f"its ranks disagree with the model's LoRA layers: {', '.join(ranks)}. "
                         "The scaling alpha/r must use the file's r; load it into a fresh "
                         "base model, or call merge_and_unload(model) first.")


def _tables_to_replace(model: nn.Module, layers: dict, tensors: dict,
                       directory: Path) -> dict[str, torch.Tensor]:
    """The embedding tables in the adapter that differ from the model's, by layer name.

    Loading such a table replaces ``W0`` itself, which LoRA otherwise never touches. A table
    that other modules share (a language model's ``lm_head`` tied to its token embeddings,
    or any Parameter over the same memory) is refused: replacing it would change those
    modules too. A table equal to the model's changes nothing, so it is neither loaded nor
    refused.
    """
    tables = {}
    for name, layer in layers.items():
        key = f"{PEFT_PREFIX}{name}.base_layer.weight"
        if not isinstance(layer, LoRAEmbedding) or key not in tensors:
            continue
        weight = layer.base_layer.weight
        if torch.equal(tensors[key].to(weight.device, weight.dtype), weight):
            continue
        others = list(shared_weights(model, [name]).get(name, ()))
        if others:
            raise ValueError(f"{directory / WEIGHTS_NAME} holds a changed embedding table for "
                             f"{name} ({key}), but that table is shared with {others} (weight "
                             "tying): loading it would change those modules too. Untie first "
                             f"(give {others[0]} its own copy of the weight), or load the "
                             "adapter with PEFT.")
        tables[name] = tensors[key]
    return tables


def load_adapter(model: nn.Module, directory: str | Path) -> list[str]:
    """Load an adapter saved by :func:`save_adapter` or by PEFT's ``save_pretrained``.

    If the model has no LoRA layers yet, they are injected as the config says (with PEFT's
    ``rank_pattern``/``alpha_pattern`` for layers that differ), in inject_lora's steps: find
    the targets, build their layers, and (after every check) install them. If it has, the
    file must describe exactly those layers (same modules, same ranks, LoRA or DoRA); their
    LoRA tensors and their alpha, rsLoRA and dropout settings are then overwritten: this is
    how one swaps task adapters on one base model. The config, every key, every shape and
    every value are checked first, so a problem raises an error that names the file or
    tensor and leaves the model unchanged (even which parameters train).

    An adapted embedding is special: PEFT saves its whole table too, and loads it into the
    frozen base. So does this function, with a ``UserWarning``, because the base table
    ``W0`` is then replaced for good: ``disable_lora`` no longer gives the original model.
    A table shared with other modules (weight tying) is refused instead.
    Returns the adapted module names.

    Introduced in notebook 06, §6.
    """
    directory = Path(directory)
    config_path = directory / CONFIG_NAME
    _, adapter, tensors = _read(directory)
    if any(param.is_meta for param in model.parameters()):
        raise RuntimeError(f"Cannot load {directory} into a model on the meta device: its "
                           "tensors have shapes but no values, so the adapter's numbers would "
                           "be dropped. Load real weights first (model.to_empty(device='cpu'), "
                           "then load_state_dict), and load the adapter after that.")
    existing = dict(lora_layers(model))
    merged = [name for name, layer in existing.items() if layer.merged]
    if merged:
        raise RuntimeError(f"Unmerge before loading another adapter; merged: {merged}.")
    try:
        if existing:
            layers = existing
            _check_kinds(adapter, [layer.dora for layer in layers.values()])
        else:
            names = find_target_modules(model, adapter.target_modules)
            if adapter.settings.use_dora:
                _check_kinds(adapter, [LoRALinear.accepts(model.get_submodule(name))
                                       for name in names])
            layers = build_lora_layers(model, {name: adapter.for_module(name) for name in names})
    except ValueError as err:
        raise ValueError(f"{config_path}: {err}") from err
    expected, optional = _expected_tensors(layers)
    _check_fits(tensors, expected, optional, directory)
    if existing:
        try:
            _check_same_layers(model, layers, adapter)
        except ValueError as err:
            raise ValueError(f"{config_path}: {err}") from err
    tables = _tables_to_replace(model, layers, tensors, directory)

    # Every check passed: from here on the model changes.
    for name, layer in layers.items():
        layer.retune(adapter.for_module(name))
        with torch.no_grad():
            for part, param in layer.named_parameters():
                if not part.startswith("base_layer."):
                    param.copy_(tensors[f"{PEFT_PREFIX}{name}.{part}"])
            if name in tables:
                layer.base_layer.weight.copy_(tables[name])
    for name in tables:
        warnings.warn(f"The adapter holds its own embedding table for {name}, and it was "
                      "loaded into the frozen base layer, as PEFT does: W0 of that embedding "
                      "was replaced, so disable_lora() no longer gives the original table. "
                      "Reload the base model to get it back.", stacklevel=2)
    if not existing:
        install_lora_layers(model, layers)
    return list(layers)
