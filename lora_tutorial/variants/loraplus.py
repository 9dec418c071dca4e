"""LoRA+: a larger learning rate for B than for A.

Hayou et al. (2024, "LoRA+: Efficient Low Rank Adaptation of Large Models") show that with
one learning rate for both factors, LoRA learns inefficiently in wide models: ``A`` and
``B`` play different roles (``B`` starts at zero, ``A`` at random), and a good step for one
is too small for the other. Their fix is one line of optimizer set-up: give ``B`` the
learning rate ``lr_ratio · lr`` (they suggest a ratio around 16) and ``A`` just ``lr``.

The grouping follows PEFT's ``create_loraplus_optimizer`` (and the authors' code): the
``lora_B`` matrices *and every trainable vector* (biases, LayerNorm weights, DoRA
magnitudes) get the larger rate; every other trainable matrix (``lora_A``, a trained head)
gets ``lr``. An adapted embedding is the exception: all its trainable tensors
(``lora_embedding_A`` *and* ``lora_embedding_B``) get a rate of their own,
``lr_embedding``, by default PEFT's small 1e-6. Introduced in notebook 09, §3.
"""

import torch
from torch import nn

from ..core.inject import lora_layers
from ..core.layers_hf import LoRAEmbedding

LR_EMBEDDING = 1e-6
"""PEFT's default learning rate for the LoRA tensors of adapted embeddings
(``loraplus_lr_embedding``)."""


def loraplus_param_groups(model: nn.Module, lr: float, lr_ratio: float = 16.0,
                          lr_embedding: float = LR_EMBEDDING) -> list[dict]:
    """LoRA+'s optimizer parameter groups: ``lr`` for A, ``lr · lr_ratio`` for B.

    A third group, at ``lr_embedding``, follows when the model has adapted embeddings
    (:class:`~lora_tutorial.core.layers_hf.LoRAEmbedding`): PEFT gives every trainable tensor of
    such a layer that rate, whatever its name, so ``lora_embedding_B`` is *not* in B's
    group. Only parameters with ``requires_grad=True`` are included, as in
    :func:`~lora_tutorial.course.training.make_optimizer`.

    Introduced in notebook 09, §3.
    """
    if not lr > 0 or not lr_ratio > 0 or not lr_embedding > 0:
        raise ValueError(f"lr, lr_ratio and lr_embedding must be positive, got lr={lr!r}, "
                         f"lr_ratio={lr_ratio!r}, lr_embedding={lr_embedding!r}. LoRA+ "
                         "suggests lr_ratio around 16.")
    in_embeddings = {id(param) for _, layer in lora_layers(model)
                     if isinstance(layer, LoRAEmbedding) for param in layer.parameters()}
    group_a, group_b, embedding = [], [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if id(param) in in_embeddings:
            embedding.append(param)
        elif "lora_B" in name or param.ndim == 1:
            group_b.append(param)
        else:
            group_a.append(param)
    if not any(("lora_B" in name or "lora_embedding_B" in name) and p.requires_grad
               for name, p in model.named_parameters()):
        raise ValueError("LoRA+ sets the learning rate of the lora_B matrices, but the model "
                         "has no trainable lora_B (or lora_embedding_B): call inject_lora "
                         "and mark_only_lora_as_trainable first.")
    groups = [{"params": group_a, "lr": lr}, {"params": group_b, "lr": lr * lr_ratio}]
    return groups + ([{"params": embedding, "lr": lr_embedding}] if embedding else [])


def make_loraplus_optimizer(model: nn.Module, lr: float, lr_ratio: float = 16.0,
                            lr_embedding: float = LR_EMBEDDING) -> torch.optim.AdamW:
    """AdamW (no weight decay) with LoRA+'s learning rates (see :func:`loraplus_param_groups`).

    Introduced in notebook 09, §3.
    """
    return torch.optim.AdamW(loraplus_param_groups(model, lr, lr_ratio, lr_embedding), lr=lr,
                             weight_decay=0.0)
