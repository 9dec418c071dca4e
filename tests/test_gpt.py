"""The tiny GPT: tokenizer, causal attention, LLaMA's module names, generation, saving."""

import pytest
import torch
from torch import nn

from lora_tutorial.core.inject import inject_lora, linear_module_names
from lora_tutorial.course.models import gpt
from lora_tutorial.course.models.gpt import (
    RMSNorm,
    TinyGPT,
    TinyGPTConfig,
    decode,
    encode,
    generate,
    load_pretrained_gpt,
    load_pretrained_gpt_info,
    save_pretrained_gpt,
)

SMALL = TinyGPTConfig(context=16, dim=32, depth=2, heads=4, mlp_hidden=64)


def small_model(seed: int = 0) -> TinyGPT:
    torch.manual_seed(seed)
    return TinyGPT(SMALL).eval()


def test_bytes_round_trip_including_non_ascii():
    text = "def f(x):\n    return x ≤ 2  # ü"
    ids = encode(text)
    assert ids.dtype == torch.int64 and int(ids.max()) < 256
    assert len(ids) == len(text.encode("utf-8"))
    assert decode(ids) == text
    assert decode(ids.tolist()) == text


def test_logits_have_one_score_per_byte_at_every_position():
    model = small_model()
    ids = torch.randint(0, 256, (3, 10), generator=torch.Generator().manual_seed(0))
    assert model(ids).shape == (3, 10, 256)


def test_causal_mask_later_bytes_do_not_change_earlier_logits():
    model = small_model()
    ids = torch.randint(0, 256, (1, 12), generator=torch.Generator().manual_seed(1))
    changed = ids.clone()
    changed[0, 7:] = (changed[0, 7:] + 1) % 256
    with torch.no_grad():
        a, b = model(ids), model(changed)
    torch.testing.assert_close(a[0, :7], b[0, :7], rtol=0, atol=0)
    assert not torch.allclose(a[0, 7:], b[0, 7:])


def test_earlier_bytes_do_change_later_logits():
    model = small_model()
    ids = torch.randint(0, 256, (1, 12), generator=torch.Generator().manual_seed(2))
    changed = ids.clone()
    changed[0, 0] = (changed[0, 0] + 1) % 256
    with torch.no_grad():
        assert not torch.allclose(model(ids)[0, -1], model(changed)[0, -1])


def test_rms_norm_gives_unit_root_mean_square_then_scales():
    norm = RMSNorm(8, eps=0.0)
    x = torch.randn(4, 8, generator=torch.Generator().manual_seed(0)) * 5
    out = norm(x)
    torch.testing.assert_close(out.pow(2).mean(-1), torch.ones(4))
    with torch.no_grad():
        norm.weight.fill_(3.0)
    torch.testing.assert_close(norm(x), 3 * out)
    assert not hasattr(norm, "bias")


def test_llama_module_names_and_bias_free_linears():
    model = small_model()
    names = linear_module_names(model)
    leaves = {n.rsplit(".", 1)[-1] for n in names}
    assert leaves == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                      "down_proj", "lm_head"}
    assert "layers.1.self_attn.q_proj" in names and "layers.0.mlp.down_proj" in names
    assert all(m.bias is None for m in model.modules() if isinstance(m, nn.Linear))


def test_swiglu_gates_the_up_projection():
    model = small_model()
    mlp = model.layers[0].mlp
    x = torch.randn(2, 5, SMALL.dim, generator=torch.Generator().manual_seed(3))
    expected = mlp.down_proj(nn.functional.silu(mlp.gate_proj(x)) * mlp.up_proj(x))
    torch.testing.assert_close(mlp(x), expected)


def test_default_config_has_about_a_million_parameters():
    model = TinyGPT()
    params = sum(p.numel() for p in model.parameters())
    assert params == 926_848
    dim, hidden, depth = 128, 384, 4
    per_block = 4 * dim * dim + 3 * dim * hidden + 2 * dim
    assert params == 256 * dim + 64 * dim + depth * per_block + dim + dim * 256


def test_fresh_model_predicts_nearly_uniformly():
    model = small_model()
    ids = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        logits = model(ids)
    loss = nn.functional.cross_entropy(logits.reshape(-1, 256), ids.roll(-1, 1).reshape(-1))
    assert abs(loss.item() - torch.log(torch.tensor(256.0)).item()) < 0.1


def test_forward_refuses_too_long_or_flat_input():
    model = small_model()
    with pytest.raises(ValueError, match="1 to 16 tokens"):
        model(torch.zeros(1, 17, dtype=torch.int64))
    with pytest.raises(ValueError, match="shape"):
        model(torch.zeros(16, dtype=torch.int64))


def test_greedy_generation_takes_the_argmax_and_is_repeatable():
    model = small_model()
    assert generate(model, "abc", 5) == generate(model, "abc", 5)
    with torch.no_grad():
        model.lm_head.weight.zero_()
        model.lm_head.weight[ord("z")] = 1.0     # logits: positive rms-normed sums on "z"
        model.norm.weight.fill_(0.0)
        model.norm.weight[0] = 1.0
        model.layers[0].self_attn.o_proj.weight.zero_()
        model.layers[0].mlp.down_proj.weight.zero_()
        model.layers[1].self_attn.o_proj.weight.zero_()
        model.layers[1].mlp.down_proj.weight.zero_()
        model.embed_tokens.weight[:, 0] = 1.0
        model.pos_embed.weight[:, 0] = 0.0
    assert generate(model, "abc", 5) == "zzzzz"


def test_sampling_follows_the_generator_and_leaves_global_rng_alone():
    model = small_model()
    state = torch.random.get_rng_state()
    a = generate(model, "ab", 30, temperature=1.0, generator=torch.Generator().manual_seed(5))
    b = generate(model, "ab", 30, temperature=1.0, generator=torch.Generator().manual_seed(5))
    c = generate(model, "ab", 30, temperature=1.0, generator=torch.Generator().manual_seed(6))
    assert a == b and a != c
    assert torch.equal(state, torch.random.get_rng_state())


def test_sampling_picks_bytes_in_proportion_to_their_probability():
    """Inverse-CDF sampling: a model that always gives 'a' 75% and 'b' 25% is sampled so."""

    class Fixed(nn.Module):
        config = TinyGPTConfig(context=4)

        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, ids):
            logits = torch.full((*ids.shape, 256), -1e9)
            logits[..., ord("a")] = torch.log(torch.tensor(0.75))
            logits[..., ord("b")] = torch.log(torch.tensor(0.25))
            return logits

    text = generate(Fixed(), "x", 4000, temperature=1.0,
                    generator=torch.Generator().manual_seed(0))
    assert set(text) == {"a", "b"}
    assert abs(text.count("a") / 4000 - 0.75) < 0.03


def test_generation_reads_only_the_last_context_bytes():
    model = small_model()
    long_prompt = "x" * 40 + "tail of prompt"
    same_tail = "y" * 40 + "x" * 2 + "tail of prompt"
    assert generate(model, long_prompt, 6) == generate(model, same_tail, 6)


def test_generation_refuses_settings_it_cannot_honour():
    model = small_model()
    with pytest.raises(ValueError, match="generator"):
        generate(model, "a", 3, temperature=0.8)
    with pytest.raises(ValueError, match="greedy"):
        generate(model, "a", 3, generator=torch.Generator())
    with pytest.raises(ValueError, match="temperature"):
        generate(model, "a", 3, temperature=-1.0, generator=torch.Generator())
    with pytest.raises(ValueError, match="prompt"):
        generate(model, "", 3)


def test_generation_restores_training_mode():
    model = small_model().train()
    generate(model, "a", 2)
    assert model.training


def test_lora_targets_work_by_llama_names():
    model = small_model()
    names = inject_lora(model, ["q_proj", "v_proj"], r=4)
    assert names == [f"layers.{i}.self_attn.{p}" for i in range(2) for p in ("q_proj",
                                                                              "v_proj")]


def test_save_and_load_round_trip(tmp_path):
    model = small_model()
    save_pretrained_gpt(model, tmp_path, metrics={"docs_validation_loss": 1.5})
    info = load_pretrained_gpt_info(tmp_path)
    assert info["config"]["dim"] == SMALL.dim and info["metrics"]["docs_validation_loss"] == 1.5
    loaded = load_pretrained_gpt("cpu", directory=tmp_path)
    for (n1, t1), (n2, t2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert n1 == n2 and torch.equal(t1, t2)
    assert not loaded.training


def test_shipped_weights_are_small_and_load_as_fresh_copies():
    path = gpt.WEIGHTS_DIR / f"{gpt.GPT_MODEL_NAME}.safetensors"
    assert path.stat().st_size <= 12_000_000
    a, b = load_pretrained_gpt("cpu"), load_pretrained_gpt("cpu")
    assert a is not b
    with torch.no_grad():
        a.lm_head.weight.zero_()
    assert b.lm_head.weight.abs().sum() > 0
