"""LoRASettings: LoRA's settings checked once, and the one value that travels from inject_lora
through the layers into adapter files and back."""

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from toy_models import toy_model
from torch import nn

import lora_tutorial
from lora_tutorial import (LoRALinear, check_lora_settings, inject_lora, load_adapter,
                           lora_layers, lora_scaling, mark_only_lora_as_trainable, save_adapter)
from lora_tutorial.core.adapters import check_adapter_config
from lora_tutorial.core.settings import LoRASettings


@pytest.mark.parametrize("fields, message", [
    ({"r": 0}, "rank r must be a positive integer"), ({"r": 2.0}, "rank r must be"),
    ({"r": True}, "rank r must be"), ({"alpha": "16"}, "alpha must be a number"),
    ({"alpha": float("nan")}, "alpha must be finite"),
    ({"dropout": 1.0}, r"dropout must be a probability in \[0, 1\)"),
    ({"use_rslora": "no"}, "use_rslora must be True or False"),
    ({"use_dora": 1}, "use_dora must be True or False"),
])
def test_every_field_is_checked_when_the_settings_are_made(fields, message):
    with pytest.raises(ValueError, match=message):
        LoRASettings(**{"r": 4, "alpha": 8, **fields})


def test_values_become_plain_python_numbers_and_cannot_change():
    settings = LoRASettings(np.int64(4), np.float32(2.0), np.float64(0.25))
    assert (type(settings.r), type(settings.alpha), type(settings.dropout)) == (int, float, float)
    integer_alpha = LoRASettings(4, np.int32(8)).alpha
    assert integer_alpha == 8 and type(integer_alpha) is int
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.r = 8


def test_scaling_is_alpha_over_r_or_over_sqrt_r():
    assert LoRASettings(4, 16).scaling == 4
    assert LoRASettings(4, 16, use_rslora=True).scaling == 8
    assert lora_scaling(16, 4) == 4 and lora_scaling(16, 16, use_rslora=True) == 4
    assert check_lora_settings(np.int64(3), 6) == (3, 6, 0.0, False)


def test_the_rank_is_checked_in_one_place(monkeypatch):
    """inject_lora, LoRALinear and an adapter config all ask LoRASettings, and it alone."""
    seen = []
    real = LoRASettings.__post_init__

    def counting(self):
        seen.append(self.r)
        real(self)

    monkeypatch.setattr(LoRASettings, "__post_init__", counting)
    for make in (lambda: inject_lora(toy_model(), ["q_proj"], r=0),
                 lambda: LoRALinear(nn.Linear(4, 4), r=0, alpha=1),
                 lambda: check_adapter_config({"r": 0, "lora_alpha": 8, "target_modules": ["q"]})):
        seen.clear()
        with pytest.raises(ValueError, match="rank r"):
            make()
        assert seen == [0]
    package = Path(lora_tutorial.__file__).parent
    checks = [path.name for path in package.rglob("*.py") if "rank r must be" in path.read_text()]
    assert checks == ["settings.py"]


def test_the_settings_travel_from_inject_to_the_file_and_back(tmp_path):
    model = toy_model()
    inject_lora(model, ["q_proj", "fc1"], r=4, alpha=8, dropout=0.1, use_rslora=True)
    mark_only_lora_as_trainable(model)
    expected = LoRASettings(4, 8, 0.1, use_rslora=True)
    assert {layer.settings for _, layer in lora_layers(model)} == {expected}
    layer = model.blocks[0].attn.q_proj
    assert (layer.r, layer.alpha, layer.use_rslora) == (4, 8, True)
    assert layer.scaling == 8 / math.sqrt(4) and layer.lora_dropout.p == 0.1
    save_adapter(model, tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert check_adapter_config(config).settings == expected
    again = toy_model()
    load_adapter(again, tmp_path)
    assert {layer.settings for _, layer in lora_layers(again)} == {expected}


def test_retune_keeps_the_shape_settings_and_the_training_mode():
    layer = LoRALinear(nn.Linear(4, 4), r=2, alpha=2).eval()
    layer.retune(LoRASettings(2, 6, dropout=0.5))
    assert layer.scaling == 3 and not layer.lora_dropout.training   # eval stays eval
    x = torch.randn(3, 4)
    assert torch.equal(layer(x), layer(x))
    with pytest.raises(ValueError, match="fix the shapes"):
        layer.retune(LoRASettings(4, 6))
    assert layer.settings == LoRASettings(2, 6, dropout=0.5)
