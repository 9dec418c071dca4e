"""QLoRA in miniature: store a frozen weight in 4 bits and dequantize it on the fly.

QLoRA (Dettmers et al., 2023, "QLoRA: Efficient Finetuning of Quantized LLMs") observes that
once LoRA freezes the base model, its weights are only ever *read*, so they can be stored
in a compact format and turned back into floats just before each matrix product. Three
ideas make 4 bits enough, and each is a few lines here:

1. **Block-wise absmax scaling.** Cut the flattened weight into blocks of 64 numbers and
   divide each block by its largest absolute value (its *absmax*), so every block fills
   [-1, 1]. One outlier then spoils only its own block, not the whole tensor.
2. **4-bit NormalFloat (NF4).** Pretrained weights are roughly normally distributed, so
   the 16 levels are placed at quantiles of the normal distribution: each level is used
   about equally often, and the levels are dense near zero where most weights are. Each
   number is stored as the 4-bit index of its nearest level; two indices share one byte.
3. **Double quantization.** The absmax scales (one fp32 number per 64 weights, i.e.
   32/64 = 0.5 extra bits per weight) are quantized too: centred on their mean and stored
   as 8-bit floats in blocks of 256, which brings the overhead to 8/64 + 32/(64·256) ≈
   0.127 bits per weight.

Plain 4-bit integers (16 *evenly* spaced levels) are here as well, for comparison:
``quant_type="int4"``.

:class:`Linear4bit` is a frozen linear layer stored this way; :func:`quantize_base_layers`
puts one under every LoRA layer of a model, which is QLoRA's structure: a 4-bit frozen
base, a full-precision LoRA update on top. Introduced in notebook 09, §1 (QLoRA's point);
its Going deeper sections §5 to §7 build the internals.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..core.inject import lora_layers
from ..core.layers import LoRALinear

BLOCK_SIZE = 64
"""Weights per absmax block (QLoRA's choice)."""

SCALE_BLOCK_SIZE = 256
"""Absmax scales per block in double quantization (QLoRA's choice)."""

QUANT_TYPES = ("nf4", "int4")


def normal_float_levels(bits: int = 4) -> torch.Tensor:
    """The 2**bits NormalFloat levels in [-1, 1], as QLoRA builds them for NF4.

    Take quantiles of the standard normal distribution at evenly spaced probabilities,
    then divide by the largest so they span [-1, 1]. To have an exact zero (padding and
    many weights are zero) with an even number of levels, the two halves are built
    separately: 2**(bits-1) positive quantiles and 2**(bits-1) - 1 negative ones, plus 0.
    The outermost probability is ``offset``, halfway between 1 - 1/(2·15) and 1 - 1/(2·16)
    for 4 bits, so the extreme quantile stays finite.

    Introduced in notebook 09, §5.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(f"bits must be an integer from 2 to 8, got {bits!r}.")
    n = 2 ** bits
    offset = 0.5 * ((1 - 1 / (2 * (n - 1))) + (1 - 1 / (2 * n)))
    half = n // 2
    positive = torch.special.ndtri(torch.linspace(offset, 0.5, half + 1, dtype=torch.float64)[:-1])
    negative = -torch.special.ndtri(torch.linspace(offset, 0.5, half, dtype=torch.float64)[:-1])
    levels = torch.cat([negative, torch.zeros(1, dtype=torch.float64), positive]).sort().values
    return (levels / levels.max()).float()


def integer_levels(bits: int = 4) -> torch.Tensor:
    """Evenly spaced levels of symmetric absmax integer quantization, in [-1, 1].

    The integers -(2**(bits-1) - 1) ... 2**(bits-1) - 1 divided by the largest: for 4 bits,
    -7/7 ... 7/7, fifteen levels with an exact zero (the 16th code, -8, is never used).

    Introduced in notebook 09, §5.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(f"bits must be an integer from 2 to 8, got {bits!r}.")
    top = 2 ** (bits - 1) - 1
    return torch.arange(-top, top + 1, dtype=torch.float32) / top


def float8_levels() -> torch.Tensor:
    """Every finite value of the 8-bit float format E4M3, divided by its maximum (448).

    One sign bit, 4 exponent bits (bias 7) and 3 mantissa bits; exponent 0 holds the
    subnormals, and the all-ones pattern (exponent 15, mantissa 7) is NaN. QLoRA stores
    the centred absmax scales as 8-bit floats; this is that code table.

    Introduced in notebook 09, §6.
    """
    values = []
    for exponent in range(16):
        for mantissa in range(8):
            if exponent == 15 and mantissa == 7:
                continue  # NaN
            if exponent == 0:
                value = (mantissa / 8) * 2.0 ** (1 - 7)
            else:
                value = (1 + mantissa / 8) * 2.0 ** (exponent - 7)
            values += [value, -value]
    levels = torch.tensor(sorted(set(values)), dtype=torch.float64)
    return (levels / levels.max()).float()


NF4_LEVELS = normal_float_levels(4)
"""The 16 NF4 levels (equal to QLoRA's published table, Appendix E, to float32 precision)."""

INT4_LEVELS = integer_levels(4)
"""The 15 levels of symmetric 4-bit integer quantization, -1, -6/7, ..., 6/7, 1."""

FP8_LEVELS = float8_levels()
"""The 253 distinct E4M3 values, scaled to [-1, 1]."""

_LEVELS = {"nf4": NF4_LEVELS, "int4": INT4_LEVELS}


def nearest_level(x: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Index (int64) of the level nearest to each value of ``x``; ``levels`` sorted ascending.

    Comparing with the midpoints between neighbouring levels finds the nearest level by
    binary search, without a (values × levels) table of distances.

    Introduced in notebook 09, §1.
    """
    midpoints = (levels[1:] + levels[:-1]) / 2
    return torch.bucketize(x, midpoints.to(x.device))


def quantize_blockwise(x: torch.Tensor, levels: torch.Tensor,
                       block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Block-wise absmax quantization of a 1-D float tensor to indices into ``levels``.

    Returns ``(codes, absmax)``: one uint8 index per value (``len(levels) <= 256``), and
    the absmax (fp32) of each block of ``block_size`` values. A last, shorter block is
    padded with zeros for the computation; the codes are cut back to ``len(x)``.

    Introduced in notebook 09, §1.
    """
    if x.dim() != 1:
        raise ValueError(f"quantize_blockwise takes a 1-D tensor, got shape {tuple(x.shape)}; "
                         "flatten it first (x.flatten()).")
    if len(levels) > 256:
        raise ValueError(f"{len(levels)} levels do not fit in one byte per code (at most 256).")
    n = x.numel()
    padded = F.pad(x.float(), (0, (-n) % block_size)).view(-1, block_size)
    absmax = padded.abs().amax(dim=1)
    # An all-zero block has absmax 0: divide by 1 instead (its values are 0 either way).
    normalised = padded / torch.where(absmax > 0, absmax, 1.0)[:, None]
    codes = nearest_level(normalised, levels).to(torch.uint8)
    return codes.flatten()[:n], absmax


def dequantize_blockwise(codes: torch.Tensor, absmax: torch.Tensor, levels: torch.Tensor,
                         block_size: int) -> torch.Tensor:
    """Undo :func:`quantize_blockwise`: each code's level times its block's absmax.

    Introduced in notebook 09, §1.
    """
    n = codes.numel()
    values = levels.to(absmax.device)[codes.long()]
    padded = F.pad(values, (0, (-n) % block_size)).view(-1, block_size)
    return (padded * absmax[:, None]).flatten()[:n]


def pack_4bit(codes: torch.Tensor) -> torch.Tensor:
    """Two 4-bit codes per byte: the first in the high nibble, the second in the low one.

    Introduced in notebook 09, §6.
    """
    if codes.numel() and int(codes.max()) > 15:
        raise ValueError("pack_4bit packs codes 0–15 only; these need more than 4 bits.")
    codes = F.pad(codes.to(torch.uint8), (0, codes.numel() % 2))  # an odd count gets a 0
    return (codes[0::2] << 4) | codes[1::2]


def unpack_4bit(packed: torch.Tensor, n: int) -> torch.Tensor:
    """Undo :func:`pack_4bit`: the first ``n`` codes.

    Introduced in notebook 09, §6.
    """
    return torch.stack([packed >> 4, packed & 0x0F], dim=1).flatten()[:n]


def quantize_4bit(weight: torch.Tensor, quant_type: str = "nf4",
                  double_quant: bool = True) -> dict[str, torch.Tensor]:
    """Quantize a weight to 4 bits; return the tensors that store it.

    - ``"codes"``: uint8, two 4-bit codes per byte (``ceil(numel / 2)`` bytes);
    - without double quantization, ``"absmax"``: one fp32 scale per block of 64;
    - with it, ``"absmax_codes"`` (one uint8 E4M3 code per scale), ``"absmax_absmax"``
      (one fp32 scale per 256 scales) and ``"absmax_mean"`` (one fp32 number: the scales
      are all positive, so centring them on their mean lets the signed 8-bit format use
      both halves of its range).

    Introduced in notebook 09, §6.
    """
    if quant_type not in _LEVELS:
        raise ValueError(f"quant_type must be one of {QUANT_TYPES}, got {quant_type!r}.")
    if not weight.is_floating_point() or not torch.isfinite(weight).all():
        raise ValueError("quantize_4bit needs a floating-point weight without inf/NaN.")
    codes, absmax = quantize_blockwise(weight.detach().flatten(), _LEVELS[quant_type],
                                       BLOCK_SIZE)
    tensors = {"codes": pack_4bit(codes)}
    if not double_quant:
        tensors["absmax"] = absmax
        return tensors
    mean = absmax.mean()
    absmax_codes, absmax_absmax = quantize_blockwise(absmax - mean, FP8_LEVELS,
                                                     SCALE_BLOCK_SIZE)
    tensors.update(absmax_codes=absmax_codes, absmax_absmax=absmax_absmax, absmax_mean=mean)
    return tensors


def dequantize_4bit(tensors: dict[str, torch.Tensor], shape: tuple[int, ...],
                    quant_type: str = "nf4") -> torch.Tensor:
    """Rebuild the fp32 weight of ``shape`` from what :func:`quantize_4bit` returned.

    Introduced in notebook 09, §6.
    """
    if quant_type not in _LEVELS:
        raise ValueError(f"quant_type must be one of {QUANT_TYPES}, got {quant_type!r}.")
    if "absmax" in tensors:
        absmax = tensors["absmax"]
    else:  # double quantization: first rebuild the scales from their 8-bit codes
        absmax = dequantize_blockwise(tensors["absmax_codes"], tensors["absmax_absmax"],
                                      FP8_LEVELS, SCALE_BLOCK_SIZE) + tensors["absmax_mean"]
    n = math.prod(shape)
    codes = unpack_4bit(tensors["codes"], n)
    return dequantize_blockwise(codes, absmax, _LEVELS[quant_type], BLOCK_SIZE).view(shape)


class Linear4bit(nn.Module):
    """A frozen linear layer whose weight is stored in 4 bits and dequantized on the fly.

    Built from a trained ``nn.Linear``; the bias stays in full precision (it is tiny). The
    4-bit tensors are buffers, not parameters: nothing here trains. ``forward`` rebuilds
    the fp32 weight and multiplies, so gradients still flow *through* the layer to the
    LoRA factors below it, which is all QLoRA needs. (bitsandbytes' ``Linear4bit`` does
    the same on a GPU with fused kernels.)

    Args:
        linear: the trained layer to store.
        quant_type: ``"nf4"`` (NormalFloat levels) or ``"int4"`` (evenly spaced levels).
        double_quant: also quantize the absmax scales to 8 bits (block 256).

    Introduced in notebook 09, §1.
    """

    def __init__(self, linear: nn.Linear, quant_type: str = "nf4", double_quant: bool = True):
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"Linear4bit stores an nn.Linear, got {type(linear).__name__}.")
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.quant_type, self.double_quant = quant_type, double_quant
        for name, tensor in quantize_4bit(linear.weight, quant_type, double_quant).items():
            self.register_buffer(name, tensor)
        self.bias = (None if linear.bias is None
                     else nn.Parameter(linear.bias.detach().clone(), requires_grad=False))

    def dequantize(self) -> torch.Tensor:
        """The weight as fp32 (out_features × in_features), rebuilt from its 4-bit codes."""
        return dequantize_4bit(dict(self.named_buffers()), (self.out_features, self.in_features),
                               self.quant_type)

    def __getattr__(self, name: str):
        # LoRA's merge writes into base_layer.weight; a 4-bit weight has no such tensor.
        # Python's rule for a missing attribute is AttributeError, so hasattr(layer,
        # "weight") is False and getattr(layer, "weight", None) works. (A property raising
        # AttributeError would not do: Python would then call nn.Module.__getattr__, whose
        # own error would hide this message.)
        if name == "weight":
            raise AttributeError("Linear4bit stores its weight in 4 bits, so there is no weight "
                                 "tensor to read or merge into. Call .dequantize() for an fp32 "
                                 "copy; to merge LoRA, put that copy in an nn.Linear first.")
        return super().__getattr__(name)

    def weight_bytes(self) -> int:
        """Bytes that store the weight: the packed codes and the scales (bias excluded)."""
        return sum(b.numel() * b.element_size() for b in self.buffers())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.dequantize(), self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"quant_type={self.quant_type}, double_quant={self.double_quant}")


def quantize_base_layers(model: nn.Module, quant_type: str = "nf4",
                         double_quant: bool = True) -> list[str]:
    """Store the frozen ``base_layer`` of every LoRA layer in 4 bits (QLoRA), in place.

    Call it after :func:`~lora_tutorial.core.inject.inject_lora`: the LoRA factors stay fp32 and
    trainable, each base becomes a :class:`Linear4bit`. Every check runs before the first
    replacement. Returns the names of the LoRA layers whose base was quantized.

    Introduced in notebook 09, §1.
    """
    if quant_type not in QUANT_TYPES:
        raise ValueError(f"quant_type must be one of {QUANT_TYPES}, got {quant_type!r}.")
    layers = list(lora_layers(model))
    if not layers:
        raise ValueError("The model has no LoRA layers; call inject_lora first, then quantize "
                         "their frozen bases.")
    problems = [f"{name} ({type(layer).__name__})" for name, layer in layers
                if type(layer) is not LoRALinear]
    if problems:
        raise ValueError(f"Only plain LoRALinear layers can get a 4-bit base here; found "
                         f"{', '.join(problems)} (a DoRA layer reads its base weight's norm).")
    problems = [name for name, layer in layers
                if layer.merged or not isinstance(layer.base_layer, nn.Linear)]
    if problems:
        raise ValueError(f"These LoRA layers are merged or already quantized: {problems}. "
                         "Quantize the frozen base before merging, and only once.")
    for _, layer in layers:
        layer.base_layer = Linear4bit(layer.base_layer, quant_type, double_quant)
    return [name for name, _ in layers]


def bits_per_weight(code_bits: int = 4, block_size: int = BLOCK_SIZE,
                    double_quant: bool = False,
                    scale_block_size: int = SCALE_BLOCK_SIZE) -> float:
    """Storage per weight in bits, for a large tensor (the paper's accounting).

    4 bits of code, plus a 32-bit scale per block; with double quantization an 8-bit scale
    per block plus a 32-bit second-level scale per ``scale_block_size`` blocks. For NF4:
    4.5 bits, or 4 + 8/64 + 32/(64·256) ≈ 4.127 bits with double quantization.

    Introduced in notebook 09, §1.
    """
    if double_quant:
        return code_bits + 8 / block_size + 32 / (block_size * scale_block_size)
    return code_bits + 32 / block_size


def stable_digits(value: float, decimals: int, guard: float = 2e-6) -> str:
    """``value`` printed with ``decimals`` decimals, refusing a value on a rounding edge.

    Quantizing fixed weights is deterministic, so the errors notebook 09 prints are the same
    on every CPU up to the last bits of float arithmetic. Those last bits matter only when a
    value sits within ``guard`` (relative) of the halfway point between two printed digits,
    where another CPU could round the other way; this raises instead of printing such a
    value, so a stored output never depends on the machine. (Test machinery: the notebook
    only sees the printed digits.) Introduced in notebook 09, §1.
    """
    edge = (math.floor(value * 10 ** decimals) + 0.5) / 10 ** decimals
    if abs(value - edge) <= guard * abs(value):
        raise ValueError(f"{value!r} is too close to a rounding edge to print with "
                         f"{decimals} decimals reproducibly on every machine")
    return f"{value:.{decimals}f}"
