"""Checker for notebook 9's exercise: block-wise NF4 quantization and dequantization.

The learner writes two functions for a 1-D tensor whose length is a multiple of the block
size:

- ``quantize(x, levels, block_size) -> (codes, absmax)``: cut ``x`` into blocks, divide each
  block by its largest absolute value (``absmax``, one per block), and store each number as
  the index of the nearest of the sorted ``levels``;
- ``dequantize(codes, absmax, levels, block_size) -> x_hat``: look the levels up again and
  multiply by each block's absmax.

:func:`check_nf4_blocks` compares both with :mod:`lora_tutorial.variants.quantize` on data built to
expose the usual mistakes: a block of only negative numbers (max instead of absmax), a block
with an outlier (one scale for the whole tensor), and numbers between levels (rounding).
"""

from collections.abc import Callable

import torch

from ...variants.quantize import NF4_LEVELS, dequantize_blockwise, integer_levels, quantize_blockwise
from . import call_learner, checker, require

BLOCK = 64


def _test_data() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    blocks = torch.randn(4, BLOCK, generator=generator) * 0.02
    blocks[1] = -blocks[1].abs() - 0.001          # only negative numbers: max ≠ absmax
    blocks[2, 5] = 0.5                            # an outlier, in its own block only
    return blocks.flatten()


@checker("write quantize and dequantize above")
def check_nf4_blocks(quantize: Callable, dequantize: Callable) -> str:
    """Check the learner's block-wise quantize/dequantize pair against the package's."""
    x = _test_data()
    original = x.clone()
    levels = NF4_LEVELS.clone()
    result = call_learner(quantize, x, levels, BLOCK,
                          context=f"quantize(x of {len(x)} numbers, NF4 levels, {BLOCK})")
    require(torch.equal(x, original), "Your quantize changed x in place; work on a copy "
            "(x.view(...) / absmax makes a new tensor).")
    require(isinstance(result, tuple) and len(result) == 2,
            f"quantize should return a pair (codes, absmax), got {type(result).__name__}.")
    codes, absmax = result
    require(torch.is_tensor(codes) and torch.is_tensor(absmax),
            "quantize should return two tensors: the codes and the absmax of each block.")
    expected_codes, expected_absmax = quantize_blockwise(x, levels, BLOCK)
    blocks = x.view(-1, BLOCK)
    require(absmax.numel() == len(blocks),
            f"absmax should hold one number per block of {BLOCK}: {len(blocks)} numbers for "
            f"{len(x)} values, but yours has {absmax.numel()}. A single scale for the whole "
            "tensor lets one outlier (block 2 has one) squash every other block onto a few "
            "levels; reshape to (-1, block_size) and take the absmax along dim=1.")
    absmax = absmax.flatten().float()
    if torch.allclose(absmax, blocks.amax(dim=1)) and not torch.allclose(absmax,
                                                                         expected_absmax):
        require(False, "Your absmax is the largest value of each block, not the largest "
                       "*absolute* value: block 1 holds only negative numbers, so its max is "
                       "negative. Use block.abs().amax(dim=1).")
    require(torch.allclose(absmax, expected_absmax),
            "Your absmax differs from the largest absolute value of each block "
            f"(first block: yours {absmax[0].item():.4g}, expected "
            f"{expected_absmax[0].item():.4g}).")
    require(codes.numel() == len(x) and not codes.is_floating_point(),
            f"codes should hold one integer index per number ({len(x)} of them), got "
            f"{codes.numel()} values of dtype {codes.dtype}.")
    codes = codes.flatten().long()
    if not torch.equal(codes, expected_codes.long()):
        int_codes, _ = quantize_blockwise(x, integer_levels(4), BLOCK)
        unscaled = (x[:, None] - levels).abs().argmin(dim=1)
        require(not torch.equal(codes, int_codes.long()),
                "Your codes are those of evenly spaced levels (4-bit integers). Use the NF4 "
                "levels you were given: find the nearest one with "
                "(normalised[:, None] - levels).abs().argmin(dim=1).")
        require(not torch.equal(codes, unscaled),
                "You looked up the nearest level of the raw numbers: divide each block by "
                "its absmax first, so that it fills [-1, 1] like the levels do.")
        wrong = int((codes != expected_codes.long()).sum())
        require(False, f"{wrong} of {len(x)} codes are not the index of the nearest level to "
                       "x / absmax. Compare every normalised number with all 16 levels and "
                       "keep the index of the smallest distance (rounding down or up is not "
                       "enough: the levels are not evenly spaced).")

    # Dequantize the package's codes, so a mistake above cannot hide one here.
    restored = call_learner(dequantize, expected_codes, expected_absmax, levels, BLOCK,
                            context="dequantize(codes, absmax, NF4 levels, 64)")
    expected = dequantize_blockwise(expected_codes, expected_absmax, levels, BLOCK)
    require(torch.is_tensor(restored) and restored.numel() == len(x),
            f"dequantize should return a tensor of {len(x)} numbers.")
    restored = restored.flatten().float()
    require(not torch.allclose(restored, levels[expected_codes.long()]),
            "Your dequantize returns the levels only: multiply each by its block's absmax "
            "to undo the division.")
    per_number_absmax = expected_absmax.repeat_interleave(BLOCK)
    require(not torch.allclose(restored, expected_codes.float() * per_number_absmax),
            "Your dequantize multiplies the code (an index 0–15) by absmax: look up "
            "levels[codes] first.")
    require(torch.allclose(restored, expected, atol=1e-7),
            "Your dequantize does not rebuild levels[codes] × absmax of each block.")
    error = ((restored - x).norm() / x.norm()).item()
    return (f"{len(blocks)} blocks of {BLOCK}, one absmax each, codes equal to the nearest NF4 "
            f"level, and the round trip rebuilds x with {100 * error:.0f}% relative error "
            "(each number moved by at most half a level gap times its block's absmax).")
