"""A tiny transformer-shaped model for the package's tests (a few thousand parameters)."""

import torch
from torch import nn


class ToyAttention(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.q_proj, self.k_proj = nn.Linear(d, d), nn.Linear(d, d)
        self.v_proj, self.o_proj = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        weights = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
        return self.o_proj(weights @ v)


class ToyBlock(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.attn = ToyAttention(d)
        self.fc1, self.fc2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)

    def forward(self, x):
        x = x + self.attn(self.norm(x))
        return x + self.fc2(torch.relu(self.fc1(x)))


class ToyModel(nn.Module):
    def __init__(self, d: int = 8, n_blocks: int = 2, n_classes: int = 3):
        super().__init__()
        self.blocks = nn.ModuleList(ToyBlock(d) for _ in range(n_blocks))
        self.head = nn.Linear(d, n_classes)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=1))


def toy_model(seed: int = 0, **kwargs) -> ToyModel:
    torch.manual_seed(seed)
    return ToyModel(**kwargs)


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
