"""The tiny vision transformer and the pretrained weights that ship with the course."""

import pytest
import torch
from torch import nn

from lora_tutorial.course.data import load_task
from lora_tutorial.course.models import (
    TinyViT,
    TinyViTConfig,
    load_pretrained,
    load_pretrained_info,
    save_pretrained,
)
from lora_tutorial.course.training import evaluate


@pytest.fixture(scope="module")
def pretrained():
    return load_pretrained("cpu")


def test_forward_gives_one_logit_per_class():
    model = TinyViT()
    assert model(torch.rand(5, 1, 8, 8)).shape == (5, 10)


def test_patchify_cuts_4x4_patches_in_reading_order():
    model = TinyViT(TinyViTConfig(patch_size=4))
    image = torch.arange(64.0).reshape(1, 1, 8, 8)
    patches = model.patchify(image)
    assert patches.shape == (1, 4, 16)
    assert torch.equal(patches[0, 0], image[0, 0, :4, :4].flatten())  # top left
    assert torch.equal(patches[0, 1], image[0, 0, :4, 4:].flatten())  # top right
    assert torch.equal(patches[0, 3], image[0, 0, 4:, 4:].flatten())  # bottom right


def test_projections_are_named_linear_layers_like_real_models():
    config = TinyViTConfig()
    modules = dict(TinyViT(config).named_modules())
    hidden = config.mlp_ratio * config.dim
    for i in range(config.depth):
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            layer = modules[f"blocks.{i}.attn.{name}"]
            assert isinstance(layer, nn.Linear)
            assert layer.weight.shape == (config.dim, config.dim)
        assert isinstance(modules[f"blocks.{i}.mlp.fc1"], nn.Linear)
        assert modules[f"blocks.{i}.mlp.fc1"].weight.shape == (hidden, config.dim)
        assert modules[f"blocks.{i}.mlp.fc2"].weight.shape == (config.dim, hidden)
    assert modules["head"].out_features == config.num_classes


def test_shipped_weights_reproduce_the_recorded_accuracy(pretrained):
    info = load_pretrained_info()
    digits = load_task("digits")
    accuracy = evaluate(pretrained, digits.x_test, digits.y_test)
    assert accuracy == pytest.approx(info["metrics"]["test_accuracy"], abs=0.005)
    assert accuracy > 0.95


def test_load_pretrained_is_a_fresh_eval_mode_copy_matching_its_config(pretrained):
    info = load_pretrained_info()
    assert not pretrained.training
    assert pretrained.config == TinyViTConfig(**info["config"])
    assert sum(p.numel() for p in pretrained.parameters()) == info["metrics"]["parameters"]
    other = load_pretrained("cpu")
    assert other is not pretrained
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(pretrained(x), other(x))


def test_save_then_load_round_trips(tmp_path):
    torch.manual_seed(0)
    model = TinyViT(TinyViTConfig(dim=32, depth=1, heads=2)).eval()
    save_pretrained(model, tmp_path, {"test_accuracy": 0.5})
    loaded = load_pretrained("cpu", directory=tmp_path)
    assert loaded.config == model.config
    assert load_pretrained_info(tmp_path)["metrics"] == {"test_accuracy": 0.5}
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_config_rejects_heads_that_do_not_divide_dim():
    with pytest.raises(ValueError):
        TinyViT(TinyViTConfig(dim=30, heads=4))


def test_every_course_transformer_attends_with_the_one_attention_module():
    from lora_tutorial.course.models.attention import Attention
    from lora_tutorial.course.models.gpt import CausalSelfAttention, TinyGPT, TinyGPTConfig
    from lora_tutorial.course.models.toy import ToyTransformer
    from lora_tutorial.course.skeletons import DecoderSkeleton
    from lora_tutorial.course.facts import DecoderShape
    vit = TinyViT(TinyViTConfig(dim=8, depth=1, heads=2))
    gpt = TinyGPT(TinyGPTConfig(context=4, dim=8, depth=1, heads=2, mlp_hidden=8))
    skeleton = DecoderSkeleton(DecoderShape(1, 8, 16, 10, 4))
    modules = [vit.blocks[0].attn, gpt.layers[0].self_attn, ToyTransformer().blocks[0].attn,
               skeleton.blocks[0].attn]
    assert all(type(m) in (Attention, CausalSelfAttention) for m in modules)
    assert isinstance(gpt.layers[0].self_attn, Attention)
    assert [m.causal for m in modules] == [False, True, False, False]
    assert gpt.layers[0].self_attn.q_proj.bias is None and vit.blocks[0].attn.q_proj.bias is not None
