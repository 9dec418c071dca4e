"""The memory explorer of notebook 1 (lora_tutorial.course.widgets.memory)."""

from lora_tutorial.course.widgets.memory import (CUSTOM, PRESETS, MemoryExplorer, estimate_shape,
                                                 lora_qv_parameters, memory_breakdown)


def test_lora_counts_match_the_published_numbers():
    # PEFT's LLaMA-2-7B line and the LoRA paper's GPT-3 count (r=8 on Wq, Wv).
    assert lora_qv_parameters(PRESETS["LLaMA-2-7B"], 8) == 4_194_304
    assert lora_qv_parameters(PRESETS["GPT-3 175B"], 8) == 37_748_736
    assert lora_qv_parameters(PRESETS["GPT-3 175B"], 1) == 4_718_592


def test_memory_breakdown_bytes_per_parameter():
    n = 1000
    fp32 = memory_breakdown(n, 4, lora_trainable=10, master_copy=True)
    assert sum(fp32["full fine-tuning"].values()) == 16 * n  # no master copy in fp32
    assert sum(fp32["inference"].values()) == 4 * n
    assert sum(fp32["LoRA fine-tuning"].values()) == 4 * n + 16 * 10
    bf16 = memory_breakdown(n, 2, lora_trainable=10, master_copy=False)
    assert sum(bf16["full fine-tuning"].values()) == 12 * n
    mixed = memory_breakdown(n, 2, lora_trainable=10, master_copy=True)
    assert sum(mixed["full fine-tuning"].values()) == 16 * n
    assert mixed["LoRA fine-tuning"]["fp32 master copy"] == 40


def test_estimate_shape_recovers_known_models():
    llama13 = estimate_shape(13e9)
    assert (llama13.d_model, llama13.n_layers) == (5120, 40)  # LLaMA-2-13B's real shape
    gpt3 = estimate_shape(PRESETS["GPT-3 175B"].n_params)
    assert (gpt3.d_model, gpt3.n_layers) == (12288, 96)


def test_memory_explorer_reacts_to_its_controls():
    explorer = MemoryExplorer()
    assert "107.81 GB" in explorer.table.value  # LLaMA-2-7B, mixed precision, 16 B/param
    image, table, note = bytes(explorer.image.value), explorer.table.value, explorer.note.value
    assert image.startswith(b"\x89PNG")
    explorer.preset.value = "GPT-3 175B"
    assert explorer.table.value != table and bytes(explorer.image.value) != image
    assert "37,748,736" in explorer.note.value
    explorer.r.value = 1
    assert "4,718,592" in explorer.note.value
    assert explorer.custom_billions.disabled
    explorer.preset.value = CUSTOM
    assert not explorer.custom_billions.disabled
    explorer.custom_billions.value = 13
    assert "shape estimated" in explorer.note.value and "13,000,000,000" in explorer.note.value
    explorer.dtype.value = "fp32"
    assert explorer.master_copy.disabled
    assert explorer.breakdown["full fine-tuning"]["fp32 master copy"] == 0
    assert note != explorer.note.value
