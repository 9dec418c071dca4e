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
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .dora import DoRALinear
from .inject import (build_lora_layers, find_target_modules, install_lora_layers,
                     lora_layers, lora_parameters)
from .layers import check_lora_settings
from .layers_hf import LoRAConv1D, LoRAEmbedding

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
    """Only the LoRA tensors, keyed by PEFT's checkpoint names."""
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
    """
    layers = dict(lora_layers(model))
    if not layers:
        raise ValueError("The model has no LoRA layers to save; call inject_lora first.")
    dora = _shared_setting(layers, "layer type (LoRA or DoRA)",
                           lambda layer: isinstance(layer, DoRALinear))
    r = _most_common([layer.r for layer in layers.values()])
    alpha = _most_common([layer.alpha for layer in layers.values()])
    patterns = {
        "rank_pattern": {re.escape(n): layer.r for n, layer in layers.items() if layer.r != r},
        "alpha_pattern": {re.escape(n): layer.alpha for n, layer in layers.items()
                          if layer.alpha != alpha},
    }
    return {
        "peft_type": "LORA",
        "task_type": None,
        "base_model_name_or_path": base_model_name_or_path,
        "r": r,
        "lora_alpha": alpha,
        # Written only when some layer differs; PEFT reads a missing pattern as empty.
        **{key: pattern for key, pattern in patterns.items() if pattern},
        "lora_dropout": _shared_setting(layers, "dropout",
                                        lambda layer: getattr(layer.lora_dropout, "p", 0.0)),
        "use_rslora": _shared_setting(layers, "use_rslora", lambda layer: layer.use_rslora),
        "target_modules": _target_modules_for_config(model, list(layers)),
        "bias": "none",
        # PEFT sets this per layer type anyway (True for Conv1D, False for nn.Linear).
        "fan_in_fan_out": any(isinstance(layer, LoRAConv1D) for layer in layers.values()),
        "init_lora_weights": True,
        "inference_mode": True,
        "modules_to_save": None,
        # PEFT's key, written only for DoRA: a config without it means plain LoRA.
        **({"use_dora": True} if dora else {}),
    }


def _write_atomically(directory: Path, files: dict[str, Callable[[Path], object]]) -> None:
    """Write each file to a temporary file in ``directory``, then move them all into place.

    ``os.replace`` swaps a name in one step, and it replaces a symlink itself, never the
    file it points to. If writing fails, the old files are untouched; if a later move fails,
    the ones already moved are put back, so the folder holds the old adapter or the new one.
    """
    temporary, backups, moved = {}, {}, []
    try:
        for name, write in files.items():
            handle, path = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
            os.close(handle)
            temporary[name] = Path(path)
            write(temporary[name])
        for name in files:
            target = directory / name
            if target.exists() or target.is_symlink():
                handle, path = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".old")
                os.close(handle)
                os.replace(target, path)
                backups[name] = Path(path)
            os.replace(temporary[name], target)
            del temporary[name]
            moved.append(name)
    except BaseException:
        for name in moved:
            (directory / name).unlink()
        for name, backup in backups.items():
            os.replace(backup, directory / name)
        backups = {}
        raise
    finally:
        for path in list(temporary.values()) + list(backups.values()):
            path.unlink(missing_ok=True)


def save_adapter(model: nn.Module, directory: str | Path,
                 base_model_name_or_path: str | None = None) -> Path:
    """Write the model's adapter to ``directory`` (created if needed); return the path.

    Both files are written to temporary files first and then moved into place, so an error
    leaves the previous adapter (or none), never half of each; only a crash of the machine
    between the two final renames, microseconds apart, could. A config or weights file that
    is a symlink is replaced by a regular file; the file it pointed to is not touched.
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
    directory.mkdir(parents=True, exist_ok=True)
    _write_atomically(directory, {
        WEIGHTS_NAME: lambda path: save_file(tensors, path, metadata={"format": "pt"}),
        CONFIG_NAME: lambda path: path.write_text(json.dumps(config, indent=2) + "\n"),
    })
    return directory


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


def check_adapter_config(config: object) -> dict:
    """Check every field of an adapter config; return the settings this package uses.

    Raises ``ValueError`` naming the first field that is missing, has a wrong type or value,
    or asks for something this package cannot do exactly (e.g. bias tensors).
    """
    if not isinstance(config, dict):
        raise ValueError(f"the config must be a JSON object, got a {type(config).__name__}.")
    if config.get("peft_type", "LORA") != "LORA":
        raise ValueError(f"it holds a {config['peft_type']!r} adapter, not LoRA.")
    missing = [key for key in ("r", "lora_alpha", "target_modules") if key not in config]
    if missing:
        raise ValueError(f"required fields are missing: {missing}.")
    r, alpha, dropout, use_rslora = check_lora_settings(
        config["r"], config["lora_alpha"], config.get("lora_dropout", 0.0),
        config.get("use_rslora", False))
    target_modules = config["target_modules"]
    if not (isinstance(target_modules, str) or (
            isinstance(target_modules, list) and target_modules
            and all(isinstance(t, str) for t in target_modules))):
        raise ValueError(f"target_modules must be a non-empty list of names or a regex "
                         f"string, got {target_modules!r}.")
    if not isinstance(config.get("fan_in_fan_out", False), bool):
        raise ValueError(f"fan_in_fan_out must be true or false, got "
                         f"{config['fan_in_fan_out']!r}.")
    use_dora = config.get("use_dora", False)
    if not isinstance(use_dora, bool):
        raise ValueError(f"use_dora must be true or false, got {use_dora!r}.")
    if config.get("bias", "none") != "none":
        raise ValueError(f"bias={config['bias']!r} adapters also train and save biases; only "
                         "bias='none' is supported here.")
    rank_pattern = _pattern(config, "rank_pattern",
                            lambda v: check_lora_settings(v, alpha, dropout, use_rslora))
    alpha_pattern = _pattern(config, "alpha_pattern",
                             lambda v: check_lora_settings(r, v, dropout, use_rslora))
    not_supported = [f"{key}={value!r}" for key, value in config.items()
                     if key not in INFORMATIONAL_FIELDS | HONOURED_FIELDS and not _is_off(value)]
    if not_supported:
        raise ValueError(f"it uses settings this package does not implement: "
                         f"{', '.join(not_supported)}. Load it with PEFT instead.")
    return {"r": r, "alpha": alpha, "dropout": dropout, "use_rslora": use_rslora,
            "target_modules": target_modules, "rank_pattern": rank_pattern,
            "alpha_pattern": alpha_pattern, "use_dora": use_dora}


def _from_pattern(pattern: dict, name: str, default: object) -> object:
    """PEFT's rule: the first pattern that matches the end of the name (at a dot) wins."""
    for key, value in pattern.items():
        if re.match(rf"(.*\.)?({key})$", name):
            return value
    return default


def read_adapter(directory: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read and check an adapter's config and tensors without touching any model.

    Returns the config as written and the tensors. Any problem is a ``ValueError`` (or
    ``FileNotFoundError``) that names the file.
    """
    directory = Path(directory)
    for needed in (CONFIG_NAME, WEIGHTS_NAME):
        if not (directory / needed).is_file():
            raise FileNotFoundError(f"{directory} has no {needed}; an adapter directory needs "
                                    f"{CONFIG_NAME} and {WEIGHTS_NAME}.")
    config_path = directory / CONFIG_NAME
    try:
        config = json.loads(config_path.read_text())
        check_adapter_config(config)
    except json.JSONDecodeError as err:
        raise ValueError(f"{config_path} is not valid JSON: {err}.") from err
    except ValueError as err:
        raise ValueError(f"{config_path}: {err}") from err
    try:
        tensors = load_file(directory / WEIGHTS_NAME)
    except (SafetensorError, OSError) as err:
        raise ValueError(f"{directory / WEIGHTS_NAME} is not a readable safetensors "
                         f"file: {err}.") from err
    # PEFT drops the adapter name ("default") from keys when it saves, as we do.
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


def _other_users(model: nn.Module, name: str, weight: torch.Tensor) -> list[str]:
    """Modules other than the adapted layer ``name`` (and its base) that hold ``weight``."""
    prefix = f"{name}." if name else ""
    own = {name, f"{prefix}base_layer"}
    return sorted({param_name.rpartition(".")[0] for param_name, param
                   in model.named_parameters(remove_duplicate=False) if param is weight} - own)


def _tables_to_replace(model: nn.Module, layers: dict, tensors: dict,
                       directory: Path) -> dict[str, torch.Tensor]:
    """The embedding tables in the adapter that differ from the model's, by layer name.

    Loading such a table replaces ``W0`` itself, which LoRA otherwise never touches. A table
    that other modules share (a language model's ``lm_head`` tied to its token embeddings)
    is refused: replacing it would change those modules too. A table equal to the model's
    changes nothing, so it is neither loaded nor refused.
    """
    tables = {}
    for name, layer in layers.items():
        key = f"{PEFT_PREFIX}{name}.base_layer.weight"
        if not isinstance(layer, LoRAEmbedding) or key not in tensors:
            continue
        weight = layer.base_layer.weight
        if torch.equal(tensors[key].to(weight.device, weight.dtype), weight):
            continue
        others = sorted(set(layer.weight_shared_with) | set(_other_users(model, name, weight)))
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
    ``rank_pattern``/``alpha_pattern`` for layers that differ). If it has, their LoRA tensors
    and their alpha, rsLoRA and dropout settings are overwritten: this is how one swaps task
    adapters on one base model. The config, every key and every shape are checked first, so
    a problem raises an error that names the file or tensor and leaves the model unchanged
    (even which parameters train).

    An adapted embedding is special: PEFT saves its whole table too, and loads it into the
    frozen base. So does this function, with a ``UserWarning``, because the base table
    ``W0`` is then replaced for good: ``disable_lora`` no longer gives the original model.
    A table shared with other modules (weight tying) is refused instead.
    Returns the adapted module names.
    """
    directory = Path(directory)
    config, tensors = read_adapter(directory)
    settings = check_adapter_config(config)
    existing = dict(lora_layers(model))
    flags = []
    if existing:
        merged = [name for name, layer in existing.items() if layer.merged]
        if merged:
            raise RuntimeError(f"Unmerge before loading another adapter; merged: {merged}.")
        layers = existing
    else:
        try:
            names = find_target_modules(model, settings["target_modules"])
        except ValueError as err:
            raise ValueError(f"{directory / CONFIG_NAME}: {err}") from err
        per_layer = {name: (_from_pattern(settings["rank_pattern"], name, settings["r"]),
                            _from_pattern(settings["alpha_pattern"], name, settings["alpha"]),
                            settings["dropout"], settings["use_rslora"]) for name in names}
        # Building a LoRA layer freezes the module it wraps, before we know whether the
        # adapter fits; remember every flag so that a refusal can put them back.
        modules = dict(model.named_modules())
        flags = [(param, param.requires_grad) for name in names
                 for param in modules[name].parameters()]
        layers = build_lora_layers(model, names, per_layer, use_dora=settings["use_dora"])
    try:
        kinds = {isinstance(layer, DoRALinear) for layer in layers.values()}
        if kinds != {settings["use_dora"]}:
            adapter = "a DoRA" if settings["use_dora"] else "a plain LoRA"
            raise ValueError(f"{directory / CONFIG_NAME} describes {adapter} adapter, but the "
                             "layers it would load into are not all of that kind (DoRA is "
                             "built here for nn.Linear only); load it into a fresh base model, "
                             "or with PEFT.")
        expected, optional = _expected_tensors(layers)
        _check_fits(tensors, expected, optional, directory)
        tables = _tables_to_replace(model, layers, tensors, directory)
    except BaseException:
        for param, requires_grad in flags:
            param.requires_grad_(requires_grad)
        raise

    # Every check passed: from here on the model changes.
    dropout = settings["dropout"]
    for name, layer in layers.items():
        layer.alpha = _from_pattern(settings["alpha_pattern"], name, settings["alpha"])
        layer.use_rslora = settings["use_rslora"]
        layer.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
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
