"""LoRA for the two other layer types real Hugging Face models use: ``Conv1D`` and ``nn.Embedding``.

GPT-2 computes its attention and MLP projections with ``transformers``' ``Conv1D``: a linear
layer that stores its weight as ``in × out`` (k×d), the transpose of ``nn.Linear``'s d×k
(PEFT calls this ``fan_in_fan_out``). LoRA's ``A`` and ``B`` are the same as for a linear
layer; only ΔW must be transposed before it is added to the stored weight.

Token embeddings are a lookup table, ``E[token]``, with one row per token (shape
``num_embeddings × embedding_dim``). PEFT adapts them with two plain parameters named
``lora_embedding_A`` (r × num_embeddings) and ``lora_embedding_B`` (embedding_dim × r):
looking up a token in ``Aᵀ`` and multiplying by ``Bᵀ`` adds row ``token`` of ``(B·A)ᵀ``.
Here ``A`` starts at zero and ``B`` random (the other way round from linear layers: a
lookup of a zero ``A`` still gives ``B`` a zero gradient, but ``A`` gets one), so the
adapted model again starts exactly equal to the base. Names, shapes and initialisation are
PEFT's, so adapters load both ways.
"""

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from .layers import LoRALayer, LoRALinear


def is_conv1d(module: nn.Module) -> bool:
    """Whether ``module`` is ``transformers``' ``Conv1D`` (checked without importing it).

    Introduced in notebook 04, §8.
    """
    kind = type(module)
    return kind.__name__ == "Conv1D" and kind.__module__.startswith("transformers")


class LoRAConv1D(LoRALinear):
    """LoRA on GPT-2's ``Conv1D``, whose weight is stored ``in × out`` (``fan_in_fan_out``).

    Everything is LoRALinear's (``A`` maps the input to r numbers, ``B`` maps them to the
    output); ``fan_in_fan_out = True`` makes ``delta_weight`` transposed to the stored
    layout, so merging works.

    Introduced in notebook 04, §8. That section goes deeper into GPT-2's fused layers.
    """

    wraps = "a transformers Conv1D"
    fan_in_fan_out = True

    @staticmethod
    def accepts(module: nn.Module) -> bool:
        return is_conv1d(module)

    @property
    def in_features(self) -> int:
        return self.base_layer.weight.shape[0]

    @property
    def out_features(self) -> int:
        return self.base_layer.weight.shape[1]


class LoRAEmbedding(LoRALayer):
    """LoRA on a frozen ``nn.Embedding``, with PEFT's names: ``lora_embedding_A``/``_B``.

    Dropout is not applied on this path, as in PEFT: the input is token ids, not features.

    Introduced in notebook 04, §8. That section (Going deeper: GPT-2's fused layers) meets
    the layer types of a Hugging Face model; no notebook trains an adapted embedding (the
    course adapts linear layers).
    """

    wraps = "an nn.Embedding (one that keeps nn.Embedding's forward)"

    @staticmethod
    def accepts(module: nn.Module) -> bool:
        # A subclass with its own forward (e.g. OPT's learned positions, which shift the ids)
        # would not be reproduced by the plain lookup below, so it is not accepted.
        return isinstance(module, nn.Embedding) and type(module).forward is nn.Embedding.forward

    def __init__(self, base: nn.Embedding, r: int, alpha: float, dropout: float = 0.0,
                 use_rslora: bool = False):
        super().__init__(base, r, alpha, dropout, use_rslora)
        if dropout > 0:
            warnings.warn(f"dropout={dropout} is not applied to an embedding's LoRA path (PEFT "
                          "does not apply it either): its input is token ids.", stacklevel=2)
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_embedding_A = nn.Parameter(torch.zeros(self.r, base.num_embeddings,
                                                         **factory))
        self.lora_embedding_B = nn.Parameter(torch.empty(base.embedding_dim, self.r,
                                                         **factory))
        nn.init.normal_(self.lora_embedding_B)

    def delta_weight(self) -> torch.Tensor:
        """ΔW = scaling · (B·A)ᵀ, shaped like the table (num_embeddings × embedding_dim)."""
        return (self.lora_embedding_B @ self.lora_embedding_A).T * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base_layer(x)
        if self.merged or self.disabled:
            return result
        base = self.base_layer
        after_a = F.embedding(x, self.lora_embedding_A.T, padding_idx=base.padding_idx,
                              max_norm=base.max_norm, norm_type=base.norm_type,
                              scale_grad_by_freq=base.scale_grad_by_freq, sparse=base.sparse)
        return result + (after_a @ self.lora_embedding_B.T) * self.scaling
