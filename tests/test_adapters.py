"""lora_tutorial.core.adapters: adapter files in PEFT's format, and parity with PEFT itself."""

import copy
import json
import os
import warnings
from pathlib import Path

import peft
import pytest
import torch
from refusal import unchanged
from safetensors.torch import load_file, save_file
from toy_models import assert_same_weights, randomize_lora_b, toy_input, toy_model, weights_snapshot
from transformers import LlamaConfig, LlamaForCausalLM

from lora_tutorial import (count_parameters, inject_lora, load_adapter, lora_layers, read_adapter,
                           mark_only_lora_as_trainable, merge_and_unload, save_adapter)

TARGETS = ["q_proj", "v_proj", "fc1"]


def ours(seed=0, r=4, alpha=8, targets=TARGETS, use_rslora=False):
    model = toy_model(seed)
    inject_lora(model, targets, r=r, alpha=alpha, use_rslora=use_rslora)
    mark_only_lora_as_trainable(model)
    return model


def theirs(seed=0, r=4, alpha=8, targets=TARGETS, use_rslora=False):
    config = peft.LoraConfig(r=r, lora_alpha=alpha, target_modules=targets,
                             use_rslora=use_rslora)
    return peft.get_peft_model(toy_model(seed), config)


@pytest.mark.parametrize("use_rslora", [False, True])
def test_same_weights_give_same_outputs_and_counts_as_peft(use_rslora):
    mine, peft_model, x = ours(use_rslora=use_rslora), theirs(use_rslora=use_rslora), toy_input()
    randomize_lora_b(mine)
    # Copy our LoRA tensors into PEFT's model; the key names differ only by ".default".
    peft_state = peft_model.state_dict()
    for name, layer in lora_layers(mine):
        for part in ("lora_A", "lora_B"):
            key = f"base_model.model.{name}.{part}.default.weight"
            peft_state[key] = getattr(layer, part).weight.detach().clone()
    peft_model.load_state_dict(peft_state)
    assert torch.allclose(mine(x), peft_model(x), atol=1e-6)
    trainable, total = peft_model.get_nb_trainable_parameters()
    count = count_parameters(mine)
    assert (count.trainable, count.total) == (trainable, total)


def test_initialisation_is_peft_s_under_the_same_seed():
    # Same seed, same random draws in the same order: A is bit-identical to PEFT's, B is 0.
    mine, base_for_peft = toy_model(), toy_model()
    torch.manual_seed(123)
    inject_lora(mine, TARGETS, r=4, alpha=8)
    torch.manual_seed(123)
    peft_model = peft.get_peft_model(base_for_peft, peft.LoraConfig(
        r=4, lora_alpha=8, target_modules=TARGETS))
    for name, layer in lora_layers(mine):
        theirs_layer = peft_model.get_submodule(f"base_model.model.{name}")
        assert torch.equal(layer.lora_A.weight, theirs_layer.lora_A["default"].weight), name
        assert torch.equal(layer.lora_B.weight, theirs_layer.lora_B["default"].weight), name
        assert torch.count_nonzero(layer.lora_B.weight) == 0
        assert layer.scaling == theirs_layer.scaling["default"]


def test_our_adapter_loads_in_peft_with_identical_outputs(tmp_path):
    mine, x = ours(), toy_input()
    randomize_lora_b(mine)
    save_adapter(mine, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter_config.json",
                                                           "adapter_model.safetensors"]
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["target_modules"] == ["fc1", "q_proj", "v_proj"]
    assert config["r"] == 4 and config["lora_alpha"] == 8
    peft_model = peft.PeftModel.from_pretrained(toy_model(), tmp_path)
    assert torch.allclose(peft_model(x), mine(x), atol=1e-6)


def test_peft_adapter_loads_in_ours_with_identical_outputs(tmp_path):
    peft_model, x = theirs(), toy_input()
    randomize_lora_b(peft_model)
    peft_model.save_pretrained(tmp_path)
    mine = toy_model()
    names = load_adapter(mine, tmp_path)
    assert len(names) == 6
    assert torch.allclose(mine(x), peft_model(x), atol=1e-6)


def test_adapter_file_holds_only_lora_tensors(tmp_path):
    mine = ours()
    save_adapter(mine, tmp_path)
    keys = set(load_file(tmp_path / "adapter_model.safetensors"))
    assert len(keys) == 12
    assert all(k.startswith("base_model.model.") and (".lora_A." in k or ".lora_B." in k)
               for k in keys)


def test_partial_targets_are_saved_by_full_name(tmp_path):
    mine, x = ours(targets=r"blocks\.0\.attn\.q_proj"), toy_input()
    randomize_lora_b(mine)
    save_adapter(mine, tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["target_modules"] == ["blocks.0.attn.q_proj"]
    reloaded = toy_model()
    assert load_adapter(reloaded, tmp_path) == ["blocks.0.attn.q_proj"]
    assert torch.allclose(reloaded(x), mine(x))


def test_swapping_adapters_in_place(tmp_path):
    first, second, x = ours(seed=0), ours(seed=0, alpha=4), toy_input()
    randomize_lora_b(first, seed=10)
    randomize_lora_b(second, seed=11)
    save_adapter(first, tmp_path / "a")
    save_adapter(second, tmp_path / "b")
    model = ours(seed=0)
    load_adapter(model, tmp_path / "a")
    assert torch.allclose(model(x), first(x))
    load_adapter(model, tmp_path / "b")
    assert torch.allclose(model(x), second(x))
    assert all(layer.scaling == 1.0 for _, layer in lora_layers(model))


def test_wrong_rank_is_refused_naming_the_tensor_and_model_unchanged(tmp_path):
    save_adapter(ours(r=2), tmp_path)
    model = ours(r=4)
    snapshot = weights_snapshot(model)
    with pytest.raises(ValueError, match=r"Shape mismatch for base_model\.model\.blocks\.0\."
                                         r"attn\.q_proj\.lora_A\.weight.*\(2, 8\).*\(4, 8\)"):
        load_adapter(model, tmp_path)
    assert_same_weights(model, snapshot)


def test_missing_key_is_refused_and_nothing_injected(tmp_path):
    save_adapter(ours(), tmp_path)
    tensors = load_file(tmp_path / "adapter_model.safetensors")
    del tensors["base_model.model.blocks.1.fc1.lora_B.weight"]
    save_file(tensors, tmp_path / "adapter_model.safetensors")
    model = toy_model()
    snapshot = weights_snapshot(model)
    with pytest.raises(ValueError, match=r"Missing tensors: \['base_model\.model\.blocks\.1"
                                         r"\.fc1\.lora_B\.weight'\]"):
        load_adapter(model, tmp_path)
    assert not list(lora_layers(model))
    assert_same_weights(model, snapshot)


def test_adapter_for_another_model_is_refused(tmp_path):
    save_adapter(ours(), tmp_path)
    model = toy_model(d=16)
    snapshot = weights_snapshot(model)
    with pytest.raises(ValueError, match="Shape mismatch"):
        load_adapter(model, tmp_path)
    assert not list(lora_layers(model))
    assert_same_weights(model, snapshot)


def test_unexpected_tensors_are_named(tmp_path):
    save_adapter(ours(targets=["q_proj", "v_proj", "fc1", "fc2"]), tmp_path)
    model = ours()
    with pytest.raises(ValueError, match=r"no place for: \[.*fc2\.lora_A"):
        load_adapter(model, tmp_path)


def test_missing_files_and_empty_models(tmp_path):
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        load_adapter(toy_model(), tmp_path)
    with pytest.raises(ValueError, match="no LoRA layers"):
        save_adapter(toy_model(), tmp_path)


def test_merged_model_must_be_unmerged_before_loading(tmp_path):
    model = ours()
    save_adapter(model, tmp_path)
    model.blocks[0].attn.q_proj.merge()
    with pytest.raises(RuntimeError, match="Unmerge"):
        load_adapter(model, tmp_path)


def test_merge_and_unload_matches_peft():
    mine, peft_model, x = ours(), theirs(), toy_input()
    randomize_lora_b(mine)
    for name, layer in lora_layers(mine):
        target = peft_model.get_submodule(f"base_model.model.{name}")
        target.lora_A["default"].weight.data.copy_(layer.lora_A.weight)
        target.lora_B["default"].weight.data.copy_(layer.lora_B.weight)
    plain_ours, plain_peft = merge_and_unload(mine), peft_model.merge_and_unload()
    assert torch.allclose(plain_ours(x), plain_peft(x), atol=1e-6)
    assert set(plain_ours.state_dict()) == set(plain_peft.state_dict())


def test_saving_warns_about_trained_tensors_outside_the_adapter(tmp_path):
    model = ours()
    mark_only_lora_as_trainable(model, bias="all")
    with pytest.warns(UserWarning, match=r"will not be in the adapter: \['blocks\.0\.norm\.bias'"):
        save_adapter(model, tmp_path)
    assert (tmp_path / "adapter_model.safetensors").is_file()


def edit_config(directory, **changes):
    path = directory / "adapter_config.json"
    config = json.loads(path.read_text())
    for key, value in changes.items():
        if value is DELETE:
            del config[key]
        else:
            config[key] = value
    path.write_text(json.dumps(config))


DELETE = object()
BAD_CONFIGS = [
    ({"lora_alpha": "8"}, "alpha must be a number"),
    ({"lora_alpha": None}, "alpha must be a number"),
    ({"lora_alpha": float("nan")}, "alpha must be finite"),
    ({"r": "4"}, "rank r must be a positive integer"),
    ({"r": 0}, "rank r must be a positive integer"),
    ({"r": True}, "rank r must be a positive integer"),
    ({"use_rslora": "false"}, "use_rslora must be True or False"),
    ({"lora_dropout": 1.5}, "dropout must be a probability"),
    ({"target_modules": []}, "target_modules must be"),
    ({"target_modules": ["q_proj", 3]}, "target_modules must be"),
    ({"target_modules": {"q_proj": 1}}, "target_modules must be"),
    ({"target_modules": ["query"]}, "matched no module"),
    ({"fan_in_fan_out": "yes"}, "fan_in_fan_out must be true or false"),
    ({"bias": "all"}, "only bias='none' is supported"),
    ({"modules_to_save": ["head"]}, r"does not implement: modules_to_save=\['head'\]"),
    ({"use_dora": "yes"}, "use_dora must be true or false"),
    ({"layers_to_transform": [0]}, "does not implement: layers_to_transform"),
    ({"some_future_setting": 3}, "does not implement: some_future_setting=3"),
    ({"peft_type": "IA3"}, "holds a 'IA3' adapter, not LoRA"),
    ({"rank_pattern": {"q_proj": "8"}}, "rank r must be a positive integer"),
    ({"rank_pattern": ["q_proj"]}, "rank_pattern must be a mapping"),
    ({"alpha_pattern": {"(": 2}}, "alpha_pattern has an invalid pattern"),
    ({"alpha_pattern": {"q_proj": float("inf")}}, "alpha must be finite"),
    ({"r": DELETE}, r"required fields are missing: \['r'\]"),
    ({"target_modules": DELETE}, r"missing: \['target_modules'\]"),
]


@pytest.mark.parametrize("changes, message", BAD_CONFIGS)
def test_every_config_field_is_checked_before_any_change(tmp_path, changes, message):
    save_adapter(ours(), tmp_path)
    edit_config(tmp_path, **changes)
    # A fresh model, and one with LoRA layers already (whose tensors the file's keys select).
    models = [toy_model()] if "target_modules" in changes else [toy_model(), ours(alpha=2)]
    for model in models:
        snapshot = weights_snapshot(model)
        layers_before = [(name, layer.alpha) for name, layer in lora_layers(model)]
        with pytest.raises(ValueError, match=message) as err:
            load_adapter(model, tmp_path)
        assert "adapter_config.json" in str(err.value)            # names the file
        assert [(n, layer.alpha) for n, layer in lora_layers(model)] == layers_before
        assert_same_weights(model, snapshot)


@pytest.mark.parametrize("text, message", [("[1, 2]", "must be a JSON object, got a list"),
                                           ("{\"r\": 4,", "is not valid JSON"),
                                           ("", "is not valid JSON")])
def test_unreadable_configs_name_the_file(tmp_path, text, message):
    save_adapter(ours(), tmp_path)
    (tmp_path / "adapter_config.json").write_text(text)
    model = toy_model()
    with pytest.raises(ValueError, match=message) as err:
        load_adapter(model, tmp_path)
    assert str(tmp_path / "adapter_config.json") in str(err.value)
    assert not list(lora_layers(model))


def test_corrupt_weights_name_the_file(tmp_path):
    save_adapter(ours(), tmp_path)
    (tmp_path / "adapter_model.safetensors").write_bytes(b"not safetensors")
    model = toy_model()
    with pytest.raises(ValueError, match=r"adapter_model\.safetensors is not a readable"):
        load_adapter(model, tmp_path)
    assert not list(lora_layers(model))


PATTERNS = {"rank_pattern": {"q_proj": 2, r"blocks\.1\.fc1": 6},
            "alpha_pattern": {"v_proj": 3, "fc1": 12}}


def test_peft_rank_and_alpha_patterns_give_peft_s_outputs(tmp_path):
    peft_model = peft.get_peft_model(toy_model(), peft.LoraConfig(
        r=4, lora_alpha=8, target_modules=TARGETS, **PATTERNS))
    randomize_lora_b(peft_model)
    peft_model.save_pretrained(tmp_path)
    mine, x = toy_model(), toy_input()
    load_adapter(mine, tmp_path)
    layers = dict(lora_layers(mine))
    assert [layers[f"blocks.{i}.{n}"].r for i in (0, 1)
            for n in ("attn.q_proj", "attn.v_proj", "fc1")] == [2, 4, 4, 2, 4, 6]
    assert [layers[f"blocks.{i}.{n}"].alpha for i in (0, 1)
            for n in ("attn.q_proj", "attn.v_proj", "fc1")] == [8, 3, 12, 8, 3, 12]
    for name, layer in layers.items():
        theirs = peft_model.get_submodule(f"base_model.model.{name}")
        assert layer.scaling == theirs.scaling["default"], name
    assert torch.allclose(mine(x), peft_model(x), atol=1e-6)


def test_layers_with_different_ranks_save_patterns_that_peft_loads(tmp_path):
    mine, x = toy_model(), toy_input()
    inject_lora(mine, ["q_proj", "v_proj"], r=4, alpha=8)
    inject_lora(mine, r"blocks\.1\.fc1", r=6, alpha=3)
    mark_only_lora_as_trainable(mine)
    randomize_lora_b(mine)
    save_adapter(mine, tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (4, 8)
    assert config["rank_pattern"] == {r"blocks\.1\.fc1": 6}
    assert config["alpha_pattern"] == {r"blocks\.1\.fc1": 3}
    peft_model = peft.PeftModel.from_pretrained(toy_model(), tmp_path)
    assert torch.allclose(peft_model(x), mine(x), atol=1e-6)
    again = toy_model()
    load_adapter(again, tmp_path)
    assert torch.allclose(again(x), mine(x), atol=1e-6)


def adapter_bytes(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_a_failed_write_leaves_the_old_adapter(tmp_path, monkeypatch):
    import lora_tutorial.core.adapters as adapters

    save_adapter(ours(seed=0), tmp_path)
    before = adapter_bytes(tmp_path)

    def broken_save_file(tensors, path, metadata=None):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(adapters, "save_file", broken_save_file)
    with pytest.raises(OSError, match="disk full"):
        save_adapter(ours(seed=1, alpha=2), tmp_path)
    assert adapter_bytes(tmp_path) == before          # no temporary files left either


def test_a_failed_move_puts_the_old_adapter_back(tmp_path, monkeypatch):
    save_adapter(ours(seed=0), tmp_path)
    before = adapter_bytes(tmp_path)
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("adapter_config.json") and str(src).endswith(".tmp"):
            raise OSError("cannot rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="cannot rename"):
        save_adapter(ours(seed=1, alpha=2), tmp_path)
    assert adapter_bytes(tmp_path) == before


def test_saving_never_writes_through_a_symlink(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (outside / name).write_text("precious")
    folder = tmp_path / "adapter"
    folder.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (folder / name).symlink_to(outside / name)
    mine, x = ours(), toy_input()
    save_adapter(mine, folder)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        assert (outside / name).read_text() == "precious"
        assert not (folder / name).is_symlink()
    reloaded = toy_model()
    load_adapter(reloaded, folder)
    assert torch.allclose(reloaded(x), mine(x))


def test_peft_s_saved_embedding_table_is_loaded_as_peft_does(tmp_path):
    torch.manual_seed(0)
    base = LlamaForCausalLM(LlamaConfig(hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                                        num_attention_heads=2, vocab_size=20))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)    # between PEFT and transformers
        peft_model = peft.get_peft_model(copy.deepcopy(base), peft.LoraConfig(
            r=2, target_modules=["embed_tokens"]))
    table = peft_model.base_model.model.model.embed_tokens.base_layer.weight
    with torch.no_grad():
        table.add_(1.0)                                  # as if the vocabulary was changed
    with pytest.warns(UserWarning, match="save_embedding_layers"):
        peft_model.save_pretrained(tmp_path)
    assert "base_model.model.model.embed_tokens.base_layer.weight" in load_file(
        tmp_path / "adapter_model.safetensors")
    mine = copy.deepcopy(base)
    with pytest.warns(UserWarning, match="W0 of that embedding was replaced"):
        load_adapter(mine, tmp_path)
    assert torch.equal(mine.model.embed_tokens.base_layer.weight, table)


def test_swapping_in_place_takes_the_adapter_s_dropout_too(tmp_path):
    donor = toy_model()
    inject_lora(donor, TARGETS, r=4, alpha=8, dropout=0.2)
    mark_only_lora_as_trainable(donor)
    save_adapter(donor, tmp_path)
    model = ours()                                    # dropout 0 so far
    load_adapter(model, tmp_path)
    assert all(layer.lora_dropout.p == 0.2 for _, layer in lora_layers(model))


# A failed load leaves the model exactly as it was: weights, layers, requires_grad, warnings.

def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))


def _flags(model):
    return {name: p.requires_grad for name, p in model.named_parameters()}


def _assert_load_refused_and_nothing_changed(model, directory, match):
    snapshot, flags = weights_snapshot(model), _flags(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match=match):
            load_adapter(model, directory)
    assert [str(w.message) for w in caught] == []
    assert not list(lora_layers(model))
    assert _flags(model) == flags
    assert_same_weights(model, snapshot)


def test_a_wrong_shape_leaves_requires_grad_as_it_was(tmp_path):
    donor = _mlp()
    inject_lora(donor, ["0", "2"], r=2, alpha=4)
    save_adapter(donor, tmp_path)
    tensors = load_file(tmp_path / "adapter_model.safetensors")
    tensors["base_model.model.2.lora_A.weight"] = torch.zeros(3, 6)    # r=3, not 2
    save_file(tensors, tmp_path / "adapter_model.safetensors")
    model = _mlp()
    model[0].bias.requires_grad_(False)          # a mix of flags, each to be kept
    _assert_load_refused_and_nothing_changed(model, tmp_path, "Shape mismatch")


def test_a_dora_adapter_for_a_conv1d_target_leaves_the_model_as_it_was(tmp_path):
    from transformers.pytorch_utils import Conv1D

    donor = _mlp()
    inject_lora(donor, ["0", "2"], r=2, alpha=4, use_dora=True)
    save_adapter(donor, tmp_path)
    model = _mlp()
    model[0] = Conv1D(6, 4)                      # GPT-2's layer: no DoRA here
    _assert_load_refused_and_nothing_changed(model, tmp_path, "describes a DoRA adapter")


def _tied(seed=0):
    """A token embedding and an output layer that share one weight (10 tokens, 4 dims)."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 10, bias=False))
    model[1].weight = model[0].weight
    return model


def test_a_failed_load_does_not_warn_about_tied_weights(tmp_path):
    donor = _mlp()
    donor[2] = torch.nn.Linear(4, 10, bias=False)
    inject_lora(donor, ["2"], r=2, alpha=4)
    mark_only_lora_as_trainable(donor)
    save_adapter(donor, tmp_path / "good")
    tensors = load_file(tmp_path / "good" / "adapter_model.safetensors")
    config = json.loads((tmp_path / "good" / "adapter_config.json").read_text())
    config["target_modules"] = ["1"]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "adapter_config.json").write_text(json.dumps(config))
    save_file({"base_model.model.1.lora_A.weight": torch.zeros(3, 4),       # r=3, not 2
               "base_model.model.1.lora_B.weight": tensors["base_model.model.2.lora_B.weight"]},
              tmp_path / "bad" / "adapter_model.safetensors")
    _assert_load_refused_and_nothing_changed(_tied(), tmp_path / "bad", "Shape mismatch")
    # The same adapter with the right shapes loads, and then warns about the tie.
    save_file({key.replace(".2.", ".1."): t for key, t in tensors.items()},
              tmp_path / "bad" / "adapter_model.safetensors")
    with pytest.warns(UserWarning, match="weight tying"):
        load_adapter(_tied(), tmp_path / "bad")


def _embedding_adapter(directory, table_change, model=None):
    """Save an adapter on embedding "0" whose file also holds the table (as PEFT saves it)."""
    donor = model if model is not None else torch.nn.Sequential(torch.nn.Embedding(10, 4))
    inject_lora(donor, ["0"], r=2, alpha=4)
    save_adapter(donor, directory)
    tensors = load_file(directory / "adapter_model.safetensors")
    tensors["base_model.model.0.base_layer.weight"] = (
        donor[0].base_layer.weight.detach() + table_change)
    save_file(tensors, directory / "adapter_model.safetensors")
    return tensors["base_model.model.0.base_layer.weight"]


def test_a_changed_embedding_table_is_loaded_with_a_warning(tmp_path):
    table = _embedding_adapter(tmp_path, 1.0)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(10, 4))
    with pytest.warns(UserWarning, match="W0 of that embedding was replaced"):
        load_adapter(model, tmp_path)
    assert torch.equal(model[0].base_layer.weight, table)


def test_an_unchanged_embedding_table_loads_silently(tmp_path):
    torch.manual_seed(0)
    _embedding_adapter(tmp_path, 0.0, torch.nn.Sequential(torch.nn.Embedding(10, 4)))
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(10, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_adapter(model, tmp_path)


def test_a_changed_table_shared_with_another_module_is_refused(tmp_path):
    with pytest.warns(UserWarning, match="weight tying"):
        _embedding_adapter(tmp_path, 1.0, _tied())
    _assert_load_refused_and_nothing_changed(_tied(), tmp_path, r"shared with \['1'\]")
    # Swapping into a tied model that is already adapted is refused too, leaving it as it was.
    model = _tied()
    with pytest.warns(UserWarning, match="weight tying"):
        inject_lora(model, ["0"], r=2, alpha=4)
    snapshot = weights_snapshot(model)
    with pytest.raises(ValueError, match="shared with"):
        load_adapter(model, tmp_path)
    assert_same_weights(model, snapshot)


# Faults: every refusal names what was wrong and leaves the model and the files as they were.

@pytest.mark.parametrize("changes, message", [
    ({"r": 8}, r"ranks disagree.*blocks\.0\.attn\.q_proj \(file r=8, layer r=4\)"),
    ({"rank_pattern": {"fc1": 2}}, r"ranks disagree.*blocks\.0\.fc1 \(file r=2, layer r=4\)"),
    ({"target_modules": ["q_proj"]}, r"selects \['blocks\.0\.attn\.q_proj', 'blocks\.1\.attn"
                                     r"\.q_proj'\] in this model, but the model's LoRA layers"),
])
def test_a_file_that_disagrees_with_the_model_s_lora_layers_is_refused(tmp_path, changes,
                                                                          message):
    save_adapter(ours(), tmp_path)
    edit_config(tmp_path, **changes)
    model = ours(alpha=2)
    with unchanged(model, tmp_path), pytest.raises(ValueError, match=message) as err:
        load_adapter(model, tmp_path)
    assert str(tmp_path / "adapter_config.json") in str(err.value)
    fresh = toy_model()                                  # refused there too: the shapes
    with unchanged(fresh), pytest.raises(ValueError, match="does not fit|Shape mismatch"):
        load_adapter(fresh, tmp_path)


def test_swapping_takes_the_file_s_alpha_and_rslora(tmp_path):
    donor, x = ours(alpha=2, use_rslora=True), toy_input()
    randomize_lora_b(donor)
    save_adapter(donor, tmp_path)
    model = ours(alpha=8)
    load_adapter(model, tmp_path)
    assert all(layer.scaling == 2 / 4 ** 0.5 for _, layer in lora_layers(model))
    assert torch.allclose(model(x), donor(x))


@pytest.mark.parametrize("adapted", [False, True])
def test_loading_into_a_model_on_the_meta_device_is_refused(tmp_path, adapted):
    save_adapter(ours(), tmp_path)
    with torch.device("meta"):
        model = toy_model()
    if adapted:
        inject_lora(model, TARGETS, r=4, alpha=8)
    with unchanged(model, tmp_path), pytest.raises(RuntimeError, match="meta device.*would be "
                                                                       "dropped"):
        load_adapter(model, tmp_path)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_adapter_tensors_are_refused_naming_file_and_tensor(tmp_path, value):
    save_adapter(ours(), tmp_path)
    tensors = load_file(tmp_path / "adapter_model.safetensors")
    tensors["base_model.model.blocks.1.fc1.lora_B.weight"][3, 1] = value
    save_file(tensors, tmp_path / "adapter_model.safetensors")
    pattern = r"adapter_model\.safetensors holds non-finite.*blocks\.1\.fc1\.lora_B\.weight"
    for model in (toy_model(), ours()):
        with unchanged(model, tmp_path), pytest.raises(ValueError, match=pattern):
            load_adapter(model, tmp_path)
    with unchanged(tmp_path), pytest.raises(ValueError, match=pattern):
        read_adapter(tmp_path)


def test_a_changed_table_over_memory_another_parameter_uses_is_refused(tmp_path):
    """Tied through two Parameters over one storage, not one shared Parameter."""
    def untied_in_name_only():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 10, bias=False))
        model[1].weight = torch.nn.Parameter(model[0].weight.data)
        return model

    _embedding_adapter(tmp_path, 1.0)
    model = untied_in_name_only()
    with unchanged(model, tmp_path), pytest.raises(ValueError, match=r"shared with \['1'\]"):
        load_adapter(model, tmp_path)


@pytest.mark.parametrize("where", ["the path", "a parent"])
def test_saving_onto_a_file_is_refused_clearly_and_writes_nothing(tmp_path, where):
    (tmp_path / "taken").write_text("not a folder")
    target = tmp_path / "taken" if where == "the path" else tmp_path / "taken" / "adapter"
    model = ours()
    with unchanged(model, tmp_path), pytest.raises(NotADirectoryError,
                                                   match=r"taken is a file, not a folder"):
        save_adapter(model, target)


@pytest.mark.parametrize("damage, message", [
    (lambda path: path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2]),
     r"adapter_model\.safetensors is not a readable safetensors file"),
    (lambda path: path.write_bytes(b""), r"adapter_model\.safetensors is not a readable"),
    (lambda path: path.write_bytes(b"PK\x03\x04 a zip, say a torch.save file"),
     r"adapter_model\.safetensors is not a readable"),
    (lambda path: (path.parent / "adapter_config.json").write_bytes(b"\xff\xfe\x00binary"),
     r"adapter_config\.json is not a text file"),
    (lambda path: (path.parent / "adapter_config.json").write_text("null"),
     r"adapter_config\.json: the config must be a JSON object, got a NoneType"),
    (lambda path: (path.parent / "adapter_config.json").unlink(),
     r"has no adapter_config\.json"),
])
def test_every_unreadable_adapter_names_its_file(tmp_path, damage, message):
    save_adapter(ours(), tmp_path / "adapter")
    damage(tmp_path / "adapter" / "adapter_model.safetensors")
    for model in (toy_model(), ours()):
        with unchanged(model, tmp_path), pytest.raises((ValueError, FileNotFoundError),
                                                       match=message):
            load_adapter(model, tmp_path / "adapter")


def test_loading_from_a_file_instead_of_a_folder_says_so(tmp_path):
    save_adapter(ours(), tmp_path)
    model = toy_model()
    with unchanged(model, tmp_path), pytest.raises(NotADirectoryError,
                                                   match="is a file, not an adapter folder"):
        load_adapter(model, tmp_path / "adapter_config.json")
