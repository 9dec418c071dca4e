"""lora_tutorial.course.experiments.peft_parity: the course's LoRA against PEFT's, as records."""

import json
import warnings

import peft
import pytest
import torch
from torch import nn

from lora_tutorial import count_parameters, inject_lora, mark_only_lora_as_trainable, save_adapter
from lora_tutorial.course.experiments.peft_parity import (file_parity, get_peft_model_quietly,
                                                          peft_trainable_line, start_parity,
                                                          tensor_shapes)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(6, 6)
        self.v_proj = nn.Linear(6, 6)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        return self.out(self.q_proj(x) + self.v_proj(x))


def pair(seed=0):
    """The same base, adapted by us and by PEFT under one seed."""
    torch.manual_seed(5)
    base = Tiny()
    ours, theirs = Tiny(), Tiny()
    ours.load_state_dict(base.state_dict())
    theirs.load_state_dict(base.state_dict())
    torch.manual_seed(seed)
    inject_lora(ours, ["q_proj", "v_proj"], r=2, alpha=4)
    mark_only_lora_as_trainable(ours)
    torch.manual_seed(seed)
    peft_model = get_peft_model_quietly(theirs, peft.LoraConfig(
        r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]))
    return ours, peft_model


def test_the_captured_line_is_what_peft_prints_and_what_we_count(capsys):
    ours, peft_model = pair()
    line = peft_trainable_line(peft_model)
    assert capsys.readouterr().out == ""                 # captured, not printed
    peft_model.print_trainable_parameters()
    assert capsys.readouterr().out.strip() == line
    assert line == str(count_parameters(ours))
    assert line.startswith("trainable params: 48 ||")   # 2 layers × 2·(6 + 6)


def test_start_parity_under_one_seed_and_not_under_two():
    ours, peft_model = pair()
    start = start_parity(ours, peft_model)
    assert (start.layers, start.same_A, start.zero_B, start.same) == (2, 2, 2, True)
    other, _ = pair(seed=1)
    assert start_parity(other, peft_model).same_A == 0


def test_start_parity_sees_a_non_zero_b():
    ours, peft_model = pair()
    with torch.no_grad():
        peft_model.base_model.model.v_proj.lora_B["default"].weight.fill_(0.5)
    start = start_parity(ours, peft_model)
    assert start.zero_B == 1 and not start.same


def test_file_parity_of_our_and_peft_files(tmp_path):
    ours, peft_model = pair()
    save_adapter(ours, tmp_path / "ours")
    peft_model.save_pretrained(tmp_path / "peft")
    parity = file_parity({"ours": tmp_path / "ours", "PEFT": tmp_path / "peft"})
    assert parity.common_files == ["adapter_config.json", "adapter_model.safetensors"]
    assert parity.same_tensors and len(parity.shapes["ours"]) == 4
    assert parity.shapes["ours"]["base_model.model.q_proj.lora_A.weight"] == (2, 6)
    assert parity.configs["PEFT"]["r"] == parity.configs["ours"]["r"] == 2


def test_file_parity_sees_a_different_shape(tmp_path):
    ours, peft_model = pair()
    save_adapter(ours, tmp_path / "ours")
    _, other = pair()
    other.base_model.model.q_proj.lora_A["default"].weight = nn.Parameter(torch.zeros(3, 6))
    other.save_pretrained(tmp_path / "other")
    assert not file_parity({"ours": tmp_path / "ours", "other": tmp_path / "other"}).same_tensors
    assert tensor_shapes(tmp_path / "other" / "adapter_model.safetensors")[
        "base_model.model.q_proj.lora_A.weight"] == (3, 6)


def test_file_parity_compares_exactly_two_folders(tmp_path):
    with pytest.raises(ValueError, match="exactly two"):
        file_parity({"one": tmp_path})


def test_only_the_libraries_deprecation_warning_is_silenced(monkeypatch):
    def noisy(model, config):
        warnings.warn("`is_gradient_checkpointing` is deprecated", FutureWarning)
        warnings.warn("something else", UserWarning)
        return model

    monkeypatch.setattr(peft, "get_peft_model", noisy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        get_peft_model_quietly(nn.Linear(2, 2), None)
    assert [str(w.message) for w in caught] == ["something else"]
