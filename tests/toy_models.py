"""The course's toy transformer, seeded, with inputs and helpers for the package's tests."""

import torch
from torch import nn

from lora_tutorial.course.models.toy import ToyTransformer


def toy_model(seed: int = 0, **kwargs) -> ToyTransformer:
    torch.manual_seed(seed)
    return ToyTransformer(**kwargs)


def toy_input(seed: int = 1, batch: int = 4, tokens: int = 5, d: int = 8) -> torch.Tensor:
    return torch.randn(batch, tokens, d, generator=torch.Generator().manual_seed(seed))


def randomize_lora_b(model: nn.Module, seed: int = 2) -> None:
    """Give every lora_B non-zero values, so that adapters change the output."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.1)


def weights_snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone() for name, t in model.state_dict().items()}


def assert_same_weights(model: nn.Module, snapshot: dict[str, torch.Tensor]) -> None:
    now = model.state_dict()
    assert set(now) == set(snapshot)
    for name, tensor in snapshot.items():
        torch.testing.assert_close(now[name], tensor, rtol=0, atol=0, equal_nan=True,
                                   msg=f"{name} changed")


def save_task_adapters(root) -> dict:
    """Two saved adapters of the course's digits model, "rotated" and "inverted", with
    different random (untrained) B, so that the adapter explorer has two to tell apart."""
    from lora_tutorial import inject_lora, lora_layers, mark_only_lora_as_trainable, save_adapter
    from lora_tutorial.course.models import load_pretrained

    dirs = {}
    for seed, name in enumerate(("rotated", "inverted")):
        model = load_pretrained(device="cpu")
        torch.manual_seed(seed)
        inject_lora(model, ["q_proj", "v_proj"], r=4, alpha=8)
        mark_only_lora_as_trainable(model)
        for _, layer in lora_layers(model):
            torch.nn.init.normal_(layer.lora_B.weight, std=0.5)
        dirs[name] = save_adapter(model, root / name)
    return dirs
