"""Small training helpers shared by the notebooks, the benchmark and the pretrain scripts.

The same three functions train every variant in the course (full fine-tuning, head only,
LoRA): what differs is only *which parameters have* ``requires_grad=True``.
:func:`make_optimizer` hands the optimizer exactly those, so a LoRA run keeps Adam's two
extra numbers per weight only for the small LoRA matrices, never for the frozen base.

The last few helpers are the scaffold that the two pretrain scripts (``pretrain`` for the
digits model, ``pretrain_gpt`` for the language model) share: their learning-rate schedule,
their command line, the single CPU thread that makes a run repeatable, and the record of a
run's first steps that lets a test check the shipped weights' run in seconds.
"""

import argparse
import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from .data import TaskData
from .facts import BATCH
from .models.hub import WEIGHTS_DIR
from .text import random_windows

RECORDED_STEPS = 8
"""How many first training losses a pretrain script records in its JSON
(``first_training_losses``)."""


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


def train(model: nn.Module, task_data: TaskData, steps: int = 200, lr: float | None = None,
          batch_size: int = BATCH, seed: int = 0, device: str | torch.device | None = None,
          progress: bool = True, weight_decay: float | None = None,
          optimizer: torch.optim.Optimizer | None = None) -> list[float]:
    """Train ``model`` on ``task_data``'s training set; return the loss of every step.

    Only parameters with ``requires_grad=True`` are optimised: by AdamW at ``lr`` (default
    1e-3) with ``weight_decay`` (default 0), or by an ``optimizer`` you made yourself (say
    with :func:`make_optimizer`), which you then still hold after training, to read its
    state, as notebook 5 does to measure Adam's memory. Give either the optimizer or its
    settings, not both. The batches come from a seeded generator and the global seed is set
    to ``seed`` too (for anything random inside the model, such as LoRA dropout), so the same
    model, data and ``seed`` give the same losses. Seed *before* adding LoRA layers as well:
    their ``A`` starts random. ``device`` defaults to wherever the model already is
    (``load_pretrained`` puts it on :func:`~lora_tutorial.course.device.get_device`). The
    model is left in eval mode.
    """
    if optimizer is not None and (lr is not None or weight_decay is not None):
        raise ValueError("train got an optimizer and lr or weight_decay: the optimizer "
                         "already has its own. Set them when you make the optimizer "
                         "(make_optimizer(model, lr, weight_decay)), or leave optimizer out.")
    torch.manual_seed(seed)
    device = torch.device(device) if device is not None else model_device(model)
    model.to(device).train()
    x, y = task_data.x_train.to(device), task_data.y_train.to(device)
    if optimizer is None:
        optimizer = make_optimizer(model, 1e-3 if lr is None else lr,
                                   0.0 if weight_decay is None else weight_decay)
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


def warmup_cosine_schedule(optimizer: torch.optim.Optimizer,
                           steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The pretraining schedule: a linear warm-up over the first 5% of ``steps``, then cosine
    decay of the learning rate to zero at ``steps``.

    The warm-up keeps Adam's first updates small while its moment estimates are still noisy;
    the decay lets a long run settle into a minimum instead of bouncing around it.
    """
    warmup = max(1, steps // 20)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * s / steps))))


def steps_to_run(steps: int, stop_after: int | None) -> int:
    """How many of a ``steps``-step run's steps to take: all, or the first ``stop_after``.

    Stopping early keeps the schedule of the full run, so the first steps are exactly those
    of the full run (a test replays the shipped run's first steps this way).
    """
    if stop_after is None:
        return steps
    if not 1 <= stop_after <= steps:
        raise ValueError(f"stop_after must be between 1 and steps ({steps}), got {stop_after}; "
                         "leave it out to run every step.")
    return stop_after


def _at_least(kind: type, lowest: float, above: bool = False):
    """An argparse ``type`` that reads a finite ``kind`` number and refuses one below
    ``lowest`` (or equal to it when ``above``), so a run that cannot make sense never starts."""
    def read(text: str):
        value = kind(text)
        if not math.isfinite(value) or value < lowest or (above and value == lowest):
            bound = f"greater than {lowest}" if above else f"at least {lowest}"
            noun = "a whole number" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(f"must be {noun} {bound}, got {text}")
        return value
    read.__name__ = kind.__name__   # argparse names the type in "invalid int value"
    return read


def _folder(text: str) -> str:
    """An argparse ``type`` for the output folder: refused up front when it names a file, so
    a long run does not end in an error when it saves its weights."""
    path = Path(text)
    if (path.exists() or path.is_symlink()) and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder; choose a folder")
    return text


def pretraining_arguments(description: str, argv: list[str] | None, *, steps: int, lr: float,
                          batch_size: int, weight_decay: float) -> argparse.Namespace:
    """Parse a pretrain script's command line; the keyword arguments are its defaults."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=_folder, default=str(WEIGHTS_DIR),
                        help="directory for the weights")
    parser.add_argument("--steps", type=_at_least(int, 1), default=steps,
                        help="optimisation steps")
    parser.add_argument("--lr", type=_at_least(float, 0, above=True), default=lr,
                        help="peak learning rate")
    parser.add_argument("--batch-size", type=_at_least(int, 1), default=batch_size)
    parser.add_argument("--weight-decay", type=_at_least(float, 0), default=weight_decay)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


def pretraining_recipe(args: argparse.Namespace) -> dict:
    """The settings that decide a pretraining run, as the scripts record them in the JSON."""
    return {"steps": args.steps, "lr": args.lr, "batch_size": args.batch_size,
            "weight_decay": args.weight_decay, "seed": args.seed}


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the block on one CPU thread, then restore the thread count it found.

    Parallel sums add in an order that depends on the thread count, so one thread makes the
    weights repeatable; for the course's tiny models more threads barely help anyway.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
