"""LoRA+: a larger learning rate for B than for A.

Hayou et al. (2024, "LoRA+: Efficient Low Rank Adaptation of Large Models") show that with
one learning rate for both factors, LoRA learns inefficiently in wide models: ``A`` and
``B`` play different roles (``B`` starts at zero, ``A`` at random), and a good step for one
is too small for the other. Their fix is one line of optimizer set-up: give ``B`` the
learning rate ``lr_ratio · lr`` (they suggest a ratio around 16) and ``A`` just ``lr``.

The grouping follows PEFT's ``create_loraplus_optimizer`` (and the authors' code): the
``lora_B`` matrices *and every trainable vector* (biases, LayerNorm weights, DoRA
magnitudes) get the larger rate; every other trainable matrix (``lora_A``, a trained head)
gets ``lr``. Built in notebook 09 §5.
"""

import torch
from torch import nn


def loraplus_param_groups(model: nn.Module, lr: float, lr_ratio: float = 16.0) -> list[dict]:
    """The two optimizer parameter groups of LoRA+: ``lr`` for A, ``lr · lr_ratio`` for B.

    Only parameters with ``requires_grad=True`` are included, as in
    :func:`~lora_tutorial.training.make_optimizer`.
    """
    if not lr > 0 or not lr_ratio > 0:
        raise ValueError(f"lr and lr_ratio must be positive, got lr={lr!r}, "
                         f"lr_ratio={lr_ratio!r}. LoRA+ suggests lr_ratio around 16.")
    group_a, group_b = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (group_b if "lora_B" in name or param.ndim == 1 else group_a).append(param)
    if not any("lora_B" in name and p.requires_grad for name, p in model.named_parameters()):
        raise ValueError("LoRA+ sets the learning rate of the lora_B matrices, but the model "
                         "has no trainable lora_B: call inject_lora and "
                         "mark_only_lora_as_trainable first.")
    return [{"params": group_a, "lr": lr}, {"params": group_b, "lr": lr * lr_ratio}]


def make_loraplus_optimizer(model: nn.Module, lr: float,
                            lr_ratio: float = 16.0) -> torch.optim.AdamW:
    """AdamW (no weight decay) with LoRA+'s two learning rates."""
    return torch.optim.AdamW(loraplus_param_groups(model, lr, lr_ratio), lr=lr,
                             weight_decay=0.0)
