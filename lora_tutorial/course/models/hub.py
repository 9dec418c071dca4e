"""Save and load a course model the way a model hub does: safetensors weights + a JSON config.

A model on the Hugging Face Hub is two kinds of file: the weights (``model.safetensors``)
and a small JSON (``config.json``) that says how to build the architecture they fit.
``from_pretrained`` reads the JSON, builds an empty model from it and fills in the weights.
The course models do the same, one pair of files per model::

    tiny_vit_digits.safetensors   every tensor of the state dict, by name
    tiny_vit_digits.json          {"config": {...the model's config dataclass...},
                                   "metrics": {...what the pretrain script measured...}}

safetensors stores only tensors, so loading a file can never run code, unlike a pickled
``torch.save`` checkpoint. Each model file (:mod:`~lora_tutorial.course.models.vit`,
:mod:`~lora_tutorial.course.models.gpt`) wraps these three functions with its own file name and
classes (``save_pretrained``/``load_pretrained`` and their ``_gpt`` twins).
"""

import dataclasses
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..device import get_device


def save_model(model: nn.Module, directory: str | Path, name: str,
               metrics: dict | None = None) -> Path:
    """Write ``name.safetensors`` (the state dict) and ``name.json`` (config + ``metrics``).

    ``model.config`` must be a dataclass: it is saved field by field, so that
    :func:`load_model` can rebuild the architecture. Returns the path of the weights file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path = directory / f"{name}.safetensors"
    state = {key: t.detach().cpu().contiguous() for key, t in model.state_dict().items()}
    save_file(state, weights_path)
    meta = {"config": dataclasses.asdict(model.config), "metrics": metrics or {}}
    (directory / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return weights_path


def load_info(directory: str | Path, name: str) -> dict:
    """Read ``name.json``: ``{"config": {...}, "metrics": {...}}``."""
    return json.loads((Path(directory) / f"{name}.json").read_text())


def load_model(model_class: type[nn.Module], config_class: type, directory: str | Path,
               name: str, device: str | torch.device | None = None) -> nn.Module:
    """Build ``model_class(config_class(**config))`` from ``name.json``, fill in the weights.

    The model comes back on ``device`` (default: :func:`~lora_tutorial.course.device.get_device`)
    and in eval mode, a fresh copy on every call.
    """
    model = model_class(config_class(**load_info(directory, name)["config"]))
    model.load_state_dict(load_file(Path(directory) / f"{name}.safetensors"))
    return model.to(device if device is not None else get_device()).eval()
