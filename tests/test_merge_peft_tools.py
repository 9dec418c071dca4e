"""Notebooks 6 and 7: the adapter and PEFT-config widgets, and the exercise checkers."""

import peft
import pytest
import torch

from lora_tutorial import inject_lora, lora_layers, mark_only_lora_as_trainable, save_adapter
from lora_tutorial.course.data import load_task
from lora_tutorial.course.exercises.merging import check_merge_weights
from lora_tutorial.course.exercises.peft_config import TARGET_CALL, check_lora_config
from lora_tutorial.course.models import load_pretrained
from lora_tutorial.course.widgets.adapters import NO_ADAPTER, AdapterExplorer, adapter_probabilities
from lora_tutorial.course.widgets.peft_config import (PeftConfigExplorer, config_source,
                                               peft_trainable_line, short_names)

# ---------------------------------------------------------------- the merge_weights checker


def merge_right(W0, A, B, alpha, r):
    return W0 + (alpha / r) * (B @ A)


def merge_in_place(W0, A, B, alpha, r):
    W0 += (alpha / r) * (B @ A)
    return W0


def merge_with_add_(W0, A, B, alpha, r):
    return W0.add_((alpha / r) * (B @ A))


def merge_into_a_detached_alias(W0, A, B, alpha, r):
    W = W0.detach()                      # shares W0's memory: += writes into W0
    W += (alpha / r) * (B @ A)
    return W


WRONG_MERGES = {
    "no scaling": (lambda W0, A, B, alpha, r: W0 + B @ A, "forgot the scaling"),
    "A times B": (lambda W0, A, B, alpha, r: W0 + (alpha / r) * (A @ B), "The update is B @ A"),
    "transposed": (lambda W0, A, B, alpha, r: (W0 + (alpha / r) * (B @ A)).T, "transpose"),
    "in place +=": (merge_in_place, "changed W0 in place"),
    "in place add_": (merge_with_add_, "changed W0 in place"),
    "inverted scaling": (lambda W0, A, B, alpha, r: W0 + (r / alpha) * (B @ A), "upside down"),
    "rsLoRA scaling": (lambda W0, A, B, alpha, r: W0 + alpha / r ** 0.5 * (B @ A), "alpha/√r"),
    "only the update": (lambda W0, A, B, alpha, r: (alpha / r) * (B @ A), "add W0"),
    "unmerge": (lambda W0, A, B, alpha, r: W0 - (alpha / r) * (B @ A), "that is unmerging"),
    "no return": (lambda W0, A, B, alpha, r: None, "forget the return"),
    "unchanged": (lambda W0, A, B, alpha, r: W0.clone(), "never added"),
    "fixed sizes": (lambda W0, A, B, alpha, r: W0 + 4 * (B @ A), "square 8×8 layer"),
    "integer division": (lambda W0, A, B, alpha, r: W0 + (alpha // r) * (B @ A),
                         "alpha // r is integer division"),
    "detached alias": (merge_into_a_detached_alias, "changed W0 in place"),
}


def test_merge_checker_accepts_a_correct_merge(capsys):
    check_merge_weights(merge_right)
    assert capsys.readouterr().out.startswith("✓ Correct")
    check_merge_weights(lambda W0, A, B, alpha, r: torch.addmm(W0, B, A, alpha=alpha / r),
                        verbose=False)


@pytest.mark.parametrize("mistake", sorted(WRONG_MERGES))
def test_merge_checker_names_each_mistake(mistake):
    fn, expected = WRONG_MERGES[mistake]
    with pytest.raises(AssertionError, match=expected):
        check_merge_weights(fn)


def test_merge_checker_explains_the_shape_error_of_A_times_B():
    with pytest.raises(AssertionError) as info:
        check_merge_weights(WRONG_MERGES["A times B"][0])
    message = str(info.value)
    assert "A is r×k" in message and "B is d×r" in message and "only fits when k = d" in message


# ---------------------------------------------------------------- the LoraConfig checker


def right_config(**changes):
    settings = dict(r=4, lora_alpha=16, lora_dropout=0.05,
                    target_modules=["q_proj", "v_proj", "fc1", "fc2"])
    settings.update(changes)
    return peft.LoraConfig(**settings)


def test_config_checker_accepts_the_list_and_an_equivalent_regex(capsys):
    check_lora_config(right_config())
    out = capsys.readouterr().out
    assert out.startswith("✓ Correct") and "10,752 trainable parameters" in out
    check_lora_config(right_config(target_modules=r".*\.(q_proj|v_proj|fc1|fc2)"), verbose=False)
    check_lora_config(right_config(target_modules=["fc2", "fc1", "v_proj", "q_proj"]),
                      verbose=False)


def test_target_call_is_what_the_checker_expects():
    assert TARGET_CALL == ('inject_lora(model, target_modules=["q_proj", "v_proj", "fc1", '
                           '"fc2"], r=4, alpha=16, dropout=0.05)')


@pytest.mark.parametrize("changes, expected", [
    (dict(lora_alpha=4), "that is the scaling alpha/r"),
    (dict(lora_alpha=8), "PEFT's default"),
    (dict(r=16, lora_alpha=4), "swapped"),
    (dict(r=8), "PEFT's default"),
    (dict(r=2), "the call uses rank r=4"),
    (dict(lora_dropout=0.0), "lora_dropout"),
    (dict(lora_dropout=0.1), "dropout=0.05"),
    (dict(use_rslora=True), "use_rslora"),
    (dict(use_dora=True), "DoRA"),
    (dict(bias="all"), "bias"),
    (dict(modules_to_save=["head"]), "modules_to_save"),
    (dict(target_modules=["q_proj", "v_proj"]), "Missing: \\['blocks.0.mlp.fc1'"),
    (dict(target_modules=["q_proj", "k_proj", "v_proj", "fc1", "fc2"]),
     "Extra: \\['blocks.0.attn.k_proj'"),
    (dict(target_modules="q_proj"), "regular expression"),
    (dict(target_modules=None), "target_modules is not set"),
    (dict(init_lora_weights=False), "starts B random"),
    (dict(init_lora_weights="gaussian"), "draws A \\(or both factors\\) another way"),
    (dict(alpha_pattern={"fc1": 32}), "gives some modules another rank or alpha"),
    (dict(rank_pattern={"fc1": 8}), "gives some modules another rank or alpha"),
])
def test_config_checker_names_each_mistake(changes, expected):
    with pytest.raises(AssertionError, match=expected):
        check_lora_config(right_config(**changes))


def test_config_checker_rejects_other_objects():
    with pytest.raises(AssertionError, match="Expected a peft.LoraConfig"):
        check_lora_config({"r": 4, "lora_alpha": 16})


# ---------------------------------------------------------------- the adapter explorer


@pytest.fixture(scope="module")
def adapter_dirs(tmp_path_factory):
    """Two saved adapters with different (random, untrained) B, for two tasks."""
    root = tmp_path_factory.mktemp("adapters")
    dirs = {}
    for seed, name in enumerate(("rotated", "inverted")):
        model = load_pretrained(device="cpu")
        torch.manual_seed(seed)
        inject_lora(model, ["q_proj", "v_proj"], r=4, alpha=8)
        mark_only_lora_as_trainable(model)
        for _, layer in lora_layers(model):
            torch.nn.init.normal_(layer.lora_B.weight, std=0.5)
        dirs[name] = save_adapter(model, root / name)
    return dirs


@pytest.fixture(scope="module")
def tasks():
    return {name: load_task(name) for name in ("digits", "rotated", "inverted")}


def test_adapter_probabilities_differ_per_adapter_and_none_is_the_base(adapter_dirs, tasks):
    probs = adapter_probabilities(adapter_dirs, tasks, device="cpu")
    assert set(probs) == {(a, t) for a in (NO_ADAPTER, "rotated", "inverted") for t in tasks}
    assert probs["rotated", "digits"].shape == (len(tasks["digits"].y_test), 10)
    assert not torch.allclose(probs["rotated", "digits"], probs["inverted", "digits"])
    with torch.no_grad():
        base = load_pretrained(device="cpu")(tasks["digits"].x_test).softmax(-1)
    assert torch.equal(probs[NO_ADAPTER, "digits"], base)
    with pytest.raises(ValueError, match="empty"):
        adapter_probabilities({}, tasks)


def test_adapter_explorer_reacts_to_every_control(adapter_dirs, tasks):
    explorer = AdapterExplorer(adapter_dirs, tasks, adapter="rotated", device="cpu")
    assert explorer.images.value == "rotated"      # defaults to the adapter's own task
    assert "'rotated' adapter on the rotated test images" in explorer.label.value
    for control, value in ((explorer.index, 7), (explorer.adapter, NO_ADAPTER),
                           (explorer.images, "digits")):
        image, label = explorer.image.value, explorer.label.value
        control.value = value
        assert explorer.image.value != image
        if control is not explorer.index:
            assert explorer.label.value != label
    base_accuracy = explorer.accuracy(NO_ADAPTER, "digits")
    assert f"{100 * base_accuracy:.1f}%" in explorer.label.value
    assert "base model (adapter off)" in explorer.label.value
    assert base_accuracy > 0.9


def test_adapter_explorer_rejects_unknown_choices(adapter_dirs, tasks):
    with pytest.raises(ValueError, match="adapter="):
        AdapterExplorer(adapter_dirs, tasks, adapter="mirrored", device="cpu")
    with pytest.raises(ValueError, match="images="):
        AdapterExplorer(adapter_dirs, tasks, images="mirrored", device="cpu")


# ---------------------------------------------------------------- the PEFT config explorer


def test_peft_config_explorer_counts_like_peft_and_follows_the_controls():
    explorer = PeftConfigExplorer(r=8, targets=("q_proj", "v_proj"))
    assert explorer.line == ("trainable params: 6,144 || all params: 158,346 || "
                             "trainable%: 3.8801")
    assert config_source(8, ["q_proj", "v_proj"]) in explorer.output.value

    explorer.targets["fc1"].value = True           # 3 blocks × 8·(64 + 256) more
    assert explorer.line.startswith("trainable params: 13,824 ||")
    explorer.r.value = 16                          # doubles the count
    assert explorer.line.startswith("trainable params: 27,648 ||")
    assert "r=16, lora_alpha=32" in explorer.output.value

    for box in explorer.targets.values():
        box.value = False
    assert explorer.line is None and "at least one target" in explorer.output.value


def test_peft_config_helpers():
    model = load_pretrained(device="cpu")
    assert short_names(model) == ["patch_embed", "q_proj", "k_proj", "v_proj", "o_proj",
                                  "fc1", "fc2", "head"]
    assert peft_trainable_line(model, 1, ["head"]).startswith("trainable params: 74 ||")
    assert not any("lora" in name for name, _ in model.named_modules())   # copy, not in place
    with pytest.raises(ValueError, match="Unknown target modules"):
        PeftConfigExplorer(model, targets=("c_attn",))
