"""LoRA from scratch: the helper package of the hands-on LoRA course.

Read it in this order: ``layers`` (the LoRA layer; ``layers_hf`` adds GPT-2's ``Conv1D`` and
embeddings), ``inject`` (putting layers into a
model), ``counting`` (what it saves), ``adapters`` (saving and loading), ``lowrank`` (why
low rank is enough), ``measure`` (timing and memory), ``device`` (CPU or GPU). The course's
pretrained model and its data live in ``models``, ``data``, ``training`` and ``pretrain``.
"""

from .adapters import (
    adapter_config,
    check_adapter_config,
    load_adapter,
    lora_state_dict,
    read_adapter,
    save_adapter,
)
from .counting import (
    ParameterCount,
    TrainingMemory,
    count_parameters,
    format_bytes,
    gradient_bytes,
    lora_parameter_count,
    markdown_table,
    optimizer_state_bytes,
    training_memory,
)
from .data import TASKS, TaskData, load_digits_split, load_task
from .device import get_device
from .inject import (
    disable_lora,
    find_target_modules,
    inject_lora,
    linear_module_names,
    lora_layers,
    lora_parameters,
    mark_only_lora_as_trainable,
    merge_and_unload,
    merge_lora,
    unmerge_lora,
)
from .layers import LoRALayer, LoRALinear, check_lora_settings, lora_scaling
from .layers_hf import LoRAConv1D, LoRAEmbedding
from .lowrank import (
    energy_kept,
    low_rank_approximation,
    rank_for_energy,
    relative_error,
    singular_values,
    subspace_similarity,
)
from .measure import file_size, peak_memory_bytes, time_interleaved
from .models import TinyViT, TinyViTConfig, load_pretrained, load_pretrained_info, save_pretrained
from .training import evaluate, make_optimizer, train, train_step
