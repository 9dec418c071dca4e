"""Checker for notebook 6's exercise: save an adapter with safetensors, load it into a fresh base.

The learner writes two functions:

* ``save_lora(model, directory, base_model_name)``: write *only* the LoRA tensors (every
  ``lora_A`` and ``lora_B`` weight, nothing of the frozen base) to
  ``directory/adapter_model.safetensors``, and a JSON config ``directory/adapter_config.json``
  with at least ``r``, ``lora_alpha``, ``target_modules`` and ``base_model_name_or_path``;
* ``load_lora(model, directory, base_model_name)``: read the config, **refuse** (raise) an
  adapter whose ``base_model_name_or_path`` is not ``base_model_name`` — before changing the
  model — then inject LoRA layers as the config says and copy the saved ``A`` and ``B`` in.

Tensor names are the learner's choice (PEFT's are ``base_model.model.<module>.lora_A.weight``);
what counts is that a fresh base model with the loaded adapter computes exactly what the
trained model computed.
"""

import json
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from ...core.inject import inject_lora, lora_layers, mark_only_lora_as_trainable
from ..models import MODEL_NAME, load_pretrained
from . import ExerciseError, call_learner, checker, require

WEIGHTS_NAME = "adapter_model.safetensors"
CONFIG_NAME = "adapter_config.json"
CONFIG_FIELDS = ("r", "lora_alpha", "target_modules", "base_model_name_or_path")
TARGETS, R, ALPHA = ["q_proj", "v_proj", "fc1"], 4, 8


def _trained_adapter(seed: int = 0) -> torch.nn.Module:
    """The course model with LoRA on q_proj, v_proj and fc1, B non-zero as after training."""
    model = load_pretrained(device="cpu")
    torch.manual_seed(seed)
    inject_lora(model, TARGETS, r=R, alpha=ALPHA)
    mark_only_lora_as_trainable(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, layer in lora_layers(model):
            layer.lora_B.weight.copy_(0.1 * torch.randn(layer.lora_B.weight.shape,
                                                        generator=generator))
    return model.eval()


def _check_files(directory: Path, model: torch.nn.Module) -> dict:
    files = sorted(p.name for p in directory.iterdir())
    for needed in (WEIGHTS_NAME, CONFIG_NAME):
        require(needed in files, f"save_lora wrote {files or 'no files'} into the directory; "
                                 f"it must write {WEIGHTS_NAME} and {CONFIG_NAME}.")
    try:
        with safe_open(str(directory / WEIGHTS_NAME), framework="pt") as f:
            shapes = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
    except (SafetensorError, OSError) as error:
        raise ExerciseError(f"{WEIGHTS_NAME} is not a safetensors file ({error}). Write it "
                            "with safetensors.torch.save_file(tensors, path); torch.save "
                            "would make a pickle, which can run code when loaded.") from error
    base_keys = [k for k in shapes if "lora_A" not in k and "lora_B" not in k]
    require(not base_keys,
            f"The adapter file also holds {base_keys[:3]}{' ...' if len(base_keys) > 3 else ''}: "
            "those are frozen base weights, which every user already has. Save only the "
            "lora_A and lora_B tensors — that is what makes an adapter small.")
    layers = dict(lora_layers(model))
    expected = sum(p.numel() for p in model.parameters() if p.requires_grad)
    saved = sum(torch.Size(s).numel() for s in shapes.values())
    require(len(shapes) == 2 * len(layers) and saved == expected,
            f"The adapter file holds {len(shapes)} tensors with {saved:,d} numbers; the model "
            f"has {len(layers)} LoRA layers, so 2 × {len(layers)} = {2 * len(layers)} tensors "
            f"(every lora_A and lora_B) with {expected:,d} numbers.")
    try:
        config = json.loads((directory / CONFIG_NAME).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ExerciseError(f"{CONFIG_NAME} is not valid JSON ({error}); write it with "
                            "json.dumps(config).") from error
    require(isinstance(config, dict),
            f"{CONFIG_NAME} must hold one JSON object (a dict), not {type(config).__name__}.")
    missing = [field for field in CONFIG_FIELDS if field not in config]
    require(not missing, f"{CONFIG_NAME} has no {missing}; a loader needs r, lora_alpha and "
                         "target_modules to rebuild the layers, and base_model_name_or_path "
                         "to refuse an adapter meant for another model.")
    require(config["r"] == R and config["lora_alpha"] == ALPHA,
            f"{CONFIG_NAME} says r={config['r']!r}, lora_alpha={config['lora_alpha']!r}; the "
            f"model's LoRA layers have r={R}, alpha={ALPHA}. Read them from the layers.")
    require(config["base_model_name_or_path"] == MODEL_NAME,
            f"{CONFIG_NAME} says base_model_name_or_path="
            f"{config['base_model_name_or_path']!r}; save the base_model_name you were given "
            f"({MODEL_NAME!r}).")
    return config


@checker("write save_lora and load_lora above")
def check_adapter_files(save_lora, load_lora) -> str:
    """Save a trained adapter with the learner's ``save_lora``, load it with ``load_lora``."""
    with torch.random.fork_rng(devices=[]), tempfile.TemporaryDirectory() as tmp:
        model = _trained_adapter()
        directory = Path(tmp) / "adapter"
        directory.mkdir()
        before = {n: t.clone() for n, t in model.state_dict().items()}
        call_learner(save_lora, model, directory, MODEL_NAME, context="save_lora")
        require(all(torch.equal(t, before[n]) for n, t in model.state_dict().items()),
                "save_lora changed the model; saving only reads the tensors.")
        config = _check_files(directory, model)
        size = sum(p.stat().st_size for p in directory.iterdir())

        images = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(1))
        fresh = load_pretrained(device="cpu")
        call_learner(load_lora, fresh, directory, MODEL_NAME, context="load_lora")
        loaded = [name for name, _ in lora_layers(fresh)]
        wanted = [name for name, _ in lora_layers(model)]
        require(loaded == wanted,
                f"After load_lora the fresh model has LoRA on {loaded or 'no layers'}, but "
                f"the adapter was trained on {wanted}. Inject LoRA with the config's "
                "target_modules, r and lora_alpha before copying the tensors in.")
        with torch.no_grad():
            same = torch.equal(fresh.eval()(images), model(images))
        require(same, "The fresh base model with your loaded adapter does not compute what "
                      "the trained model computed. Copy every saved lora_A and lora_B into "
                      "the layer of the same name (layer.lora_A.weight.copy_(...)).")

        # An adapter trained on another base must be refused, and the model left untouched.
        config["base_model_name_or_path"] = "someone-elses-model"
        (directory / CONFIG_NAME).write_text(json.dumps(config))
        other = load_pretrained(device="cpu")
        state = {n: t.clone() for n, t in other.state_dict().items()}
        try:
            load_lora(other, directory, MODEL_NAME)
        except Exception:  # any clear error is a refusal; what matters is the model below
            refused = True
        else:
            refused = False
        require(refused,
                "load_lora loaded an adapter whose config says base_model_name_or_path="
                f"'someone-elses-model' into {MODEL_NAME!r}. Compare the config's "
                "base_model_name_or_path with base_model_name and raise a ValueError when "
                "they differ: an adapter's A and B only make sense on the W0 it was trained "
                "with.")
        require(not list(lora_layers(other))
                and all(torch.equal(t, state[n]) for n, t in other.state_dict().items()),
                "load_lora refused the foreign adapter, but only after changing the model. "
                "Check base_model_name_or_path first, then inject: a failed load must leave "
                "the model as it was.")
    return (f"save_lora wrote only the {2 * len(wanted)} LoRA tensors ({size:,d} bytes with "
            "the config) as safetensors; load_lora rebuilt the adapter on a fresh base model "
            "with identical outputs, and refused an adapter made for another base model.")
