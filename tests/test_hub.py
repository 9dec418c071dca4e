"""Saving and loading a course model as a hub does: safetensors weights + a JSON config."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from lora_tutorial.course.models import (
    GPT_MODEL_NAME,
    MODEL_NAME,
    WEIGHTS_DIR,
    TinyGPT,
    TinyGPTConfig,
    TinyViT,
    TinyViTConfig,
    load_pretrained,
    load_pretrained_gpt,
    load_pretrained_gpt_info,
    load_pretrained_info,
    save_pretrained,
    save_pretrained_gpt,
)
from lora_tutorial.course.models.hub import load_info, load_model, save_model
from refusal import unchanged


@pytest.mark.parametrize("load, info, save, name", [
    (load_pretrained, load_pretrained_info, save_pretrained, MODEL_NAME),
    (load_pretrained_gpt, load_pretrained_gpt_info, save_pretrained_gpt, GPT_MODEL_NAME),
])
def test_saving_a_shipped_model_again_writes_the_shipped_files_byte_for_byte(
        tmp_path, load, info, save, name):
    path = save(load("cpu"), tmp_path, info()["metrics"])
    assert path == tmp_path / f"{name}.safetensors"
    for suffix in (".safetensors", ".json"):
        shipped = (WEIGHTS_DIR / f"{name}{suffix}").read_bytes()
        assert (tmp_path / f"{name}{suffix}").read_bytes() == shipped


def test_save_then_load_gives_a_fresh_eval_mode_copy(tmp_path):
    torch.manual_seed(0)
    config = TinyViTConfig(dim=16, depth=1, heads=2)
    model = TinyViT(config).train()
    path = save_model(model, tmp_path / "new", "toy", {"accuracy": 0.5})
    assert sorted(p.name for p in path.parent.iterdir()) == ["toy.json", "toy.safetensors"]
    assert json.loads((tmp_path / "new" / "toy.json").read_text()) == {
        "config": {"image_size": 8, "patch_size": 4, "in_channels": 1, "dim": 16, "depth": 1,
                   "heads": 2, "mlp_ratio": 4, "num_classes": 10},
        "metrics": {"accuracy": 0.5}}
    assert load_info(tmp_path / "new", "toy")["metrics"] == {"accuracy": 0.5}
    assert set(load_file(path)) == set(model.state_dict())
    loaded = load_model(TinyViT, TinyViTConfig, tmp_path / "new", "toy", "cpu")
    other = load_model(TinyViT, TinyViTConfig, tmp_path / "new", "toy", "cpu")
    assert not loaded.training and loaded is not other and loaded.config == config
    for (key, saved), value in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(saved, value), key


def test_metrics_default_to_an_empty_record(tmp_path):
    save_model(TinyGPT(TinyGPTConfig(context=8, dim=8, depth=1, heads=2, mlp_hidden=8)),
               tmp_path, "gpt")
    assert load_info(tmp_path, "gpt")["metrics"] == {}


# ---- refusals: every loader names the file, what is wrong and how to fix it ----------------

SMALL_VIT = TinyViTConfig(dim=16, depth=1, heads=2)


def _saved_pair(folder: Path) -> Path:
    torch.manual_seed(0)
    save_model(TinyViT(SMALL_VIT), folder, "toy")
    return folder


def test_a_failure_between_the_two_files_leaves_the_old_pair(tmp_path, monkeypatch):
    folder = _saved_pair(tmp_path / "model")

    def full_disk(self, *args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)   # the JSON fails after the weights
    with unchanged(folder), pytest.raises(OSError, match="No space"):
        save_model(TinyViT(TinyViTConfig(dim=32, depth=1, heads=2)), folder, "toy")
    monkeypatch.undo()
    assert load_model(TinyViT, TinyViTConfig, folder, "toy", "cpu").config == SMALL_VIT


def test_saving_over_a_symlinked_config_replaces_the_link_not_its_target(tmp_path):
    target = tmp_path / "precious.json"
    target.write_text("keep me\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "toy.json").symlink_to(target)
    _saved_pair(tmp_path / "model")
    assert target.read_text() == "keep me\n"
    assert not (tmp_path / "model" / "toy.json").is_symlink()
    assert load_info(tmp_path / "model", "toy")["config"]["dim"] == 16


def _edit_config(folder: Path, **changes) -> None:
    path = folder / "toy.json"
    info = json.loads(path.read_text())
    info["config"].update(changes)
    path.write_text(json.dumps(info))


DAMAGES = {
    "truncated weights": (lambda f: (f / "toy.safetensors").write_bytes(
        (f / "toy.safetensors").read_bytes()[:200]), r"toy\.safetensors is not a readable "
        r"safetensors file .*cut short"),
    "weights in another format": (lambda f: (f / "toy.safetensors").write_bytes(
        b"PK\x03\x04 a zip file, not safetensors"), r"toy\.safetensors is not a readable"),
    "no weights": (lambda f: (f / "toy.safetensors").unlink(),
                   r"toy\.safetensors does not exist"),
    "config with other dimensions": (lambda f: _edit_config(f, dim=32),
                                     r"toy\.safetensors does not fit the dimensions in "
                                     r".*toy\.json: cls_token: file \(1, 1, 16\), "
                                     r"config \(1, 1, 32\)"),
    "config with an unknown key": (lambda f: _edit_config(f, colour="blue"),
                                   r"toy\.json has config keys .* \['colour'\]"),
    "config the class refuses": (lambda f: _edit_config(f, heads=3),
                                 r"toy\.json describes no valid TinyViT: .*divisible"),
    "no JSON": (lambda f: (f / "toy.json").unlink(),
                r"toy\.json does not exist: .*two files"),
    "JSON that is not JSON": (lambda f: (f / "toy.json").write_text("{config: 16"),
                              r"toy\.json is not valid JSON"),
    "JSON without a config": (lambda f: (f / "toy.json").write_text('{"metrics": {}}'),
                              r"toy\.json has no \"config\" object"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_model_folder_is_refused_with_the_file_and_a_fix(tmp_path, damage):
    folder = _saved_pair(tmp_path / "model")
    harm, message = DAMAGES[damage]
    harm(folder)
    with unchanged(folder), pytest.raises((ValueError, FileNotFoundError), match=message) as e:
        load_model(TinyViT, TinyViTConfig, folder, "toy", "cpu")
    assert "save_pretrained" in str(e.value)


def test_weights_with_unknown_tensors_are_refused_by_name(tmp_path):
    folder = _saved_pair(tmp_path / "model")
    tensors = load_file(folder / "toy.safetensors")
    tensors["blocks.0.attn.extra"] = torch.zeros(2)
    save_file(tensors, folder / "toy.safetensors")
    with unchanged(folder), pytest.raises(ValueError, match=r"unknown tensors "
                                          r"\['blocks\.0\.attn\.extra'\]"):
        load_model(TinyViT, TinyViTConfig, folder, "toy", "cpu")


@pytest.mark.parametrize("load, save", [(load_pretrained, save_pretrained),
                                         (load_pretrained_gpt, save_pretrained_gpt)])
def test_both_course_loaders_name_the_damaged_file(tmp_path, load, save):
    save(load("cpu"), tmp_path)
    weights = next(tmp_path.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    with unchanged(tmp_path), pytest.raises(ValueError, match=weights.name):
        load("cpu", directory=tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("load", [load_pretrained, load_pretrained_gpt])
def test_asking_for_cuda_without_a_gpu_is_a_clear_error(load):
    with pytest.raises(RuntimeError, match=r"device='cuda' needs a CUDA GPU.*device='cpu'"):
        load("cuda")
