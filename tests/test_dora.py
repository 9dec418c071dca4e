"""DoRA from scratch (lora_tutorial.core.dora) against Hugging Face PEFT's use_dora=True: outputs,
gradients, parameter counts and adapter files both ways."""

import copy
import json
import math
import warnings

import peft
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from lora_tutorial import (count_parameters, inject_lora, load_adapter, lora_layers,
                           mark_only_lora_as_trainable, merge_and_unload, merge_lora,
                           save_adapter, unmerge_lora)
from lora_tutorial.core.dora import DoRALinear

TARGETS = ["0", "2"]


def _base():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.GELU(), nn.Linear(16, 6))


def _pair(r=4, alpha=8, dropout=0.0, use_rslora=False, seed=1):
    """Our DoRA model and PEFT's, from the same base and the same random A, with the same
    non-zero B and magnitudes (so the DoRA terms are really exercised)."""
    base = _base()
    ours = copy.deepcopy(base)
    torch.manual_seed(seed)
    inject_lora(ours, TARGETS, r=r, alpha=alpha, dropout=dropout, use_rslora=use_rslora,
                use_dora=True)
    mark_only_lora_as_trainable(ours)
    torch.manual_seed(seed)
    config = peft.LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, use_dora=True,
                             use_rslora=use_rslora, target_modules=TARGETS)
    theirs = peft.get_peft_model(copy.deepcopy(base), config)
    generator = torch.Generator().manual_seed(seed + 10)
    with torch.no_grad():
        for name, layer in lora_layers(ours):
            twin = theirs.base_model.model.get_submodule(name)
            assert torch.equal(layer.lora_A.weight, twin.lora_A["default"].weight)
            assert torch.allclose(layer.lora_magnitude_vector,
                                  twin.lora_magnitude_vector["default"].weight)
            b = torch.randn(layer.lora_B.weight.shape, generator=generator) * 0.3
            m = layer.lora_magnitude_vector * (1 + 0.2 * torch.randn(
                layer.lora_magnitude_vector.shape, generator=generator))
            for target, value in ((layer.lora_B.weight, b), (twin.lora_B["default"].weight, b),
                                  (layer.lora_magnitude_vector, m),
                                  (twin.lora_magnitude_vector["default"].weight, m)):
                target.copy_(value)
    return base, ours, theirs


def test_starts_as_the_base_model_with_magnitude_equal_to_the_row_norms():
    torch.manual_seed(0)
    linear = nn.Linear(10, 7)
    layer = DoRALinear(linear, r=2, alpha=4)
    assert torch.allclose(layer.lora_magnitude_vector, linear.weight.norm(dim=1))
    x = torch.randn(3, 10)
    assert torch.allclose(layer(x), linear(x), atol=1e-6)
    assert "dora=True" in repr(layer)


def test_forward_is_magnitude_times_direction():
    _, ours, _ = _pair()
    layer = ours[0]
    w = layer.base_layer.weight + layer.scaling * layer.lora_B.weight @ layer.lora_A.weight
    w_adapted = layer.lora_magnitude_vector[:, None] * w / w.norm(dim=1, keepdim=True)
    x = torch.randn(5, 12)
    assert torch.allclose(layer(x), x @ w_adapted.T + layer.base_layer.bias, atol=1e-5)
    # The adapted rows have exactly the trained lengths.
    assert torch.allclose(w_adapted.norm(dim=1), layer.lora_magnitude_vector, atol=1e-5)


@pytest.mark.parametrize("use_rslora", [False, True])
def test_outputs_and_gradients_match_peft(use_rslora):
    _, ours, theirs = _pair(use_rslora=use_rslora)
    x = torch.randn(32, 12, generator=torch.Generator().manual_seed(5))
    out_ours, out_theirs = ours(x), theirs(x)
    assert (out_ours - out_theirs).abs().max() < 1e-5
    out_ours.square().sum().backward()
    out_theirs.square().sum().backward()
    for name, layer in lora_layers(ours):
        twin = theirs.base_model.model.get_submodule(name)
        for mine, peft_param in ((layer.lora_A.weight, twin.lora_A["default"].weight),
                                 (layer.lora_B.weight, twin.lora_B["default"].weight),
                                 (layer.lora_magnitude_vector,
                                  twin.lora_magnitude_vector["default"].weight)):
            assert torch.allclose(mine.grad, peft_param.grad, rtol=1e-4, atol=1e-5)


def test_the_norm_is_a_constant_in_the_backward_pass():
    # PEFT (and the paper, §4.3) detach ‖W0 + s·B·A‖. With the norm inside the graph, the
    # gradient of A would differ; this is the check that catches a missing .detach().
    _, ours, _ = _pair()
    layer = ours[0]
    x = torch.randn(8, 12, generator=torch.Generator().manual_seed(6))
    layer(x).sum().backward()
    grad_detached = layer.lora_A.weight.grad.clone()
    layer.lora_A.weight.grad = None
    w = layer.base_layer.weight + layer.scaling * layer.lora_B.weight @ layer.lora_A.weight
    full = x @ (layer.lora_magnitude_vector[:, None] * w / w.norm(dim=1, keepdim=True)).T
    full.sum().backward()
    assert not torch.allclose(grad_detached, layer.lora_A.weight.grad, atol=1e-4)


def test_dropout_matches_peft_in_training_mode():
    _, ours, theirs = _pair(dropout=0.3)
    ours.train()
    theirs.train()
    x = torch.randn(16, 12, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(3)
    out_ours = ours(x)
    torch.manual_seed(3)
    out_theirs = theirs(x)
    assert (out_ours - out_theirs).abs().max() < 1e-5


def test_parameter_count_is_peft_s_line():
    _, ours, theirs = _pair()
    trainable, total = theirs.get_nb_trainable_parameters()
    count = count_parameters(ours)
    assert (count.trainable, count.total) == (trainable, total)
    # A (r×k), B (d×r) and one magnitude per output unit
    assert count.trainable == 4 * (12 + 16) + 16 + 4 * (16 + 6) + 6


def test_merge_unmerge_and_merge_and_unload():
    base, ours, theirs = _pair()
    x = torch.randn(10, 12)
    with torch.no_grad():
        expected = ours(x)
        merge_lora(ours)
        assert torch.allclose(ours(x), expected, atol=1e-5)
        unmerge_lora(ours)
        assert torch.allclose(ours[0].base_layer.weight, base[0].weight, atol=1e-5)
        assert torch.allclose(ours(x), expected, atol=1e-5)
        with pytest.raises(RuntimeError, match="merged"):
            merge_lora(ours)
            ours[0].delta_weight()
        unmerge_lora(ours)
        plain = merge_and_unload(copy.deepcopy(ours))
        peft_plain = copy.deepcopy(theirs).merge_and_unload()
        assert isinstance(plain[0], nn.Linear)
        assert torch.allclose(plain(x), peft_plain(x), atol=1e-5)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ours[0].unmerge()
        assert "not merged" in str(caught[0].message)


def test_our_dora_adapter_loads_in_peft(tmp_path):
    base, ours, _ = _pair()
    save_adapter(ours, tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["use_dora"] is True
    keys = sorted(load_file(tmp_path / "adapter_model.safetensors"))
    assert "base_model.model.0.lora_magnitude_vector" in keys and len(keys) == 6
    loaded = peft.PeftModel.from_pretrained(copy.deepcopy(base), tmp_path)
    x = torch.randn(9, 12)
    with torch.no_grad():
        assert (loaded(x) - ours(x)).abs().max() < 1e-5


def test_peft_dora_adapter_loads_in_ours(tmp_path):
    base, _, theirs = _pair()
    theirs.save_pretrained(tmp_path)
    mine = copy.deepcopy(base)
    assert load_adapter(mine, tmp_path) == TARGETS
    assert all(isinstance(layer, DoRALinear) for _, layer in lora_layers(mine))
    x = torch.randn(9, 12)
    with torch.no_grad():
        assert (mine(x) - theirs(x)).abs().max() < 1e-5
    # Loading into existing DoRA layers overwrites the magnitudes too.
    again = copy.deepcopy(base)
    inject_lora(again, TARGETS, r=4, alpha=8, use_dora=True)
    load_adapter(again, tmp_path)
    with torch.no_grad():
        assert (again(x) - theirs(x)).abs().max() < 1e-5


def test_lora_and_dora_files_do_not_mix(tmp_path):
    base, ours, _ = _pair()
    save_adapter(ours, tmp_path / "dora")
    plain = copy.deepcopy(base)
    inject_lora(plain, TARGETS, r=4, alpha=8)
    before = copy.deepcopy(plain.state_dict())
    with pytest.raises(ValueError, match="DoRA"):
        load_adapter(plain, tmp_path / "dora")
    assert all(torch.equal(before[k], v) for k, v in plain.state_dict().items())
    save_adapter(plain, tmp_path / "lora")
    assert "use_dora" not in json.loads((tmp_path / "lora" / "adapter_config.json").read_text())
    with pytest.raises(ValueError, match="DoRA"):
        load_adapter(ours, tmp_path / "lora")


def test_mixed_lora_and_dora_layers_are_not_saved_as_one_adapter(tmp_path):
    model = _base()
    inject_lora(model, ["0"], r=2, use_dora=True)
    inject_lora(model, ["2"], r=2)
    with pytest.raises(ValueError, match="LoRA or DoRA"):
        save_adapter(model, tmp_path)
    assert not (tmp_path / "adapter_model.safetensors").exists()


def test_scaling_follows_rslora():
    layer = DoRALinear(nn.Linear(8, 8), r=16, alpha=8, use_rslora=True)
    assert layer.scaling == pytest.approx(8 / math.sqrt(16))
