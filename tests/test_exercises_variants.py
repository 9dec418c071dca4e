"""The checker of notebook 9's exercise (lora_tutorial.course.exercises.variants): correct, wrong and
not-attempted answers."""

import pytest
import torch

from lora_tutorial.course.exercises import CORRECT, NOT_ATTEMPTED, ExerciseError
from lora_tutorial.course.exercises.variants import check_nf4_blocks


def quantize_right(x, levels, block_size):
    blocks = x.view(-1, block_size)
    absmax = blocks.abs().amax(dim=1)
    normalised = blocks / absmax[:, None]
    codes = (normalised.flatten()[:, None] - levels).abs().argmin(dim=1)
    return codes.to(torch.uint8), absmax


def dequantize_right(codes, absmax, levels, block_size):
    return (levels[codes.long()].view(-1, block_size) * absmax[:, None]).flatten()


def quantize_max_not_absmax(x, levels, block_size):
    blocks = x.view(-1, block_size)
    absmax = blocks.amax(dim=1)
    codes = ((blocks / absmax[:, None]).flatten()[:, None] - levels).abs().argmin(dim=1)
    return codes, absmax


def quantize_one_scale(x, levels, block_size):
    absmax = x.abs().max()
    return ((x / absmax)[:, None] - levels).abs().argmin(dim=1), absmax.reshape(1)


def quantize_unscaled(x, levels, block_size):
    return (x[:, None] - levels).abs().argmin(dim=1), x.view(-1, block_size).abs().amax(dim=1)


def quantize_uniform(x, levels, block_size):
    blocks = x.view(-1, block_size)
    absmax = blocks.abs().amax(dim=1)
    codes = torch.round(blocks / absmax[:, None] * 7).flatten().long() + 7
    return codes, absmax


def quantize_floor(x, levels, block_size):
    blocks = x.view(-1, block_size)
    absmax = blocks.abs().amax(dim=1)
    codes = torch.bucketize((blocks / absmax[:, None]).flatten(), levels).clamp(max=15)
    return codes, absmax


def quantize_in_place(x, levels, block_size):
    x.mul_(1.0)
    x[0] = 0.0
    return quantize_right(x, levels, block_size)


def dequantize_no_absmax(codes, absmax, levels, block_size):
    return levels[codes.long()]


def dequantize_codes_times_absmax(codes, absmax, levels, block_size):
    return (codes.float().view(-1, block_size) * absmax[:, None]).flatten()


def quantize_absmax_down_the_columns(x, levels, block_size):
    blocks = x.view(-1, block_size)
    absmax = blocks.abs().amax(dim=0)                # one per position, not per block
    codes = ((blocks / absmax).flatten()[:, None] - levels).abs().argmin(dim=1)
    return codes, absmax


def quantize_returns_levels(x, levels, block_size):
    codes, absmax = quantize_right(x, levels, block_size)
    return levels[codes.long()], absmax              # the values, not their indices


def stub(*args):
    raise NotImplementedError("Write this function, then run the checker.")


def test_correct_answer(capsys):
    assert bool(check_nf4_blocks(quantize_right, dequantize_right)) is True
    assert capsys.readouterr().out.startswith(f"{CORRECT}: 4 blocks of 64")


@pytest.mark.parametrize("quantize, dequantize, message", [
    (quantize_max_not_absmax, dequantize_right, "absolute"),
    (quantize_one_scale, dequantize_right, "one number per block"),
    (quantize_unscaled, dequantize_right, "divide each block by its absmax"),
    (quantize_uniform, dequantize_right, "evenly spaced"),
    (quantize_floor, dequantize_right, "nearest level"),
    (quantize_in_place, dequantize_right, "in place"),
    (quantize_right, dequantize_no_absmax, "multiply each by its block's absmax"),
    (quantize_right, dequantize_codes_times_absmax, "levels\\[codes\\] first"),
    (lambda x, levels, b: quantize_right(x, levels, b)[0], dequantize_right, "pair"),
    (quantize_absmax_down_the_columns, dequantize_right, "one number per block"),
    (quantize_returns_levels, dequantize_right, "one integer index per number"),
])
def test_wrong_answers_are_explained(quantize, dequantize, message, capsys):
    with pytest.raises(ExerciseError, match=message):
        check_nf4_blocks(quantize, dequantize)
    assert capsys.readouterr().out == ""


def test_not_attempted(capsys):
    assert bool(check_nf4_blocks(stub, stub)) is False
    assert capsys.readouterr().out.startswith(f"{NOT_ATTEMPTED}: write quantize and dequantize")
    assert bool(check_nf4_blocks(quantize_right, stub)) is False
