"""Real model sizes without the memory: GPT-style skeletons built on the ``meta`` device.

A tensor on the ``meta`` device has a shape and a dtype but no storage, so a 175-billion-
parameter model "exists" in a few milliseconds and zero bytes. That is enough to count
parameters and to inject LoRA exactly as one would into the real model.

The skeleton follows the GPT layout (Radford et al., 2019; Brown et al., 2020) with the
attention projections as separate ``nn.Linear`` layers named like LLaMA's (``q_proj``,
``k_proj``, ``v_proj``, ``o_proj``: the course's one
:class:`~lora_tutorial.course.models.attention.Attention`), so targeting only ``Wq`` and
``Wv``, as the LoRA paper does, is a plain list of names (GPT-2's fused ``c_attn`` needs
loralib's ``MergedLinear`` for that). The parameter count is the same as the fused layout
GPT-2 uses. The shapes themselves (:data:`GPT2_SMALL`, :data:`GPT3_175B`, …) live in
:mod:`lora_tutorial.course.facts`.
"""

import torch
from torch import nn

from .facts import GPT2_SMALL, GPT3_175B, DecoderShape
from .models.attention import Attention

__all__ = ["GPT2_SMALL", "GPT3_175B", "DecoderShape", "DecoderSkeleton", "meta_skeleton"]


class Block(nn.Module):
    """GPT-2's block: LayerNorm, attention, LayerNorm, the MLP's ``fc1`` and ``fc2``."""

    def __init__(self, shape: DecoderShape):
        super().__init__()
        self.ln_1 = nn.LayerNorm(shape.d_model)
        self.attn = Attention(shape.d_model, heads=1)  # the head count adds no parameters
        self.ln_2 = nn.LayerNorm(shape.d_model)
        self.fc1 = nn.Linear(shape.d_model, shape.d_ff)
        self.fc2 = nn.Linear(shape.d_ff, shape.d_model)


class DecoderSkeleton(nn.Module):
    """The parameters of a GPT-style decoder, without a forward pass: for counting only.

    The output layer shares the token embedding's weight (weight tying), as in GPT-2.
    """

    def __init__(self, shape: DecoderShape):
        super().__init__()
        if shape.feed_forward != "gelu":
            raise ValueError(f"The skeleton has GPT's layout (fc1, fc2, LayerNorms, tied output "
                             f"layer); a shape with feed_forward={shape.feed_forward!r} has "
                             "another. Count it with shape.n_params instead.")
        self.wte = nn.Embedding(shape.vocab_size, shape.d_model)
        self.wpe = nn.Embedding(shape.n_positions, shape.d_model)
        self.blocks = nn.ModuleList(Block(shape) for _ in range(shape.n_layers))
        self.ln_f = nn.LayerNorm(shape.d_model)


def meta_skeleton(shape: DecoderShape) -> DecoderSkeleton:
    """Build the skeleton on the ``meta`` device: instant, and no memory is allocated."""
    with torch.device("meta"):
        return DecoderSkeleton(shape)
