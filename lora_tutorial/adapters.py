"""Save and load just the adapter: a few small tensors and a JSON config, in PEFT's format.

A LoRA checkpoint holds only ``lora_A`` and ``lora_B`` of each adapted layer, so one base
model can serve many tasks, each a small file. The files are exactly what Hugging Face
PEFT writes with ``save_pretrained``, so either side can load the other's:

* ``adapter_model.safetensors``: tensors named ``base_model.model.<module>.lora_A.weight``
  and ``...lora_B.weight``. safetensors stores raw numbers only, so loading a file can never
  run code (unlike pickle-based ``torch.save`` files).
* ``adapter_config.json``: ``r``, ``lora_alpha``, ``target_modules`` and friends.

DoRA layers (:mod:`lora_tutorial.dora`) add one vector per module,
``...<module>.lora_magnitude_vector``, and ``"use_dora": true`` in the config, as in PEFT.
"""

import json
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from .dora import DoRALinear
from .inject import find_target_modules, inject_lora, lora_layers

WEIGHTS_NAME = "adapter_model.safetensors"
CONFIG_NAME = "adapter_config.json"
PEFT_PREFIX = "base_model.model."


def lora_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the LoRA tensors, keyed by PEFT's checkpoint names."""
    state = {}
    for name, layer in lora_layers(model):
        state[f"{PEFT_PREFIX}{name}.lora_A.weight"] = layer.lora_A.weight
        state[f"{PEFT_PREFIX}{name}.lora_B.weight"] = layer.lora_B.weight
        if isinstance(layer, DoRALinear):
            state[f"{PEFT_PREFIX}{name}.lora_magnitude_vector"] = layer.lora_magnitude_vector
    return state


def _shared_setting(model: nn.Module, what: str, read) -> object:
    values = {read(layer) for _, layer in lora_layers(model)}
    if len(values) != 1:
        raise ValueError(f"All LoRA layers must share one {what} to be saved as one "
                         f"adapter; found {sorted(values)}.")
    return values.pop()


def _target_modules_for_config(model: nn.Module, names: list[str]) -> list[str]:
    """Short names (``q_proj``) when they select exactly the adapted modules, else full names."""
    short = sorted({n.rsplit(".", 1)[-1] for n in names})
    everything = [n for n, _ in model.named_modules()]
    selected = {n for n in everything if any(n == s or n.endswith("." + s) for s in short)}
    return short if selected == set(names) else sorted(names)


def save_adapter(model: nn.Module, directory: str | Path,
                 base_model_name_or_path: str | None = None) -> Path:
    """Write the model's adapter to ``directory`` (created if needed); return the path."""
    names = [name for name, _ in lora_layers(model)]
    if not names:
        raise ValueError("The model has no LoRA layers to save; call inject_lora first.")
    saved = ("lora_A", "lora_B", "lora_magnitude_vector")
    not_saved = [name for name, p in model.named_parameters()
                 if p.requires_grad and not any(key in name for key in saved)]
    if not_saved:
        warnings.warn(f"Only lora_A/lora_B are saved, but these parameters are trainable too "
                      f"and will not be in the adapter: {not_saved[:5]}"
                      f"{' ...' if len(not_saved) > 5 else ''}. Call "
                      "mark_only_lora_as_trainable(model) before training if that is not "
                      "intended.", stacklevel=2)
    config = {
        "peft_type": "LORA",
        "task_type": None,
        "base_model_name_or_path": base_model_name_or_path,
        "r": _shared_setting(model, "rank r", lambda layer: layer.r),
        "lora_alpha": _shared_setting(model, "alpha", lambda layer: layer.alpha),
        "lora_dropout": _shared_setting(model, "dropout",
                                        lambda layer: getattr(layer.lora_dropout, "p", 0.0)),
        "use_rslora": _shared_setting(model, "use_rslora", lambda layer: layer.use_rslora),
        "target_modules": _target_modules_for_config(model, names),
        "bias": "none",
        "fan_in_fan_out": False,
        "init_lora_weights": True,
        "inference_mode": True,
        "modules_to_save": None,
    }
    if _shared_setting(model, "layer type (LoRA or DoRA)",
                       lambda layer: isinstance(layer, DoRALinear)):
        config["use_dora"] = True  # PEFT's key; a config without it means plain LoRA
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {key: t.detach().contiguous().cpu() for key, t in lora_state_dict(model).items()}
    save_file(tensors, directory / WEIGHTS_NAME, metadata={"format": "pt"})
    (directory / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    return directory


def read_adapter(directory: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read an adapter's config and tensors without touching any model."""
    directory = Path(directory)
    for needed in (CONFIG_NAME, WEIGHTS_NAME):
        if not (directory / needed).is_file():
            raise FileNotFoundError(f"{directory} has no {needed}; an adapter directory needs "
                                    f"{CONFIG_NAME} and {WEIGHTS_NAME}.")
    config = json.loads((directory / CONFIG_NAME).read_text())
    if config.get("peft_type", "LORA") != "LORA":
        raise ValueError(f"{directory} holds a {config['peft_type']} adapter, not LoRA.")
    # PEFT drops the adapter name ("default") from keys when it saves, as we do.
    return config, load_file(directory / WEIGHTS_NAME)


def _check_fits(tensors: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]],
                directory: Path) -> None:
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ValueError(f"The adapter in {directory} does not fit this model. Missing "
                         f"tensors: {missing or 'none'}. Tensors the model has no place for: "
                         f"{unexpected or 'none'}.")
    for key, shape in expected.items():
        if tuple(tensors[key].shape) != shape:
            raise ValueError(f"Shape mismatch for {key}: the adapter has "
                             f"{tuple(tensors[key].shape)}, the model needs {shape}. Was it "
                             "trained with another rank r or for another model?")


def load_adapter(model: nn.Module, directory: str | Path) -> list[str]:
    """Load an adapter saved by :func:`save_adapter` or by PEFT's ``save_pretrained``.

    If the model has no LoRA layers yet, they are injected as the config says; if it has,
    their ``lora_A``/``lora_B`` are overwritten (this is how one swaps task adapters on one
    base model). Every key and shape is checked first, so a mismatch raises an error that
    names the tensor and leaves the model unchanged. Returns the adapted module names.
    """
    directory = Path(directory)
    config, tensors = read_adapter(directory)
    r, alpha = config["r"], config["lora_alpha"]
    use_rslora = config.get("use_rslora", False)
    use_dora = config.get("use_dora", False)
    existing = dict(lora_layers(model))
    if existing:
        merged = [name for name, layer in existing.items() if layer.merged]
        if merged:
            raise RuntimeError(f"Unmerge before loading another adapter; merged: {merged}.")
        names = list(existing)
        shapes = {name: (layer.r, layer.in_features, layer.out_features)
                  for name, layer in existing.items()}
        dora = {name: isinstance(layer, DoRALinear) for name, layer in existing.items()}
    else:
        names = find_target_modules(model, config["target_modules"])
        modules = dict(model.named_modules())
        shapes = {name: (r, modules[name].in_features, modules[name].out_features)
                  for name in names}
        dora = dict.fromkeys(names, use_dora)
    expected = {}
    for name, (rank, k, d) in shapes.items():
        expected[f"{PEFT_PREFIX}{name}.lora_A.weight"] = (rank, k)
        expected[f"{PEFT_PREFIX}{name}.lora_B.weight"] = (d, rank)
        if dora[name]:
            expected[f"{PEFT_PREFIX}{name}.lora_magnitude_vector"] = (d,)
    if any(dora.values()) != use_dora:
        raise ValueError(f"The adapter in {directory} is {'DoRA' if use_dora else 'LoRA'} "
                         f"(use_dora={use_dora}), but the model's layers are "
                         f"{'DoRA' if any(dora.values()) else 'LoRA'}; load it into a fresh "
                         "base model instead.")
    _check_fits(tensors, expected, directory)

    if not existing:
        inject_lora(model, names, r=r, alpha=alpha, dropout=config.get("lora_dropout", 0.0),
                    use_rslora=use_rslora, use_dora=use_dora)
    for name, layer in lora_layers(model):
        layer.alpha, layer.use_rslora = alpha, use_rslora
        with torch.no_grad():
            layer.lora_A.weight.copy_(tensors[f"{PEFT_PREFIX}{name}.lora_A.weight"])
            layer.lora_B.weight.copy_(tensors[f"{PEFT_PREFIX}{name}.lora_B.weight"])
            if dora[name]:
                layer.lora_magnitude_vector.copy_(
                    tensors[f"{PEFT_PREFIX}{name}.lora_magnitude_vector"])
    return names
