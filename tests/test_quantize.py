"""NF4 and int4 quantization from scratch (lora_tutorial.variants.quantize), checked against the
published NF4 table, bitsandbytes (when installed), torch's float8 type and LoRA."""

import copy

import pytest
import torch
from torch import nn

from lora_tutorial import inject_lora, lora_layers, mark_only_lora_as_trainable, merge_lora
from lora_tutorial.variants.quantize import (BLOCK_SIZE, FP8_LEVELS, INT4_LEVELS, NF4_LEVELS,
                                    Linear4bit, bits_per_weight, dequantize_4bit,
                                    dequantize_blockwise, float8_levels, integer_levels,
                                    nearest_level, normal_float_levels, pack_4bit,
                                    quantize_4bit, quantize_base_layers, quantize_blockwise,
                                    unpack_4bit)

# The NF4 code table as published: Dettmers et al. (2023), "QLoRA: Efficient Finetuning of
# Quantized LLMs", Appendix E, and bitsandbytes' functional.get_4bit_type("nf4").
PUBLISHED_NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                 -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
                 0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
                 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                 0.7229568362236023, 1.0]


def _normal_weight(shape=(64, 256), seed=0, std=0.02):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * std


def _relative_error(a, b):
    return ((a - b).norm() / b.norm()).item()


def test_nf4_levels_match_the_published_table():
    assert len(NF4_LEVELS) == 16
    assert torch.allclose(NF4_LEVELS, torch.tensor(PUBLISHED_NF4), atol=1e-6, rtol=0)
    assert torch.equal(normal_float_levels(4), NF4_LEVELS)
    # 8 positive levels, 7 negative, one exact zero
    assert (NF4_LEVELS > 0).sum() == 8 and (NF4_LEVELS < 0).sum() == 7 and 0.0 in NF4_LEVELS


def test_nf4_levels_match_bitsandbytes_when_installed():
    functional = pytest.importorskip("bitsandbytes.functional")
    table = functional.get_4bit_type("nf4", device="cpu").float()
    assert torch.allclose(table, NF4_LEVELS, atol=1e-6, rtol=0)


def test_other_bit_widths_and_integer_levels():
    for bits in (2, 3, 5, 8):
        levels = normal_float_levels(bits)
        assert len(levels) == 2 ** bits and levels[0] == -1 and levels[-1] == 1
        assert torch.all(levels[1:] > levels[:-1])
    assert torch.allclose(INT4_LEVELS, torch.arange(-7, 8) / 7)
    assert torch.equal(integer_levels(4), INT4_LEVELS)
    for bad in (1, 9, 4.0, True):
        with pytest.raises(ValueError, match="bits"):
            normal_float_levels(bad)


def test_float8_levels_are_the_e4m3_values():
    every_byte = torch.arange(256, dtype=torch.uint8).view(torch.float8_e4m3fn).float()
    finite = every_byte[torch.isfinite(every_byte)].unique()
    assert torch.equal(float8_levels(), finite / 448)
    assert len(FP8_LEVELS) == 253


def test_nearest_level_picks_the_closest():
    x = torch.tensor([-1.0, -0.3, 0.01, 0.5, 0.99])
    expected = (x[:, None] - NF4_LEVELS).abs().argmin(dim=1)
    assert torch.equal(nearest_level(x, NF4_LEVELS), expected)


def test_blockwise_absmax_is_per_block():
    x = torch.cat([torch.full((64,), 0.5), torch.full((64,), -2.0), torch.zeros(10)])
    codes, absmax = quantize_blockwise(x, NF4_LEVELS, 64)
    assert torch.equal(absmax, torch.tensor([0.5, 2.0, 0.0]))
    assert codes.dtype == torch.uint8 and codes.shape == (138,)
    back = dequantize_blockwise(codes, absmax, NF4_LEVELS, 64)
    assert torch.equal(back, x)        # ±absmax and 0 are levels, so exact
    with pytest.raises(ValueError, match="1-D"):
        quantize_blockwise(x.view(2, 69), NF4_LEVELS, 64)


def test_error_is_at_most_half_a_level_gap_times_absmax():
    w = _normal_weight().flatten()
    codes, absmax = quantize_blockwise(w, NF4_LEVELS, BLOCK_SIZE)
    back = dequantize_blockwise(codes, absmax, NF4_LEVELS, BLOCK_SIZE)
    largest_gap = (NF4_LEVELS[1:] - NF4_LEVELS[:-1]).max()
    bound = (largest_gap / 2 * absmax).repeat_interleave(BLOCK_SIZE) + 1e-7
    assert torch.all((back - w).abs() <= bound)


def test_pack_two_codes_per_byte():
    codes = torch.tensor([1, 15, 0, 7, 9], dtype=torch.uint8)
    packed = pack_4bit(codes)
    assert packed.tolist() == [0x1F, 0x07, 0x90]
    assert torch.equal(unpack_4bit(packed, 5), codes)
    with pytest.raises(ValueError, match="0–15"):
        pack_4bit(torch.tensor([16], dtype=torch.uint8))


def test_round_trip_and_storage_sizes():
    w = _normal_weight()                                   # 16,384 numbers: 256 blocks
    plain = quantize_4bit(w, "nf4", double_quant=False)
    assert plain["codes"].numel() == w.numel() // 2 and plain["absmax"].numel() == 256
    double = quantize_4bit(w, "nf4", double_quant=True)
    assert double["absmax_codes"].dtype == torch.uint8 and double["absmax_absmax"].numel() == 1
    nbytes = {k: sum(t.numel() * t.element_size() for t in d.values())
              for k, d in (("plain", plain), ("double", double))}
    assert nbytes["plain"] * 8 / w.numel() == bits_per_weight() == 4.5
    # 8192 code bytes + 256 scale bytes + fp32 second-level scale + fp32 mean
    assert nbytes["double"] == 8192 + 256 + 4 + 4
    assert bits_per_weight(double_quant=True) == pytest.approx(4.127, abs=1e-3)
    for tensors in (plain, double):
        back = dequantize_4bit(tensors, w.shape, "nf4")
        assert back.shape == w.shape and _relative_error(back, w) < 0.1


def test_double_quantization_changes_the_scales_only_slightly():
    w = _normal_weight()
    single = dequantize_4bit(quantize_4bit(w, "nf4", False), w.shape, "nf4")
    double = dequantize_4bit(quantize_4bit(w, "nf4", True), w.shape, "nf4")
    assert 0 < _relative_error(double, single) < 0.02
    assert _relative_error(double, w) < 1.01 * _relative_error(single, w)


def test_nf4_beats_int4_on_normal_weights_and_loses_on_uniform_ones():
    normal = _normal_weight()
    uniform = torch.rand(64, 256, generator=torch.Generator().manual_seed(1)) - 0.5
    errors = {(name, qt): _relative_error(dequantize_4bit(quantize_4bit(w, qt), w.shape, qt), w)
              for name, w in (("normal", normal), ("uniform", uniform))
              for qt in ("nf4", "int4")}
    assert errors["normal", "nf4"] < 0.9 * errors["normal", "int4"]
    assert errors["uniform", "int4"] < 0.9 * errors["uniform", "nf4"]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="quant_type"):
        quantize_4bit(torch.ones(64), "fp4")
    with pytest.raises(ValueError, match="inf/NaN"):
        quantize_4bit(torch.tensor([1.0, float("nan")]))
    with pytest.raises(TypeError, match="nn.Linear"):
        Linear4bit(nn.Conv1d(2, 2, 1))


@pytest.mark.parametrize("quant_type", ["nf4", "int4"])
def test_linear4bit_computes_with_the_dequantized_weight(quant_type):
    torch.manual_seed(0)
    linear = nn.Linear(40, 24)                      # 960 weights: 15 blocks
    layer = Linear4bit(linear, quant_type)
    x = torch.randn(5, 40)
    expected = x @ layer.dequantize().T + linear.bias
    assert torch.allclose(layer(x), expected, atol=1e-6)
    assert _relative_error(layer(x), linear(x)) < 0.1
    assert [n for n, _ in layer.named_parameters()] == ["bias"]
    assert not layer.bias.requires_grad
    assert layer.weight_bytes() == 480 + 15 + 4 + 4
    assert "quant_type" in repr(layer)
    with pytest.raises(AttributeError, match="no weight tensor to read.*dequantize"):
        layer.weight
    assert not hasattr(layer, "weight") and getattr(layer, "weight", None) is None
    restored = Linear4bit(nn.Linear(40, 24), quant_type)
    restored.load_state_dict(copy.deepcopy(layer.state_dict()))
    assert torch.equal(restored(x), layer(x))


def _tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))


def test_qlora_trains_lora_on_a_4bit_base():
    model = _tiny_model()
    inject_lora(model, ["0", "2"], r=4, alpha=8)
    mark_only_lora_as_trainable(model)
    frozen = {name: layer.base_layer.weight.detach().clone() for name, layer in lora_layers(model)}
    assert quantize_base_layers(model) == ["0", "2"]
    for name, layer in lora_layers(model):
        assert isinstance(layer.base_layer, Linear4bit)
        assert _relative_error(layer.base_layer.dequantize(), frozen[name]) < 0.1
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trainable == ["0.lora_A.weight", "0.lora_B.weight", "2.lora_A.weight",
                         "2.lora_B.weight"]
    codes_before = model[0].base_layer.codes.clone()
    x, y = torch.randn(64, 16), torch.randint(0, 8, (64,))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(30):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]
    assert torch.equal(model[0].base_layer.codes, codes_before)


def test_quantize_base_layers_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="no LoRA layers"):
        quantize_base_layers(_tiny_model())
    model = _tiny_model()
    inject_lora(model, ["0"], r=2)
    with pytest.raises(ValueError, match="quant_type"):
        quantize_base_layers(model, quant_type="fp4")
    quantize_base_layers(model)
    with pytest.raises(ValueError, match="already quantized"):
        quantize_base_layers(model)
    with pytest.raises(AttributeError, match="dequantize"):
        merge_lora(model)                   # nothing to merge into: refused, not ignored
    dora = _tiny_model()
    inject_lora(dora, ["0"], r=2, use_dora=True)
    before = copy.deepcopy(dora.state_dict())
    with pytest.raises(ValueError, match="DoRA"):
        quantize_base_layers(dora)
    assert all(torch.equal(before[k], v) for k, v in dora.state_dict().items())


def test_stable_digits_prints_a_value_and_refuses_a_rounding_edge():
    from lora_tutorial.variants.quantize import stable_digits
    assert stable_digits(9.04, 1) == "9.0"
    assert stable_digits(-0.69619, 3) == "-0.696"
    with pytest.raises(ValueError, match="rounding edge"):
        stable_digits(9.05, 1)                 # halfway between 9.0 and 9.1
    with pytest.raises(ValueError, match="rounding edge"):
        stable_digits(0.1235 + 1e-9, 3)        # within the guard of the edge
    assert stable_digits(0.1235 + 1e-4, 3) == "0.124"   # clear of it
