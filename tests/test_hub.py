"""Saving and loading a course model as a hub does: safetensors weights + a JSON config."""

import json

import pytest
import torch
from safetensors.torch import load_file

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
