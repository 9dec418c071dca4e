"""The package root imports its submodules lazily (PEP 562): every public name is still
there, but ``import lora_tutorial.quiz`` loads neither PyTorch nor scikit-learn."""

import subprocess
import sys

import lora_tutorial

PUBLIC = {
    "LoRASettings", "DoRALinear", "Linear4bit", "TinyGPT", "TinyGPTConfig", "dequantize_4bit",
    "load_pretrained_gpt", "loraplus_param_groups", "make_loraplus_optimizer", "quantize_4bit",
    "quantize_base_layers", "LoRAConv1D", "LoRAEmbedding", "LoRALayer", "LoRALinear", "ParameterCount",
    "adapter_config", "check_adapter_config", "check_lora_settings", "lora_parameters", "TASKS", "TaskData", "TinyViT", "TinyViTConfig",
    "TrainingMemory", "count_parameters", "disable_lora", "energy_kept", "evaluate",
    "file_size", "find_target_modules", "format_bytes", "get_device", "use_cpu_threads", "gradient_bytes",
    "inject_lora", "linear_module_names", "load_adapter", "load_digits_split", "load_pretrained",
    "load_pretrained_info", "load_task", "lora_layers", "lora_parameter_count", "lora_scaling",
    "lora_state_dict", "low_rank_approximation", "make_optimizer", "mark_only_lora_as_trainable",
    "markdown_table", "merge_and_unload", "merge_lora", "optimizer_state_bytes",
    "peak_memory_bytes", "rank_for_energy", "read_adapter", "relative_error", "save_adapter",
    "save_pretrained", "singular_values", "subspace_similarity", "time_interleaved", "train",
    "train_step", "training_memory", "unmerge_lora",
}


def loaded_after(code: str) -> set[str]:
    script = code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    return set(result.stdout.split())


def test_every_public_name_is_still_exported():
    assert set(lora_tutorial.__all__) == PUBLIC
    for name in PUBLIC:
        value = getattr(lora_tutorial, name)
        assert getattr(value, "__name__", name) == name or not callable(value) or name == "TASKS"
    assert PUBLIC <= set(dir(lora_tutorial))
    from lora_tutorial import LoRALinear
    from lora_tutorial.core import layers

    assert LoRALinear is layers.LoRALinear


def test_the_four_parts_are_attributes_of_the_package():
    """``import lora_tutorial as lt`` is enough to reach ``lt.core.layers`` and the rest."""
    import lora_tutorial.core.layers

    assert lora_tutorial.core.layers.LoRALinear is lora_tutorial.LoRALinear
    for part in ("common", "core", "course", "quiz", "serving", "variants"):
        assert getattr(lora_tutorial, part).__name__ == f"lora_tutorial.{part}"


def test_an_unknown_name_is_an_attribute_error():
    try:
        lora_tutorial.no_such_name
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:
        raise AssertionError("expected AttributeError")


def test_the_quiz_engine_loads_neither_torch_nor_scikit_learn():
    loaded = loaded_after("import lora_tutorial.quiz\nfrom lora_tutorial.quiz import validate\n"
                          "validate()")
    assert "lora_tutorial.quiz.lint" in loaded
    assert not {"torch", "sklearn", "ipywidgets", "matplotlib"} & loaded


def test_the_quiz_command_line_loads_no_torch():
    code = ("import runpy, sys\nsys.argv = ['x', 'validate']\n"
            "try:\n    runpy.run_module('lora_tutorial.quiz', run_name='__main__')\n"
            "except SystemExit:\n    pass")
    loaded = loaded_after(code)
    assert "lora_tutorial.quiz.lint" in loaded and "valid." in loaded  # it ran
    assert not {"torch", "sklearn", "ipywidgets"} & loaded


def test_using_a_core_name_imports_only_what_it_needs():
    loaded = loaded_after("import lora_tutorial\nlora_tutorial.lora_scaling")
    assert "lora_tutorial.core.layers" in loaded and "sklearn" not in loaded
