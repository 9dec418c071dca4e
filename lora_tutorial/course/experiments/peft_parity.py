"""The course's LoRA against Hugging Face PEFT's: the same count, the same start, one file format.

Notebook 4 (§3 and §8) reads PEFT's ``print_trainable_parameters()`` line next to the
course's ``count_parameters``; notebook 7 (§1–§5) checks, layer by layer, that both libraries
start from the same A, and that their adapter files hold the same tensors. The bookkeeping
for those checks lives here, so a notebook cell shows the comparison and its verdict, not
the loops. Each function returns a named record (``parity.same``, not ``result[2]``).
"""

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from lora_tutorial.core.inject import lora_layers


def get_peft_model_quietly(model: nn.Module, config) -> nn.Module:
    """``peft.get_peft_model(model, config)``, without one FutureWarning about the libraries.

    PEFT reads a ``transformers`` attribute (``is_gradient_checkpointing``) that transformers
    has deprecated; the warning concerns the two libraries, not the learner's code, so it is
    filtered here instead of in a notebook cell. Every other warning passes through.
    """
    import peft

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*",
                                category=FutureWarning)
        return peft.get_peft_model(model, config)


def peft_trainable_line(peft_model: nn.Module) -> str:
    """The line ``peft_model.print_trainable_parameters()`` prints, as a string.

    PEFT only prints it; comparing it with ``str(count_parameters(model))`` needs the text,
    so it is captured here. Used in notebook 04, §3 and §8.
    """
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        peft_model.print_trainable_parameters()
    return printed.getvalue().strip()


@dataclass(frozen=True)
class StartParity:
    """The initial factors of two adapted copies of one model, compared layer by layer."""

    layers: int
    """How many adapted layers were compared."""
    same_A: int
    """Layers whose A is bit-identical in both libraries."""
    zero_B: int
    """Layers whose B (in PEFT's model) is all zeros."""

    @property
    def same(self) -> bool:
        """Every A identical and every B zero: both models compute the base model's output."""
        return self.same_A == self.zero_B == self.layers > 0


def start_parity(ours: nn.Module, peft_model: nn.Module, adapter: str = "default") -> StartParity:
    """Compare every ``lora_A`` of ``ours`` with PEFT's, and check PEFT's ``lora_B`` is zero.

    Layers are matched by name: ``blocks.0.attn.q_proj`` in ours is
    ``base_model.model.blocks.0.attn.q_proj`` in the ``PeftModel``. Used in notebook 07, §2.
    """
    inner = peft_model.base_model.model
    same_a = zero_b = layers = 0
    for name, layer in lora_layers(ours):
        theirs = inner.get_submodule(name)
        layers += 1
        same_a += torch.equal(layer.lora_A.weight, theirs.lora_A[adapter].weight)
        zero_b += bool((theirs.lora_B[adapter].weight == 0).all())
    return StartParity(layers=layers, same_A=same_a, zero_B=zero_b)


@dataclass(frozen=True)
class FileParity:
    """Two adapter folders compared: their files, their tensors' names and shapes, configs."""

    files: dict[str, list[str]]
    """Each folder's file names, by side."""
    shapes: dict[str, dict[str, tuple[int, ...]]]
    """Each side's tensor names and shapes, read from the safetensors header only."""
    configs: dict[str, dict]
    """Each side's ``adapter_config.json``."""

    @property
    def common_files(self) -> list[str]:
        first, second = self.files.values()
        return sorted(set(first) & set(second))

    @property
    def same_tensors(self) -> bool:
        """The same tensor names with the same shapes on both sides."""
        first, second = self.shapes.values()
        return first == second and len(first) > 0


def tensor_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from a safetensors file's header, without loading a model."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}


def file_parity(folders: dict[str, str | Path]) -> FileParity:
    """Compare two adapter folders, e.g. ``{"ours": ..., "PEFT": ...}``. Used in notebook 07, §4."""
    import json

    if len(folders) != 2:
        raise ValueError(f"file_parity compares exactly two folders; got {len(folders)}")
    files, shapes, configs = {}, {}, {}
    for side, folder in folders.items():
        folder = Path(folder)
        files[side] = sorted(p.name for p in folder.iterdir())
        shapes[side] = tensor_shapes(folder / "adapter_model.safetensors")
        configs[side] = json.loads((folder / "adapter_config.json").read_text())
    return FileParity(files=files, shapes=shapes, configs=configs)
