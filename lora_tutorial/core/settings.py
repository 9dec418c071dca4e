"""LoRA's settings in one checked value: the rank, alpha, dropout, rsLoRA and DoRA.

Every way into LoRA passes through :class:`LoRASettings`: ``inject_lora(model, targets,
r=8, alpha=16)``, ``LoRALinear(base, r=8, alpha=16)`` and ``load_adapter`` reading PEFT's
``adapter_config.json``. The values are checked once, when the settings are made, so a wrong
value fails at once with a message that says what to pass instead, and never later inside
``forward`` (a NaN ``alpha`` would otherwise silently turn every output into NaN).
"""

import math
import numbers
from dataclasses import dataclass


@dataclass(frozen=True)
class LoRASettings:
    """The settings of one LoRA layer, checked; PEFT's ``LoraConfig`` has the same fields.

    Args:
        r: the rank of the update B·A, a positive integer (typically 1–64).
        alpha: the numerator of the scaling; the update is multiplied by ``alpha / r``.
        dropout: dropout probability on the input of the LoRA path, in [0, 1).
        use_rslora: scale by ``alpha / sqrt(r)`` instead (rank-stabilised LoRA).
        use_dora: DoRA layers (a trained length per output unit) instead of plain LoRA.

    numpy numbers are accepted and stored as plain Python values (``r`` an ``int``, ``alpha``
    an ``int`` or ``float``); strings and booleans are not numbers here, and ``"no"`` is not
    a boolean (a non-empty string would switch rsLoRA *on*).

    Introduced in notebook 03, §6.
    """

    r: int
    alpha: int | float
    dropout: float = 0.0
    use_rslora: bool = False
    use_dora: bool = False

    def __post_init__(self):
        r, alpha, dropout = self.r, self.alpha, self.dropout
        if isinstance(r, bool) or not isinstance(r, numbers.Integral) or r < 1:
            raise ValueError(f"The rank r must be a positive integer, got {r!r}. "
                             f"Typical values are 1 to 64.")
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise ValueError(f"alpha must be a number such as 16, got {alpha!r} "
                             f"({type(alpha).__name__}).")
        if not math.isfinite(alpha):
            raise ValueError(f"alpha must be finite, got {alpha!r}: the update is multiplied "
                             "by alpha / r, so every output would become inf or NaN.")
        if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Real)
                or not 0.0 <= dropout < 1.0):
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}.")
        for name in ("use_rslora", "use_dora"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        # Plain Python values from here on (a frozen dataclass is set through object).
        object.__setattr__(self, "r", int(r))
        object.__setattr__(self, "alpha",
                           int(alpha) if isinstance(alpha, numbers.Integral) else float(alpha))
        object.__setattr__(self, "dropout", float(dropout))

    @property
    def scaling(self) -> float:
        """The factor on B·A: ``alpha / r``, or ``alpha / sqrt(r)`` with rsLoRA.

        Dividing by r keeps the update's size from growing with the rank, so changing r
        needs little re-tuning of the learning rate; rsLoRA argues sqrt(r) does this better.
        """
        return self.alpha / math.sqrt(self.r) if self.use_rslora else self.alpha / self.r
