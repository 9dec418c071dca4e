"""Real model sizes without the memory: GPT-style skeletons built on the ``meta`` device.

A tensor on the ``meta`` device has a shape and a dtype but no storage, so a 175-billion-
parameter model "exists" in a few milliseconds and zero bytes. That is enough to count
parameters and to inject LoRA exactly as one would into the real model.

The skeleton follows the GPT layout (Radford et al., 2019; Brown et al., 2020) with the
attention projections as separate ``nn.Linear`` layers named like LLaMA's (``q_proj``,
``k_proj``, ``v_proj``, ``o_proj``), so targeting only ``Wq`` and ``Wv``, as the LoRA paper
does, is a plain list of names (GPT-2's fused ``c_attn`` needs loralib's ``MergedLinear`` for
that). The parameter count is the same as the fused layout GPT-2 uses.
"""

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DecoderShape:
    """The published shape of a decoder-only transformer."""

    n_layers: int
    d_model: int
    d_ff: int
    vocab_size: int
    n_positions: int


# GPT-2 small (124M) and GPT-3 175B (Brown et al., 2020, table 2.1).
GPT2_SMALL = DecoderShape(n_layers=12, d_model=768, d_ff=3072, vocab_size=50257,
                          n_positions=1024)
GPT3_175B = DecoderShape(n_layers=96, d_model=12288, d_ff=49152, vocab_size=50257,
                         n_positions=2048)


class Attention(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.q_proj, self.k_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.v_proj, self.o_proj = nn.Linear(d, d), nn.Linear(d, d)


class Block(nn.Module):
    def __init__(self, shape: DecoderShape):
        super().__init__()
        self.ln_1 = nn.LayerNorm(shape.d_model)
        self.attn = Attention(shape.d_model)
        self.ln_2 = nn.LayerNorm(shape.d_model)
        self.fc1 = nn.Linear(shape.d_model, shape.d_ff)
        self.fc2 = nn.Linear(shape.d_ff, shape.d_model)


class DecoderSkeleton(nn.Module):
    """The parameters of a GPT-style decoder, without a forward pass: for counting only.

    The output layer shares the token embedding's weight (weight tying), as in GPT-2.
    """

    def __init__(self, shape: DecoderShape):
        super().__init__()
        self.wte = nn.Embedding(shape.vocab_size, shape.d_model)
        self.wpe = nn.Embedding(shape.n_positions, shape.d_model)
        self.blocks = nn.ModuleList(Block(shape) for _ in range(shape.n_layers))
        self.ln_f = nn.LayerNorm(shape.d_model)


def meta_skeleton(shape: DecoderShape) -> DecoderSkeleton:
    """Build the skeleton on the ``meta`` device: instant, and no memory is allocated."""
    with torch.device("meta"):
        return DecoderSkeleton(shape)
