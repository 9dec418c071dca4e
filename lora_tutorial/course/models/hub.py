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

Both files are written together or not at all (:func:`~lora_tutorial.common.files.write_files`),
so a crash in between never leaves weights that no JSON describes. A file that cannot be used
is refused with its path, what is wrong with it and how to get a good one.
"""

import dataclasses
import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ...common.files import write_files
from ..device import get_device

WEIGHTS_DIR = Path(__file__).parent.parent / "weights"
"""Where the shipped pretrained weights live (inside the installed package)."""

_RESTORE = ("Save the model again with its save_pretrained function, or, for the course's "
            "shipped weights, reinstall the package (pip install --force-reinstall).")


def save_model(model: nn.Module, directory: str | Path, name: str,
               metrics: dict | None = None) -> Path:
    """Write ``name.safetensors`` (the state dict) and ``name.json`` (config + ``metrics``).

    ``model.config`` must be a dataclass: it is saved field by field, so that
    :func:`load_model` can rebuild the architecture. The two files replace any old pair in
    one step: a failure leaves the old pair. Returns the path of the weights file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {key: t.detach().cpu().contiguous() for key, t in model.state_dict().items()}
    meta = {"config": dataclasses.asdict(model.config), "metrics": metrics or {}}
    text = json.dumps(meta, indent=2) + "\n"
    write_files(directory, {
        f"{name}.safetensors": lambda path: save_file(state, path),
        f"{name}.json": lambda path: path.write_text(text, encoding="utf-8"),
    })
    return directory / f"{name}.safetensors"


def load_info(directory: str | Path, name: str) -> dict:
    """Read ``name.json``: ``{"config": {...}, "metrics": {...}}``."""
    path = Path(directory) / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: a course model is two files, {name}.safetensors and "
            f"{name}.json (its config). Pass the folder that holds both. {_RESTORE}")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}). {_RESTORE}") from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict):
        raise ValueError(f"{path} has no \"config\" object, so the architecture cannot be "
                         f"built. {_RESTORE}")
    return info


def _device(device: str | torch.device | None) -> torch.device:
    """``device`` as a ``torch.device``, refused when this machine does not have it."""
    device = torch.device(device) if device is not None else get_device()
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={str(device)!r} needs a CUDA GPU, and this machine's "
                           "PyTorch finds none (torch.cuda.is_available() is False). Pass "
                           "device='cpu', or leave device out to use the best device there is.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"device={str(device)!r} needs an Apple-silicon GPU, and this "
                           "machine's PyTorch finds none (torch.backends.mps.is_available() is "
                           "False). Pass device='cpu', or leave device out to use the best "
                           "device there is.")
    return device


def _build(model_class: type[nn.Module], config_class: type, config: dict,
           path: Path) -> nn.Module:
    """``model_class(config_class(**config))``, or a refusal that names the JSON file."""
    fields = [field.name for field in dataclasses.fields(config_class)]
    unknown = sorted(set(config) - set(fields))
    if unknown:
        raise ValueError(f"{path} has config keys that {config_class.__name__} does not know: "
                         f"{unknown}. Its fields are {fields}. {_RESTORE}")
    try:
        return model_class(config_class(**config))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path} describes no valid {model_class.__name__}: {error}. "
                         f"{_RESTORE}") from None


def _weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, or a refusal that names it."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: the weights belong beside the JSON "
                                f"config. {_RESTORE}")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable safetensors file ({error}): it may be "
                         f"cut short or be another format. {_RESTORE}") from None


def _fill(model: nn.Module, state: dict[str, torch.Tensor], weights_path: Path,
          config_path: Path) -> None:
    """Copy ``state`` into ``model``, refusing names or shapes that do not fit."""
    expected = model.state_dict()
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    if missing or unexpected:
        raise ValueError(f"{weights_path} does not fit the architecture in {config_path}: "
                         f"missing tensors {missing}, unknown tensors {unexpected}. The two "
                         f"files must come from the same save. {_RESTORE}")
    wrong = [f"{key}: file {tuple(state[key].shape)}, config {tuple(tensor.shape)}"
             for key, tensor in expected.items() if state[key].shape != tensor.shape]
    if wrong:
        more = f" and {len(wrong) - 3} more" if len(wrong) > 3 else ""
        raise ValueError(f"{weights_path} does not fit the dimensions in {config_path}: "
                         f"{'; '.join(wrong[:3])}{more}. The two "
                         f"files must come from the same save. {_RESTORE}")
    model.load_state_dict(state)


def load_model(model_class: type[nn.Module], config_class: type, directory: str | Path,
               name: str, device: str | torch.device | None = None) -> nn.Module:
    """Build ``model_class(config_class(**config))`` from ``name.json``, fill in the weights.

    The model comes back on ``device`` (default: :func:`~lora_tutorial.course.device.get_device`)
    and in eval mode, a fresh copy on every call. A missing or damaged file, a config the
    class does not know or weights that do not fit it are refused with the file's path.
    """
    device = _device(device)
    directory = Path(directory)
    config_path, weights_path = directory / f"{name}.json", directory / f"{name}.safetensors"
    model = _build(model_class, config_class, load_info(directory, name)["config"], config_path)
    _fill(model, _weights(weights_path), weights_path, config_path)
    return model.to(device).eval()
