"""Serving many adapters on one base (lora_tutorial.serving.multi): each of the four ways gives
every request what serving it alone gives, and so does PEFT's mixed batch."""

import peft
import pytest
import torch

from lora_tutorial import inject_lora, lora_layers
from lora_tutorial.course.models.gpt import load_pretrained_gpt
from lora_tutorial.serving.multi import (METHODS, MultiLoRALinear, adapter_factors, bank_bytes,
                                         gathered_lora, inject_adapter_bank, segmented_lora,
                                         segments_of, serve_batch)
from tests.refusal import unchanged

TARGETS, RANK, ALPHA = ["q_proj", "v_proj"], 4, 8


def random_adapter(model, seed):
    generator = torch.Generator().manual_seed(seed)
    return {name: (torch.randn(RANK, m.in_features, generator=generator) * 0.1,
                   torch.randn(m.out_features, RANK, generator=generator) * 0.05, ALPHA / RANK)
            for name, m in model.named_modules() if name.rsplit(".", 1)[-1] in TARGETS}


@pytest.fixture(scope="module")
def tenants():
    model = load_pretrained_gpt("cpu")
    return [random_adapter(model, seed) for seed in range(6)]


def alone_with_core_lora(adapter, inputs):
    """The reference: the core LoRALinear model with this one adapter, independent of the bank."""
    model = load_pretrained_gpt("cpu")
    inject_lora(model, TARGETS, r=RANK, alpha=ALPHA)
    with torch.no_grad():
        for name, layer in lora_layers(model):
            layer.lora_A.weight.copy_(adapter[name][0])
            layer.lora_B.weight.copy_(adapter[name][1])
        return model(inputs)


def relative_gap(output, reference):
    return ((output - reference).abs().max() / reference.abs().max()).item()


@pytest.fixture(scope="module")
def batch(tenants):
    inputs = torch.randint(0, 256, (10, 12), generator=torch.Generator().manual_seed(0))
    ids = torch.tensor([5, 0, 2, 2, 5, 1, 0, 5, 3, 2])        # unsorted, adapter 4 unused
    expected = torch.cat([alone_with_core_lora(tenants[i], inputs[b:b + 1])
                          for b, i in enumerate(ids.tolist())])
    return inputs, ids, expected


@pytest.mark.parametrize("method", METHODS)
def test_every_way_serves_each_request_as_if_alone(tenants, batch, method):
    inputs, ids, expected = batch
    bank = load_pretrained_gpt("cpu")
    inject_adapter_bank(bank, tenants)
    out = serve_batch(bank, inputs, ids, method)
    assert relative_gap(out, expected) < 1e-5
    # the requests really got different models: not all rows equal to one adapter's output
    assert relative_gap(out, alone_with_core_lora(tenants[0], inputs)) > 1e-3


def test_peft_mixed_batch_gives_the_same(tenants, batch):
    inputs, ids, expected = batch
    config = dict(r=RANK, lora_alpha=ALPHA, target_modules=TARGETS)
    model = peft.get_peft_model(load_pretrained_gpt("cpu"), peft.LoraConfig(**config),
                                adapter_name="t0")
    for i in range(1, len(tenants)):
        model.add_adapter(f"t{i}", peft.LoraConfig(**config))
    with torch.no_grad():
        for i, tenant in enumerate(tenants):
            for name, (A, B, _) in tenant.items():
                layer = model.base_model.model.get_submodule(name)
                layer.lora_A[f"t{i}"].weight.copy_(A)
                layer.lora_B[f"t{i}"].weight.copy_(B)
        out = model.eval()(inputs, adapter_names=[f"t{i}" for i in ids.tolist()])
    bank = load_pretrained_gpt("cpu")
    inject_adapter_bank(bank, tenants)
    assert relative_gap(out, expected) < 1e-5
    assert relative_gap(serve_batch(bank, inputs, ids, "gathered"), out) < 1e-5


def test_gathered_and_segmented_products_by_formula():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(7, 3, 10, generator=generator)
    A, B = torch.randn(4, 2, 10, generator=generator), torch.randn(4, 6, 2, generator=generator)
    scaling = torch.tensor([1.0, 2.0, 3.0, 4.0])
    ids = torch.tensor([3, 1, 1, 0, 3, 2, 1])
    expected = torch.einsum("btk,brk,bdr->btd", x, A[ids], B[ids]) * scaling[ids].view(-1, 1, 1)
    assert torch.allclose(gathered_lora(x, A, B, scaling, ids), expected, atol=1e-5)
    order = torch.argsort(ids, stable=True)
    segments = segments_of(ids[order])
    assert segments == [(0, 0, 1), (1, 1, 4), (2, 4, 5), (3, 5, 7)]
    assert torch.allclose(segmented_lora(x[order], A, B, scaling, segments), expected[order],
                          atol=1e-5)


def test_swap_gives_w0_back_and_plans_are_reset(tenants, batch):
    inputs, ids, _ = batch
    bank = load_pretrained_gpt("cpu")
    inject_adapter_bank(bank, tenants)
    before = {name: layer.base_layer.weight.clone() for name, layer in bank.named_modules()
              if isinstance(layer, MultiLoRALinear)}
    serve_batch(bank, inputs, ids, "swap")
    for name, layer in bank.named_modules():
        if isinstance(layer, MultiLoRALinear):
            assert torch.allclose(layer.base_layer.weight, before[name], atol=1e-6)
            assert layer.plan == ("base",)
    with torch.no_grad():
        base = load_pretrained_gpt("cpu")(inputs)
        assert relative_gap(bank(inputs), base) < 1e-6       # W0 back up to rounding
        fresh = load_pretrained_gpt("cpu")
        inject_adapter_bank(fresh, tenants)
        assert torch.equal(fresh(inputs), base)              # no plan: the base model, exactly


def test_bank_bytes_and_adapter_factors(tenants):
    bank = load_pretrained_gpt("cpu")
    inject_adapter_bank(bank, tenants)
    # 8 layers (q and v of 4 blocks), 128 → 128, rank 4, 6 adapters, fp32
    assert bank_bytes(bank) == 6 * 8 * RANK * (128 + 128) * 4
    model = load_pretrained_gpt("cpu")
    inject_lora(model, TARGETS, r=RANK, alpha=ALPHA)
    factors = adapter_factors(model)
    assert sorted(factors) == sorted(tenants[0]) and all(s == 2.0 for _, _, s in factors.values())


def test_refusals_leave_the_model_as_it_was(tenants, batch):
    inputs, ids, _ = batch
    bank = load_pretrained_gpt("cpu")
    inject_adapter_bank(bank, tenants)
    with unchanged(bank), pytest.raises(ValueError, match="method must be one of"):
        serve_batch(bank, inputs, ids, "merge_all")
    with unchanged(bank), pytest.raises(ValueError, match="must lie in 0..5"):
        serve_batch(bank, inputs, torch.full_like(ids, 6), "gathered")
    with unchanged(bank), pytest.raises(ValueError, match="one adapter index per row"):
        serve_batch(bank, inputs, ids[:3], "swap")
    with unchanged(bank), pytest.raises(ValueError, match="empty"):
        serve_batch(bank, inputs[:0], ids[:0], "loop")
    plain = load_pretrained_gpt("cpu")
    with unchanged(plain), pytest.raises(ValueError, match="no adapter bank"):
        serve_batch(plain, inputs, ids, "gathered")
    other_rank = dict(tenants[1])
    name = next(iter(other_rank))
    A, B, s = other_rank[name]
    other_rank[name] = (A[:2], B[:, :2], s)
    with unchanged(plain), pytest.raises(ValueError, match="same shapes"):
        inject_adapter_bank(plain, [tenants[0], other_rank])
    fewer = {k: v for k, v in tenants[1].items() if "q_proj" in k}
    with unchanged(plain), pytest.raises(ValueError, match="adapt other modules"):
        inject_adapter_bank(plain, [tenants[0], fewer])
    with unchanged(bank), pytest.raises(ValueError, match="no nn.Linear named"):
        inject_adapter_bank(bank, tenants)              # already holds a bank
