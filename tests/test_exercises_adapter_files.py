"""Notebook 6's checker for writing and reading an adapter with safetensors."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from lora_tutorial.course.exercises import CORRECT, NOT_ATTEMPTED, ExerciseError
from lora_tutorial.course.exercises.adapter_files import check_adapter_files
from lora_tutorial.core.inject import inject_lora, lora_layers


def lora_tensors(model):
    tensors = {}
    for name, layer in lora_layers(model):
        tensors[f"{name}.lora_A.weight"] = layer.lora_A.weight.detach().contiguous()
        tensors[f"{name}.lora_B.weight"] = layer.lora_B.weight.detach().contiguous()
    return tensors


def write_config(model, directory, base_model_name, drop=None):
    first = next(layer for _, layer in lora_layers(model))
    config = {"r": first.r, "lora_alpha": first.alpha,
              "target_modules": [name for name, _ in lora_layers(model)],
              "base_model_name_or_path": base_model_name}
    config.pop(drop, None)
    (Path(directory) / "adapter_config.json").write_text(json.dumps(config))


def save_lora(model, directory, base_model_name):
    save_file(lora_tensors(model), Path(directory) / "adapter_model.safetensors")
    write_config(model, directory, base_model_name)


def load_lora(model, directory, base_model_name, check_base=True, check_first=True):
    directory = Path(directory)
    config = json.loads((directory / "adapter_config.json").read_text())
    wrong_base = config["base_model_name_or_path"] != base_model_name
    if check_base and check_first and wrong_base:
        raise ValueError("adapter for another base model")
    inject_lora(model, config["target_modules"], r=config["r"], alpha=config["lora_alpha"])
    if check_base and wrong_base:
        raise ValueError("adapter for another base model")
    tensors = load_file(directory / "adapter_model.safetensors")
    with torch.no_grad():
        for name, layer in lora_layers(model):
            layer.lora_A.weight.copy_(tensors[f"{name}.lora_A.weight"])
            layer.lora_B.weight.copy_(tensors[f"{name}.lora_B.weight"])


def test_solution_is_correct(capsys):
    assert bool(check_adapter_files(save_lora, load_lora)) is True
    assert capsys.readouterr().out.startswith(CORRECT)


def test_stubs_are_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError
    assert bool(check_adapter_files(stub, load_lora)) is False
    assert bool(check_adapter_files(save_lora, stub)) is False
    assert capsys.readouterr().out.startswith(NOT_ATTEMPTED)


def test_saving_the_base_weights_fails():
    def save_everything(model, directory, base_model_name):
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, Path(directory) / "adapter_model.safetensors")
        write_config(model, directory, base_model_name)
    with pytest.raises(ExerciseError, match="frozen base weights"):
        check_adapter_files(save_everything, load_lora)


def test_a_pickle_is_not_an_adapter_file():
    def save_pickle(model, directory, base_model_name):
        torch.save(lora_tensors(model), Path(directory) / "adapter_model.safetensors")
        write_config(model, directory, base_model_name)
    with pytest.raises(ExerciseError, match="not a safetensors file"):
        check_adapter_files(save_pickle, load_lora)


def test_config_without_the_base_model_fails():
    def save_no_base(model, directory, base_model_name):
        save_file(lora_tensors(model), Path(directory) / "adapter_model.safetensors")
        write_config(model, directory, base_model_name, drop="base_model_name_or_path")
    with pytest.raises(ExerciseError, match="base_model_name_or_path"):
        check_adapter_files(save_no_base, load_lora)


def test_loading_an_adapter_for_another_base_fails():
    with pytest.raises(ExerciseError, match="loaded an adapter whose config"):
        check_adapter_files(save_lora, lambda *a: load_lora(*a, check_base=False))
    with pytest.raises(ExerciseError, match="only after changing the model"):
        check_adapter_files(save_lora, lambda *a: load_lora(*a, check_first=False))


def test_loader_that_forgets_the_tensors_fails():
    def inject_only(model, directory, base_model_name):
        config = json.loads((Path(directory) / "adapter_config.json").read_text())
        if config["base_model_name_or_path"] != base_model_name:
            raise ValueError("another base")
        inject_lora(model, config["target_modules"], r=config["r"], alpha=config["lora_alpha"])
    with pytest.raises(ExerciseError, match="does not compute what the trained model"):
        check_adapter_files(save_lora, inject_only)


def save_scaling_as_alpha(model, directory, base_model_name):
    save_lora(model, directory, base_model_name)
    path = Path(directory) / "adapter_config.json"
    config = json.loads(path.read_text())
    config["lora_alpha"] = config["lora_alpha"] / config["r"]       # alpha/r, not alpha
    path.write_text(json.dumps(config))


def load_without_alpha(model, directory, base_model_name):
    config = json.loads((Path(directory) / "adapter_config.json").read_text())
    if config["base_model_name_or_path"] != base_model_name:
        raise ValueError("adapter for another base model")
    inject_lora(model, config["target_modules"], r=config["r"])     # inject_lora's own alpha
    tensors = load_file(Path(directory) / "adapter_model.safetensors")
    with torch.no_grad():
        for name, layer in lora_layers(model):
            layer.lora_A.weight.copy_(tensors[f"{name}.lora_A.weight"])
            layer.lora_B.weight.copy_(tensors[f"{name}.lora_B.weight"])


def save_with_peft_prefix(model, directory, base_model_name):
    tensors = {f"base_model.model.{key}": t for key, t in lora_tensors(model).items()}
    save_file(tensors, Path(directory) / "adapter_model.safetensors")
    write_config(model, directory, base_model_name)


def load_state_dict_not_strict(model, directory, base_model_name):
    config = json.loads((Path(directory) / "adapter_config.json").read_text())
    if config["base_model_name_or_path"] != base_model_name:
        raise ValueError("adapter for another base model")
    inject_lora(model, config["target_modules"], r=config["r"], alpha=config["lora_alpha"])
    # strict=False skips every key it does not know: with the prefix, that is all of them
    model.load_state_dict(load_file(Path(directory) / "adapter_model.safetensors"), strict=False)


@pytest.mark.parametrize("save, load, message", [
    (save_scaling_as_alpha, load_lora, "lora_alpha=2.0; the model's LoRA layers have r=4, "
                                       "alpha=8"),
    (save_lora, load_without_alpha, "does not compute what the trained model computed"),
    (save_with_peft_prefix, load_state_dict_not_strict, "does not compute what the trained "
                                                        "model computed"),
])
def test_plausible_wrong_pairs_fail(save, load, message):
    with pytest.raises(ExerciseError, match=message):
        check_adapter_files(save, load)
