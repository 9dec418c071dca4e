"""LoRA from scratch: the helper package of the hands-on LoRA course.

Read it in this order: ``layers`` (the LoRA layer; ``layers_hf`` adds GPT-2's ``Conv1D`` and
embeddings), ``inject`` (putting layers into a model), ``counting`` (what it saves),
``adapters`` (saving and loading), ``lowrank`` (why low rank is enough), ``measure`` (timing
and memory), ``device`` (CPU or GPU). Beyond plain LoRA, beside the core: ``dora``,
``quantize`` (QLoRA's 4-bit NormalFloat base) and ``loraplus``. The course's pretrained
models and their data live in ``models`` (``vit``, ``gpt``), ``data``, ``text``,
``training``, ``pretrain`` and ``pretrain_gpt``.

Every name in ``_EXPORTS`` is importable from the package root (``from lora_tutorial import
LoRALinear``), but a submodule is imported only when one of its names is first used
(PEP 562's module ``__getattr__``). So ``import lora_tutorial.quiz`` never pays for
PyTorch or scikit-learn: the quiz engine needs neither.
"""

from __future__ import annotations

import importlib

#: Which submodule defines each public name.
_EXPORTS = {
    "adapters": ("adapter_config", "check_adapter_config", "load_adapter", "lora_state_dict",
                 "read_adapter", "save_adapter"),
    "counting": ("ParameterCount", "TrainingMemory", "count_parameters", "format_bytes",
                 "gradient_bytes", "lora_parameter_count", "markdown_table",
                 "optimizer_state_bytes", "training_memory"),
    "dora": ("DoRALinear",),
    "data": ("TASKS", "TaskData", "load_digits_split", "load_task"),
    "device": ("get_device", "use_cpu_threads"),
    "inject": ("disable_lora", "find_target_modules", "inject_lora", "linear_module_names",
               "lora_layers", "lora_parameters", "mark_only_lora_as_trainable", "merge_and_unload", "merge_lora",
               "unmerge_lora"),
    "layers": ("LoRALayer", "LoRALinear", "check_lora_settings", "lora_scaling"),
    "layers_hf": ("LoRAConv1D", "LoRAEmbedding"),
    "loraplus": ("loraplus_param_groups", "make_loraplus_optimizer"),
    "lowrank": ("energy_kept", "low_rank_approximation", "rank_for_energy", "relative_error",
                "singular_values", "subspace_similarity"),
    "measure": ("file_size", "peak_memory_bytes", "time_interleaved"),
    "models": ("TinyGPT", "TinyGPTConfig", "TinyViT", "TinyViTConfig", "load_pretrained",
               "load_pretrained_gpt", "load_pretrained_info", "save_pretrained"),
    "quantize": ("Linear4bit", "dequantize_4bit", "quantize_4bit", "quantize_base_layers"),
    "training": ("evaluate", "make_optimizer", "train", "train_step"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    """Import the submodule that defines ``name`` on first use, then cache the name here.

    Submodules themselves (``lora_tutorial.layers``) are imported on first use too, as
    they were when this file imported them all eagerly.
    """
    if name in _EXPORTS:
        return importlib.import_module(f".{name}", __name__)
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
