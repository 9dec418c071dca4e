"""Small training helpers shared by the notebooks, the benchmark and the pretrain script.

The same three functions train every variant in the course (full fine-tuning, head only,
LoRA): what differs is only *which parameters have* ``requires_grad=True``.
:func:`make_optimizer` hands the optimizer exactly those, so a LoRA run keeps Adam's two
extra numbers per weight only for the small LoRA matrices, never for the frozen base.
"""

import torch
from torch import nn
from tqdm.auto import tqdm

from .data import TaskData
from .text import random_windows


def model_device(model: nn.Module) -> torch.device:
    """The device the model's parameters live on."""
    return next(model.parameters()).device


def make_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.0) -> torch.optim.AdamW:
    """AdamW over the parameters that require gradients, and only those.

    Frozen parameters get neither gradients nor optimizer state, which is where LoRA's
    memory saving comes from.
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameters (all requires_grad=False)")
    return torch.optim.AdamW(trainable, lr=lr, weight_decay=weight_decay)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer,
               x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One optimisation step on one batch: forward, cross-entropy loss, backward, update.

    Returns the loss as a detached tensor (calling ``.item()`` on it waits for the device,
    so timing code can decide when to pay that cost).
    """
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def batch_indices(n: int, batch_size: int, steps: int, seed: int) -> list[torch.Tensor]:
    """Indices of ``steps`` mini-batches: a fresh seeded shuffle of ``range(n)`` every epoch.

    Every batch is full: each epoch drops its last ``n % batch_size`` shuffled examples (a
    different few each epoch). The same ``seed`` always gives the same batches, so two runs
    see identical data.
    """
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be between 1 and the number of training examples "
                         f"({n}), got {batch_size}.")
    generator = torch.Generator().manual_seed(seed)
    batches: list[torch.Tensor] = []
    while len(batches) < steps:
        order = torch.randperm(n, generator=generator)
        batches.extend(order[i:i + batch_size] for i in range(0, n - batch_size + 1, batch_size))
    return batches[:steps]


def train(model: nn.Module, task_data: TaskData, steps: int = 200, lr: float = 1e-3,
          batch_size: int = 64, seed: int = 0, device: str | torch.device | None = None,
          progress: bool = True, weight_decay: float = 0.0) -> list[float]:
    """Train ``model`` on ``task_data``'s training set; return the loss of every step.

    Only parameters with ``requires_grad=True`` are optimised (AdamW). The batches come
    from a seeded generator and the global seed is set to ``seed`` too (for anything random
    inside the model, such as LoRA dropout), so the same model, data and ``seed`` give the
    same losses. Seed *before* adding LoRA layers as well: their ``A`` starts random.
    ``device`` defaults to wherever the model already is (``load_pretrained`` puts it on
    :func:`~lora_tutorial.device.get_device`). The model is left in eval mode.
    """
    torch.manual_seed(seed)
    device = torch.device(device) if device is not None else model_device(model)
    model.to(device).train()
    x, y = task_data.x_train.to(device), task_data.y_train.to(device)
    optimizer = make_optimizer(model, lr, weight_decay)
    losses = []
    bar = tqdm(batch_indices(len(y), batch_size, steps, seed), desc=f"train {task_data.name}",
               leave=False, disable=not progress)
    for idx in bar:
        idx = idx.to(device)
        losses.append(train_step(model, optimizer, x[idx], y[idx]).item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    model.eval()
    return losses


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy (fraction correct, 0–1) of ``model`` on images ``x`` with labels ``y``."""
    was_training = model.training
    model.eval()
    device = model_device(model)
    predictions = model(x.to(device)).argmax(dim=-1)
    model.train(was_training)
    return (predictions == y.to(device)).float().mean().item()


def lm_loss(model: nn.Module, windows: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy (nats per byte) of a language model on ``(N, T + 1)`` windows.

    The model reads the first ``T`` bytes of each window; its logits at position t are scored
    against byte t + 1. The mean over all ``N·T`` predictions is the loss; ``exp(loss)`` is
    the perplexity (how many bytes the model is, on average, as unsure as a uniform guess
    among).
    """
    logits = model(windows[:, :-1])
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                       windows[:, 1:].reshape(-1))


def train_lm(model: nn.Module, tokens: torch.Tensor, steps: int = 100, lr: float = 1e-3,
             batch_size: int = 16, length: int | None = None, seed: int = 0,
             progress: bool = True, weight_decay: float = 0.0,
             desc: str = "train") -> list[float]:
    """Train a language model on random windows of ``tokens``; return every step's loss.

    The counterpart of :func:`train` for text: only parameters with ``requires_grad=True``
    are optimised (AdamW, via :func:`make_optimizer`), windows of ``length`` bytes (default:
    the model's context) come from a generator seeded with ``seed``, and the global seed is
    set to ``seed`` too (for anything random inside the model), so the same model, text and
    seed give the same losses. The model stays on its device and is left in eval mode.
    """
    torch.manual_seed(seed)
    inner = getattr(model, "get_base_model", lambda: model)()   # PEFT wraps the model
    length = length if length is not None else inner.config.context
    device = model_device(model)
    optimizer = make_optimizer(model, lr, weight_decay)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for _ in tqdm(range(steps), desc=desc, leave=False, disable=not progress):
        windows = random_windows(tokens, batch_size, length, generator).to(device)
        loss = lm_loss(model, windows)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def evaluate_lm(model: nn.Module, windows: torch.Tensor, batch_size: int = 256) -> float:
    """Mean next-token loss (nats per byte) of ``model`` on fixed ``windows``.

    Batches of ``batch_size`` windows are weighted by their size, so the result is the mean
    over every prediction whatever the batching.
    """
    was_training = model.training
    model.eval()
    device = model_device(model)
    total = 0.0
    for start in range(0, len(windows), batch_size):
        chunk = windows[start:start + batch_size].to(device)
        total += lm_loss(model, chunk).item() * len(chunk)
    model.train(was_training)
    return total / len(windows)
