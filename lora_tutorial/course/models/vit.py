"""The course's pretrained base model: a tiny vision transformer (ViT) for 8×8 digits.

It is built like the transformers you will adapt with LoRA later, only much smaller:

1. cut the 8×8 image into four 4×4 patches (4 tokens of 16 pixels each) and embed each
   patch with one linear layer (``patch_embed``), just as ViT-B/16 cuts a 224×224 photo
   into 16×16 patches;
2. put a learned ``cls_token`` in front and add a learned position embedding
   (``pos_embed``), so the model knows where each patch came from;
3. run ``depth`` pre-norm transformer blocks; each block has self-attention
   (:class:`~lora_tutorial.course.models.attention.Attention`) with the four projections
   real models use (``q_proj``, ``k_proj``, ``v_proj``, ``o_proj``) and an MLP
   (``fc1``, ``fc2``), all plain ``nn.Linear`` modules;
4. classify from the CLS token with a linear ``head``.

Because every projection is an ``nn.Linear`` with the usual name, you can find the layers
LoRA targets by name, e.g. ``blocks.0.attn.q_proj`` or ``blocks.2.mlp.fc1``, exactly as you
would in a Hugging Face model.

:func:`load_pretrained` loads the weights that ship with the course (trained by
``python -m tools.pretrain``) the way one loads a model from a hub.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .attention import Attention
from .hub import WEIGHTS_DIR, load_info, load_model, save_model

MODEL_NAME = "tiny_vit_digits"
"""File stem of the shipped weights: ``tiny_vit_digits.safetensors`` + ``.json``."""


@dataclass
class TinyViTConfig:
    """The hyperparameters that fully describe a :class:`TinyViT` (saved as JSON)."""

    image_size: int = 8
    patch_size: int = 4
    in_channels: int = 1
    dim: int = 64
    depth: int = 3
    heads: int = 4
    mlp_ratio: int = 4
    num_classes: int = 10


class MLP(nn.Module):
    """The position-wise feed-forward network: expand, GELU, project back."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(nn.functional.gelu(self.fc1(x)))


class Block(nn.Module):
    """A pre-norm transformer block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """A small vision transformer that maps images ``(N, 1, 8, 8)`` to 10 class logits."""

    def __init__(self, config: TinyViTConfig | None = None):
        super().__init__()
        self.config = config or TinyViTConfig()
        c = self.config
        if c.image_size % c.patch_size != 0:
            raise ValueError("image_size must be a multiple of patch_size")
        num_patches = (c.image_size // c.patch_size) ** 2
        patch_pixels = c.in_channels * c.patch_size**2
        self.patch_embed = nn.Linear(patch_pixels, c.dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, c.dim) * 0.02)
        self.blocks = nn.ModuleList(Block(c.dim, c.heads, c.mlp_ratio) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, c.num_classes)

    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """Cut ``(N, C, H, W)`` images into ``(N, num_patches, C·p·p)`` rows of pixels."""
        n, ch, h, w = images.shape
        p = self.config.patch_size
        patches = images.reshape(n, ch, h // p, p, w // p, p)
        # -> (N, rows, cols, C, p, p): patches in reading order, each flattened to one row
        return patches.permute(0, 2, 4, 1, 3, 5).reshape(n, (h // p) * (w // p), ch * p * p)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.patch_embed(self.patchify(images))
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        x = torch.cat([cls, tokens], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, 0]))  # classify from the CLS token


def save_pretrained(model: TinyViT, directory: str | Path, metrics: dict | None = None) -> Path:
    """Save ``model`` as ``tiny_vit_digits.safetensors`` plus a JSON config in ``directory``.

    The JSON holds the :class:`TinyViTConfig` and any ``metrics`` (the pretrain script
    records the test accuracy it measured). safetensors stores only tensors, so loading
    the file can never run code, unlike a pickled ``torch.save`` checkpoint (see
    :mod:`~lora_tutorial.course.models.hub`). Returns the path of the weights file.
    """
    return save_model(model, directory, MODEL_NAME, metrics)


def load_pretrained_info(directory: str | Path = WEIGHTS_DIR) -> dict:
    """Read the JSON next to the weights: ``{"config": {...}, "metrics": {...}}``."""
    return load_info(directory, MODEL_NAME)


def load_pretrained(device: str | torch.device | None = None,
                    directory: str | Path = WEIGHTS_DIR) -> TinyViT:
    """Load the pretrained :class:`TinyViT` that ships with the course, in eval mode.

    Like ``from_pretrained`` on a hub model: build the architecture from the saved config,
    fill it with the saved weights, move it to ``device`` (default:
    :func:`~lora_tutorial.course.device.get_device`). Every call returns a fresh, identical copy,
    so you can fine-tune one without touching the next.
    """
    return load_model(TinyViT, TinyViTConfig, directory, MODEL_NAME, device)
