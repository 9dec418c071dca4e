"""Multi-head self-attention, written once for every transformer in the course.

The digits model (:mod:`~lora_tutorial.course.models.vit`), the tiny GPT
(:mod:`~lora_tutorial.course.models.gpt`), the toy transformer of the exercises and tests
(:mod:`~lora_tutorial.course.models.toy`) and the ``meta`` skeletons of real models
(:mod:`~lora_tutorial.course.skeletons`) all attend with this module. Each projection is a
visible ``nn.Linear`` named as in real models (``q_proj``, ``k_proj``, ``v_proj``,
``o_proj``), so LoRA finds them by name, exactly as it would in a Hugging Face model.
"""

import torch
from torch import nn


class Attention(nn.Module):
    """Multi-head self-attention over ``(batch, tokens, dim)``; ``causal`` hides later tokens.

    ``bias=False`` gives LLaMA's bias-free projections; ``causal=True`` the decoder's mask, so
    position t sees positions 0…t only.
    """

    def __init__(self, dim: int, heads: int, bias: bool = True, causal: bool = False):
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.heads = heads
        self.causal = causal
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.k_proj = nn.Linear(dim, dim, bias=bias)
        self.v_proj = nn.Linear(dim, dim, bias=bias)
        self.o_proj = nn.Linear(dim, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        head_dim = dim // self.heads

        def split_heads(t: torch.Tensor) -> torch.Tensor:
            # (batch, tokens, dim) -> (batch, heads, tokens, head_dim)
            return t.view(batch, tokens, self.heads, head_dim).transpose(1, 2)

        q = split_heads(self.q_proj(x))
        k = split_heads(self.k_proj(x))
        v = split_heads(self.v_proj(x))
        # Every token scores every other token; softmax turns scores into mixing weights.
        scores = q @ k.transpose(-2, -1) / head_dim**0.5
        if self.causal:
            # Entries above the diagonal are later positions. Setting their score to -inf
            # gives them weight 0 after the softmax, so the prediction for position t can use
            # tokens 0..t and never the token it is asked to predict.
            future = torch.ones(tokens, tokens, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        mixed = scores.softmax(dim=-1) @ v
        mixed = mixed.transpose(1, 2).reshape(batch, tokens, dim)  # merge the heads again
        return self.o_proj(mixed)
