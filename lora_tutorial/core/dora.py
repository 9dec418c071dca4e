"""DoRA: a trained magnitude per output feature, and LoRA on the direction.

DoRA (Liu et al., 2024, "DoRA: Weight-Decomposed Low-Rank Adaptation") writes the adapted
weight as a length times a direction, separately for every output feature. The paper writes
W ∈ R^{d×k} and takes the norm of each column; PEFT (and this module) stores PyTorch's
(out, in) weight and takes the norm of each row: one magnitude per output feature either
way::

    W' = m · (W0 + s·B·A) / ‖W0 + s·B·A‖        s = alpha / r, norms taken row by row

``m`` (one number per output feature) is trained directly; LoRA's ``B·A`` only turns the
direction. At the start ``B = 0`` and ``m = ‖W0‖``, so ``W' = W0``: the model starts as the
base model, like LoRA.

Following the paper (§4.3) and Hugging Face PEFT, the norm is treated as a constant in the
backward pass (``.detach()``), which saves much memory with no noticeable loss of accuracy
(the paper's finding). The forward pass is written as PEFT writes it, the base output plus a
correction, so the two agree to rounding (within 1e-5 in the tests), with dropout too::

    h = base(x) + (m/‖·‖ − 1) · W0·x̃ + (m/‖·‖) · s·B·A·x̃      x̃ = dropout(x)

Without dropout this is ``(m/‖·‖)·(W0 + s·B·A)·x + bias``. Checkpoints use PEFT's key for
the magnitude, ``<module>.lora_magnitude_vector``. Introduced in notebook 09, §2; §8 there
repeats the paper's magnitude/direction analysis (its §3) on the course model.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .layers import LoRALinear


class DoRALinear(LoRALinear):
    """A LoRA layer with DoRA's magnitude vector (``use_dora=True`` in PEFT).

    Everything LoRA has (``base_layer``, ``lora_A``, ``lora_B``, ``scaling``, merging) plus
    ``lora_magnitude_vector``, a trainable vector of ``out_features`` lengths (one per row).

    Introduced in notebook 09, §2.
    """

    dora = True

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0,
                 use_rslora: bool = False):
        super().__init__(base, r, alpha, dropout, use_rslora)
        with torch.no_grad():
            self.lora_magnitude_vector = nn.Parameter(self.weight_norm())
        self._merged_norm: torch.Tensor | None = None

    def weight_norm(self) -> torch.Tensor:
        """‖W0 + s·B·A‖ of every output row, as a constant (no gradient flows into it)."""
        lora_weight = super().delta_weight().detach()
        return torch.linalg.norm(self.base_layer.weight + lora_weight, dim=1).detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base_layer(x)
        if self.merged or self.disabled:
            return result
        x_dropped = self.lora_dropout(x)
        factor = self.lora_magnitude_vector / self.weight_norm()        # m / ‖W0 + s·B·A‖
        if isinstance(self.lora_dropout, nn.Identity) or not self.training:
            base_out = result if self.base_layer.bias is None else result - self.base_layer.bias
        else:  # dropout is on: W0 must see the same dropped input as the LoRA path
            base_out = F.linear(x_dropped, self.base_layer.weight)
        lora_out = self.lora_B(self.lora_A(x_dropped)) * self.scaling
        return result + (factor - 1) * base_out + factor * lora_out

    def delta_weight(self) -> torch.Tensor:
        """ΔW = W' − W0: what merging adds to the base weight (W' from the module docstring)."""
        if self.merged:
            raise RuntimeError("delta_weight() reads W0, but this DoRA layer is merged; "
                               "unmerge it first.")
        adapted = self.base_layer.weight + super().delta_weight()
        factor = self.lora_magnitude_vector / self.weight_norm()
        return factor[:, None] * adapted - self.base_layer.weight

    @torch.no_grad()
    def merge(self) -> None:
        """Fold W' into the base weight. The norm is kept, so unmerging can undo it exactly."""
        norm = None if self.merged else self.weight_norm()
        super().merge()
        if norm is not None and self.merged:
            self._merged_norm = norm

    @torch.no_grad()
    def unmerge(self) -> None:
        """Restore W0 = W' · ‖·‖ / m − s·B·A, with the norm saved at merge time."""
        if not self.merged:
            super().unmerge()  # warns that there is nothing to unmerge
            return
        factor = self.lora_magnitude_vector / self._merged_norm
        lora_weight = LoRALinear.delta_weight(self)
        self.base_layer.weight.copy_(self.base_layer.weight / factor[:, None] - lora_weight)
        self._merged_norm = None
        self.merged = False

    def extra_repr(self) -> str:
        return super().extra_repr() + ", dora=True"
