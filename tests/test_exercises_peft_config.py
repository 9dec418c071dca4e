"""The LoraConfig checker of notebook 7 (lora_tutorial.course.exercises.peft_config)."""

import peft
import pytest

from lora_tutorial.course.exercises.peft_config import TARGET_CALL, check_lora_config


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
