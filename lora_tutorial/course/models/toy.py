"""A toy transformer of a few hundred parameters: module surgery on a model you can print.

It has the layout LoRA meets in real models, only tiny: ``depth`` blocks, each with a
LayerNorm (``norm``), self-attention (``attn`` with ``q_proj``, ``k_proj``, ``v_proj``,
``o_proj``, the course's one :class:`~lora_tutorial.course.models.attention.Attention`, one
head) and an MLP (``fc1``, ReLU, ``fc2``), then a linear ``head`` on the mean over tokens.
Notebook 3's surgery exercise checks a learner's ``add_lora_by_name`` on it, and the tests
use it wherever a full course model would be slower than the point needs.
"""

import torch
from torch import nn

from .attention import Attention


class ToyBlock(nn.Module):
    """``x + attn(norm(x))``, then ``x + fc2(relu(fc1(x)))``."""

    def __init__(self, d: int):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.attn = Attention(d, heads=1)
        self.fc1, self.fc2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm(x))
        return x + self.fc2(torch.relu(self.fc1(x)))


class ToyTransformer(nn.Module):
    """Map ``(batch, tokens, d)`` to ``(batch, n_classes)`` logits; targets sit three levels
    deep (``blocks.1.attn.q_proj``), beside a LayerNorm and a head that are no targets."""

    def __init__(self, d: int = 8, n_blocks: int = 2, n_classes: int = 3):
        super().__init__()
        self.blocks = nn.ModuleList(ToyBlock(d) for _ in range(n_blocks))
        self.head = nn.Linear(d, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=1))
