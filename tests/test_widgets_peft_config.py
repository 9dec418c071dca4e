"""The PEFT config explorer of notebook 7 (lora_tutorial.course.widgets.peft_config)."""

import pytest

from lora_tutorial.course.models import load_pretrained
from lora_tutorial.course.widgets.peft_config import (PeftConfigExplorer, config_source,
                                                      peft_trainable_line, short_names)


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
