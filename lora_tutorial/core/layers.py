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

from .settings import LoRASettings


def lora_scaling(alpha: float, r: int, use_rslora: bool = False) -> float:
    """The factor on B·A: ``alpha / r``, or ``alpha / sqrt(r)`` with rsLoRA
    (:attr:`LoRASettings.scaling <lora_tutorial.core.settings.LoRASettings.scaling>`).

    Introduced in notebook 03, §6.
    """
    return LoRASettings(r, alpha, use_rslora=use_rslora).scaling


def check_lora_settings(r, alpha, dropout=0.0,
                        use_rslora=False) -> tuple[int, int | float, float, bool]:
    """Check LoRA's four settings and return them as plain Python values (see
    :class:`~lora_tutorial.core.settings.LoRASettings`, which does the checking).

    Introduced in notebook 03, §6.
    """
    settings = LoRASettings(r, alpha, dropout, use_rslora)
    return settings.r, settings.alpha, settings.dropout, settings.use_rslora


class LoRALayer(nn.Module):
    """What every LoRA layer shares: its settings, ``scaling``, merging and unmerging.

    A subclass wraps one kind of frozen base layer (``LoRALinear`` below wraps an
    ``nn.Linear``; ``layers_hf`` adds GPT-2's ``Conv1D`` and ``nn.Embedding``), creates its
    ``A`` and ``B``, and defines ``delta_weight()`` (shaped like the base weight) and
    ``forward``. Its settings are one :class:`~lora_tutorial.core.settings.LoRASettings`,
    ``layer.settings``; ``layer.r``, ``layer.alpha`` and ``layer.use_rslora`` read them.

    Introduced in notebook 03, §9.
    """

    #: What a subclass wraps, for error messages; ``accepts`` says whether a module is one.
    wraps = "a base layer"
    #: Whether the layer is DoRA (``DoRALinear``), the ``use_dora`` of its settings.
    dora = False

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
        self.settings = LoRASettings(r, alpha, dropout, use_rslora, use_dora=self.dora)
        self.base_layer = base
        self.base_layer.requires_grad_(False)
        self.lora_dropout = self._dropout_module(self.settings.dropout)
        self.merged = False
        self.disabled = False
        # Other modules that use this very weight tensor (weight tying, as between GPT-2's
        # lm_head and its token embeddings); inject_lora fills it in. Merging into a shared
        # weight would silently change those modules too, so merge() refuses.
        self.weight_shared_with: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, base: nn.Module, settings: LoRASettings) -> "LoRALayer":
        """The layer for ``base`` with these settings (``inject_lora`` builds layers this way)."""
        if settings.use_dora != cls.dora:
            raise ValueError(f"{cls.__name__} cannot take use_dora={settings.use_dora}.")
        return cls(base, settings.r, settings.alpha, settings.dropout, settings.use_rslora)

    @staticmethod
    def _dropout_module(p: float) -> nn.Module:
        return nn.Dropout(p) if p > 0 else nn.Identity()

    def retune(self, settings: LoRASettings) -> None:
        """Take on another adapter's alpha, dropout and rsLoRA (``load_adapter`` swaps this way).

        ``r`` and DoRA cannot change: they fix the shapes of the layer's tensors.
        """
        if (settings.r, settings.use_dora) != (self.r, self.dora):
            raise ValueError(f"A layer with r={self.r}, use_dora={self.dora} cannot take "
                             f"r={settings.r}, use_dora={settings.use_dora}: those fix the "
                             "shapes of its tensors. Build a new layer instead.")
        if settings.dropout != self.settings.dropout:
            self.lora_dropout = self._dropout_module(settings.dropout).train(self.training)
        self.settings = settings

    @property
    def r(self) -> int:
        return self.settings.r

    @property
    def alpha(self) -> int | float:
        return self.settings.alpha

    @property
    def use_rslora(self) -> bool:
        return self.settings.use_rslora

    @property
    def scaling(self) -> float:
        """The factor on B·A (see :attr:`LoRASettings.scaling`)."""
        return self.settings.scaling

    def delta_weight(self) -> torch.Tensor:
        """The update ΔW = scaling · B·A, in the layout of ``base_layer.weight``."""
        raise NotImplementedError(f"{type(self).__name__} must define delta_weight().")

    @torch.no_grad()
    def merged_weight(self) -> torch.Tensor:
        """W0 + ΔW, what :meth:`merge` would write; raises if merging must be refused.

        Refused: a disabled layer; a weight on the ``meta`` device (no values to add); a
        weight that other modules share (merging would change them too); a weight that is
        not stored but computed (a parametrization such as ``weight_norm``: the sum would be
        lost at the next forward); and a result with inf or NaN in it.
        """
        if self.disabled:
            raise RuntimeError("This LoRA layer is disabled; enable it before merging.")
        base = self.base_layer
        weight = base.weight
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
        if not isinstance(base._parameters.get("weight"), nn.Parameter):
            raise RuntimeError(
                f"The base {type(base).__name__}'s weight is not a stored parameter but is "
                "computed from others (a parametrization such as weight_norm or spectral_norm),"
                " so ΔW added to it would be lost at the next forward. Keep this layer "
                "unmerged, or remove the parametrization first "
                "(torch.nn.utils.parametrize.remove_parametrizations(layer, 'weight')).")
        merged = weight + self.delta_weight()
        if not torch.isfinite(merged).all():
            raise ValueError("Merging would produce non-finite (inf/NaN) weights; the base "
                             "weight was left unchanged. Check the LoRA weights for inf/NaN.")
        return merged

    @torch.no_grad()
    def merge(self) -> None:
        """Fold ΔW into the base weight: one plain matmul at inference, no extra latency.

        Merging twice would add ΔW twice, so a second call only warns. Every refusal of
        :meth:`merged_weight` leaves ``W0`` untouched.
        """
        if self.merged:
            warnings.warn("This LoRA layer is already merged; merging again would add "
                          "ΔW twice, so nothing was done.", stacklevel=2)
            return
        self.base_layer.weight.copy_(self.merged_weight())
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

    Introduced in notebook 03, §9.

    Args:
        base: the pretrained layer. It stays visible as ``self.base_layer`` and is frozen.
        r: the rank of the update, a positive integer (typically 1–64).
        alpha: the scaling numerator; the update is multiplied by ``alpha / r``.
        dropout: dropout probability applied to the input of the LoRA path only.
        use_rslora: scale by ``alpha / sqrt(r)`` instead (rank-stabilised LoRA,
            Kalajdzievski, 2023), which keeps the update's size steady as ``r`` grows.
    """

    wraps = "an nn.Linear"
    #: PEFT's name: True when the wrapped layer stores its weight ``in × out`` (GPT-2's
    #: ``Conv1D``), the transpose of ``nn.Linear``'s; ``delta_weight`` transposes ΔW then.
    fan_in_fan_out = False

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
        """The update ΔW = scaling · B·A, shaped like the base weight: d×k, or k×d
        (transposed) when the base stores its weight ``fan_in_fan_out``."""
        update = self.lora_B.weight @ self.lora_A.weight
        return (update.T if self.fan_in_fan_out else update) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base_layer(x)
        if self.merged or self.disabled:
            # Merged: ΔW already lives inside base_layer.weight. Disabled: base only.
            return result
        return result + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling
