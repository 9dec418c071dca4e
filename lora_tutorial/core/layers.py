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
import numbers
import warnings

import torch
from torch import nn


def lora_scaling(alpha: float, r: int, use_rslora: bool = False) -> float:
    """The factor on B·A: ``alpha / r``, or ``alpha / sqrt(r)`` with rsLoRA.

    Dividing by r keeps the update's size from growing with the rank, so changing r needs
    little re-tuning of the learning rate; rsLoRA argues sqrt(r) does this better.
    """
    return alpha / math.sqrt(r) if use_rslora else alpha / r


def check_lora_settings(r, alpha, dropout=0.0,
                        use_rslora=False) -> tuple[int, int | float, float, bool]:
    """Check LoRA's four settings and return them as plain Python values.

    A wrong value must fail here, at construction, and not later in ``forward`` (or never:
    a NaN ``alpha`` would silently make every output NaN). numpy integers are accepted for
    ``r`` and numpy numbers for ``alpha`` and ``dropout``; strings and booleans are not
    (``use_rslora="no"`` is a non-empty string, so it would switch rsLoRA *on*).
    """
    if isinstance(r, bool) or not isinstance(r, numbers.Integral) or r < 1:
        raise ValueError(f"The rank r must be a positive integer, got {r!r}. "
                         f"Typical values are 1 to 64.")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise ValueError(f"alpha must be a number such as 16, got {alpha!r} "
                         f"({type(alpha).__name__}).")
    if not math.isfinite(alpha):
        raise ValueError(f"alpha must be finite, got {alpha!r}: the update is multiplied by "
                         "alpha / r, so every output would become inf or NaN.")
    if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Real)
            or not 0.0 <= dropout < 1.0):
        raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}.")
    if not isinstance(use_rslora, bool):
        raise ValueError(f"use_rslora must be True or False, got {use_rslora!r}.")
    alpha = int(alpha) if isinstance(alpha, numbers.Integral) else float(alpha)
    return int(r), alpha, float(dropout), use_rslora


class LoRALayer(nn.Module):
    """What every LoRA layer shares: its settings, ``scaling``, merging and unmerging.

    A subclass wraps one kind of frozen base layer (``LoRALinear`` below wraps an
    ``nn.Linear``; ``layers_hf`` adds GPT-2's ``Conv1D`` and ``nn.Embedding``), creates its
    ``A`` and ``B``, and defines ``delta_weight()`` (shaped like the base weight) and
    ``forward``.
    """

    #: What a subclass wraps, for error messages; ``accepts`` says whether a module is one.
    wraps = "a base layer"

    @staticmethod
    def accepts(module: nn.Module) -> bool:
        """Whether this class can wrap ``module`` (``inject_lora`` asks each LoRA class)."""
        return False

    def __init__(self, base: nn.Module, r: int, alpha: float, dropout: float = 0.0,
                 use_rslora: bool = False):
        if not self.accepts(base):
            raise TypeError(f"{type(self).__name__} wraps {self.wraps}, "
                            f"got {type(base).__name__}.")
        super().__init__()
        self.r, self.alpha, dropout, self.use_rslora = check_lora_settings(r, alpha, dropout,
                                                                           use_rslora)
        self.base_layer = base
        self.base_layer.requires_grad_(False)
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.merged = False
        self.disabled = False
        # Other modules that use this very weight tensor (weight tying, as between GPT-2's
        # lm_head and its token embeddings); inject_lora fills it in. Merging into a shared
        # weight would silently change those modules too, so merge() refuses.
        self.weight_shared_with: tuple[str, ...] = ()

    @property
    def scaling(self) -> float:
        """The factor on B·A (see :func:`lora_scaling`)."""
        return lora_scaling(self.alpha, self.r, self.use_rslora)

    def delta_weight(self) -> torch.Tensor:
        """The update ΔW = scaling · B·A, in the layout of ``base_layer.weight``."""
        raise NotImplementedError(f"{type(self).__name__} must define delta_weight().")

    @torch.no_grad()
    def merge(self) -> None:
        """Fold ΔW into the base weight: one plain matmul at inference, no extra latency.

        Merging twice would add ΔW twice, so a second call only warns. Refused, leaving
        ``W0`` untouched: a merge that would produce inf or NaN weights, a merge into a weight
        that other modules share, and a merge on the ``meta`` device (no values to add).
        """
        if self.merged:
            warnings.warn("This LoRA layer is already merged; merging again would add "
                          "ΔW twice, so nothing was done.", stacklevel=2)
            return
        if self.disabled:
            raise RuntimeError("This LoRA layer is disabled; enable it before merging.")
        weight = self.base_layer.weight
        if weight.is_meta:
            raise RuntimeError("Cannot merge on the meta device: its tensors have shapes but no "
                               "values. Load real weights first (model.to_empty(device='cpu'), "
                               "then load_state_dict), and merge after that.")
        if self.weight_shared_with:
            raise RuntimeError(
                f"This layer's weight is shared with {list(self.weight_shared_with)} (weight "
                "tying), so merging would change those modules too. Keep the adapter "
                "unmerged, or untie before inject_lora: give the layer its own copy, e.g. "
                "model.lm_head.weight = nn.Parameter(model.lm_head.weight.clone()).")
        merged_weight = weight + self.delta_weight()
        if not torch.isfinite(merged_weight).all():
            raise ValueError("Merging would produce non-finite (inf/NaN) weights; the base "
                             "weight was left unchanged. Check the LoRA weights for inf/NaN.")
        weight.copy_(merged_weight)
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


class LoRALinear(LoRALayer):
    """Wrap a frozen ``nn.Linear`` and add a trainable low-rank update ``B·A``.

    Args:
        base: the pretrained layer. It stays visible as ``self.base_layer`` and is frozen.
        r: the rank of the update, a positive integer (typically 1–64).
        alpha: the scaling numerator; the update is multiplied by ``alpha / r``.
        dropout: dropout probability applied to the input of the LoRA path only.
        use_rslora: scale by ``alpha / sqrt(r)`` instead (rank-stabilised LoRA,
            Kalajdzievski, 2023), which keeps the update's size steady as ``r`` grows.
    """

    wraps = "an nn.Linear"

    @staticmethod
    def accepts(module: nn.Module) -> bool:
        """Whether this class can wrap ``module`` (``inject_lora`` asks each LoRA class)."""
        return isinstance(module, nn.Linear)

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0,
                 use_rslora: bool = False):
        super().__init__(base, r, alpha, dropout, use_rslora)
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Linear(self.in_features, self.r, bias=False, **factory)
        self.lora_B = nn.Linear(self.r, self.out_features, bias=False, **factory)
        # A random, B zero: B·A = 0, so the adapted model starts exactly equal to the base,
        # yet B gets a non-zero gradient at the first step (its gradient involves A·x).
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

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
