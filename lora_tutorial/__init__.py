"""LoRA from scratch: the helper package of the hands-on LoRA course.

The package has five parts, one folder each, and ``common`` (an atomic file writer, tables,
the command lines' error handler) that all of them share:

- ``core``: LoRA itself, small enough to read in one sitting. Read it in this order:
  ``settings`` (r, alpha, dropout, rsLoRA, DoRA), ``layers`` (the LoRA layer),
  ``layers_hf`` (GPT-2's ``Conv1D`` and embeddings), ``dora``, ``inject`` (putting layers
  into a model by module name), ``counting`` (what it saves), ``adapters`` (adapter files),
  ``lowrank`` (why low rank is enough).
- ``variants``: beyond plain LoRA, beside the core and built on it: ``quantize`` (QLoRA's
  4-bit NormalFloat base) and ``loraplus``.
- ``serving``: after training: many adapters on one base in one batch, combining adapters,
  merging a QLoRA adapter into its 4-bit base.
- ``course``: what the notebooks run on: the pretrained course ``models``, ``data`` and
  ``text``, ``training``, ``measure`` (timing and memory), ``device`` (CPU or GPU), the
  course's shared facts (``facts``), ``widgets``, ``exercises`` and the environment
  ``check`` (``python -m lora_tutorial check``).
- ``quiz``: the quiz engine (no PyTorch); its question bank is the top-level ``quizzes/``
  of the repository, shipped inside every install.

Every name in ``_EXPORTS`` is importable from the package root (``from lora_tutorial import
LoRALinear``), but a submodule is imported only when one of its names is first used
(PEP 562's module ``__getattr__``). So ``import lora_tutorial.quiz`` never pays for
PyTorch or scikit-learn: the quiz engine needs neither.
"""

from __future__ import annotations

from .common.lazy import lazy_exports

#: Which submodule defines each public name, part by part.
_EXPORTS = {
    "core.settings": ("LoRASettings",),
    "core.layers": ("LoRALayer", "LoRALinear", "check_lora_settings", "lora_scaling"),
    "core.layers_hf": ("LoRAConv1D", "LoRAEmbedding"),
    "core.dora": ("DoRALinear",),
    "core.inject": ("disable_lora", "find_target_modules", "inject_lora", "linear_module_names",
                    "lora_layers", "lora_parameters", "mark_only_lora_as_trainable",
                    "merge_and_unload", "merge_lora", "unmerge_lora"),
    "core.counting": ("ParameterCount", "TrainingMemory", "count_parameters", "format_bytes",
                      "gradient_bytes", "lora_parameter_count", "optimizer_state_bytes",
                      "training_memory"),
    "core.adapters": ("adapter_config", "check_adapter_config", "load_adapter",
                      "lora_state_dict", "read_adapter", "save_adapter"),
    "core.lowrank": ("energy_kept", "low_rank_approximation", "rank_for_energy",
                     "relative_error", "singular_values", "subspace_similarity"),
    "variants.quantize": ("Linear4bit", "dequantize_4bit", "quantize_4bit",
                          "quantize_base_layers"),
    "variants.loraplus": ("loraplus_param_groups", "make_loraplus_optimizer"),
    "course.data": ("TASKS", "TaskData", "load_digits_split", "load_task"),
    "course.device": ("get_device", "use_cpu_threads"),
    "course.measure": ("file_size", "peak_memory_bytes", "time_interleaved"),
    "course.models": ("TinyGPT", "TinyGPTConfig", "TinyViT", "TinyViTConfig", "load_pretrained",
                      "load_pretrained_gpt", "load_pretrained_info", "save_pretrained"),
    "course.training": ("evaluate", "make_optimizer", "train", "train_step"),
    "common.tables": ("markdown_table",),
}

__all__ = sorted(name for names in _EXPORTS.values() for name in names)

# ``lt.core``, ``lt.serving`` and the other parts are reachable as attributes too.
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(),
                                    modules=("common", "core", "course", "quiz", "serving",
                                             "variants"))
