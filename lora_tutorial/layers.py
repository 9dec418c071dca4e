"""The LoRA linear layer: a frozen pretrained ``nn.Linear`` plus a trainable low-rank update.

LoRA (Hu et al., 2021, "LoRA: Low-Rank Adaptation of Large Language Models") keeps the
pretrained weight ``W0`` (shape ``out_features × in_features``, i.e. d×k) frozen and learns
an update of rank ``r``::

    h = W0·x + (alpha / r) · B·A·x        A: r×k,  B: d×r,  r ≪ min(d, k)

Only ``A`` and ``B`` train: ``r·(d + k)`` numbers instead of ``d·k``.

Names and initialisation follow Hugging Face PEFT and Microsoft's ``loralib`` so that what a
learner builds here matches what they will meet next: ``base_layer``, ``lora_A``, ``lora_B``,
``scaling``, ``merge()``/``unmerge()``.
"""

import math
import warnings

import torch
from torch import nn


def lora_scaling(alpha: float, r: int, use_rslora: bool = False) -> float:
    """The factor on B·A: ``alpha / r``, or ``alpha / sqrt(r)`` with rsLoRA.

    Dividing by r keeps the update's size from growing with the rank, so changing r needs
    little re-tuning of the learning rate; rsLoRA argues sqrt(r) does this better.
    """
    return alpha / math.sqrt(r) if use_rslora else alpha / r


class LoRALinear(nn.Module):
    """Wrap a frozen ``nn.Linear`` and add a trainable low-rank update ``B·A``.

    Args:
        base: the pretrained layer. It stays visible as ``self.base_layer`` and is frozen.
        r: the rank of the update, a positive integer (typically 1–64).
        alpha: the scaling numerator; the update is multiplied by ``alpha / r``.
        dropout: dropout probability applied to the input of the LoRA path only.
        use_rslora: scale by ``alpha / sqrt(r)`` instead (rank-stabilised LoRA,
            Kalajdzievski, 2023), which keeps the update's size steady as ``r`` grows.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0,
                 use_rslora: bool = False):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}.")
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise ValueError(f"The rank r must be a positive integer, got {r!r}. "
                             f"Typical values are 1 to 64.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        self.base_layer = base
        self.base_layer.requires_grad_(False)
        self.r = r
        self.alpha = alpha
        self.use_rslora = use_rslora
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Linear(base.in_features, r, bias=False, **factory)
        self.lora_B = nn.Linear(r, base.out_features, bias=False, **factory)
        # A random, B zero: B·A = 0, so the adapted model starts exactly equal to the base,
        # yet B gets a non-zero gradient at the first step (its gradient involves A·x).
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.merged = False
        self.disabled = False

    @property
    def scaling(self) -> float:
        """The factor on B·A (see :func:`lora_scaling`)."""
        return lora_scaling(self.alpha, self.r, self.use_rslora)

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    def delta_weight(self) -> torch.Tensor:
        """The update ΔW = scaling · B·A, shaped like the base weight (d×k)."""
        return (self.lora_B.weight @ self.lora_A.weight) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base_layer(x)
        if self.merged or self.disabled:
            # Merged: ΔW already lives inside base_layer.weight. Disabled: base only.
            return result
        return result + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        """Fold ΔW into the base weight: one plain matmul at inference, no extra latency.

        Merging twice would add ΔW twice, so a second call only warns. A merge that would
        produce inf or NaN weights is refused, leaving ``W0`` untouched.
        """
        if self.merged:
            warnings.warn("This LoRA layer is already merged; merging again would add "
                          "ΔW twice, so nothing was done.", stacklevel=2)
            return
        if self.disabled:
            raise RuntimeError("This LoRA layer is disabled; enable it before merging.")
        merged_weight = self.base_layer.weight + self.delta_weight()
        if not torch.isfinite(merged_weight).all():
            raise ValueError("Merging would produce non-finite (inf/NaN) weights; the base "
                             "weight was left unchanged. Check lora_A/lora_B for inf/NaN.")
        self.base_layer.weight.copy_(merged_weight)
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract ΔW again, restoring W0 up to floating-point rounding."""
        if not self.merged:
            warnings.warn("This LoRA layer is not merged; nothing to unmerge.", stacklevel=2)
            return
        self.base_layer.weight.sub_(self.delta_weight())
        self.merged = False

    def extra_repr(self) -> str:
        return (f"r={self.r}, alpha={self.alpha}, scaling={self.scaling:.4g}, "
                f"merged={self.merged}")
