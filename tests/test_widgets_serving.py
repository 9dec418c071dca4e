"""The serving explorer and its measurements (lora_tutorial.course.widgets.serving)."""

import pytest
import torch

from lora_tutorial.course.models.gpt import load_pretrained_gpt
from lora_tutorial.course.widgets.serving import (ServingExplorer, ServingRun, batch_mix,
                                                  measure_serving, memory_line)
from lora_tutorial.serving.multi import METHODS, inject_adapter_bank


def test_batch_mix():
    assert batch_mix(8, 4, "uniform").tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert batch_mix(8, 3, "one dominant").tolist() == [0, 0, 0, 0, 0, 0, 1, 2]
    assert batch_mix(8, 1, "one dominant").tolist() == [0] * 8
    with pytest.raises(ValueError, match="mix must be one of"):
        batch_mix(8, 2, "random")
    with pytest.raises(ValueError, match="between 1 and the 8 rows"):
        batch_mix(8, 9, "uniform")


def test_memory_line_is_exact():
    assert memory_line(4, 100, 1_000) == ("4 adapters on one base: 1,400 bytes · 4 merged copies: "
                                          "4,000 bytes (2.9× more)")


def test_measure_and_explore():
    base, bank = load_pretrained_gpt("cpu"), load_pretrained_gpt("cpu")
    generator = torch.Generator().manual_seed(0)
    adapters = [{name: (torch.randn(2, 128, generator=generator),
                        torch.randn(128, 2, generator=generator), 1.0)
                 for name, m in bank.named_modules() if name.endswith("q_proj")}
                for _ in range(4)]
    inject_adapter_bank(bank, adapters)
    inputs = torch.randint(0, 256, (4, 8), generator=generator)
    runs = measure_serving(bank, base, inputs, [(1, "uniform"), (4, "uniform"), (4, "one dominant")],
                           repeats=1, warmup=0)
    assert [(r.n_adapters, r.mix) for r in runs] == [(1, "uniform"), (4, "uniform"),
                                                     (4, "one dominant")]
    assert all(set(r.seconds) == {"base", *METHODS} and r.tokens == 32 for r in runs)
    explorer = ServingExplorer(runs, adapter_bytes=2_048, model_bytes=3_707_392)
    assert explorer.count.value == 4 and "4 adapters on one base" in explorer.label.value
    explorer.count.value = 1
    explorer.mix.value = "one dominant"                 # 1 adapter was measured uniform only
    assert "not measured" in explorer.note.value and "1 adapters on one base" in explorer.label.value


def test_explorer_refuses_no_runs():
    with pytest.raises(ValueError, match="at least one"):
        ServingExplorer([], 1, 1)
    assert ServingRun(1, "uniform", {"base": 0.5}, 100).tokens_per_second("base") == 200
