"""Pretrain the course's base model on the plain digits and save it as the shipped weights.

Run ``python -m tools.pretrain`` (about a minute on one CPU core). It trains a
:class:`~lora_tutorial.course.models.TinyViT` from a fixed seed on the ``"digits"`` task, prints
the test accuracy and writes ``tiny_vit_digits.safetensors`` and ``tiny_vit_digits.json``
(config, measured accuracy, settings and the losses of the first steps) into
``lora_tutorial/course/weights/``, or into ``--out DIR``. The test suite replays those first steps
in a fraction of a second, to check that this script still starts the run that made the
shipped weights.

This plays the part of the expensive pretraining run that produced a hub model: the
course only ever *loads* its result with :func:`~lora_tutorial.course.models.load_pretrained` and
adapts it. Pretraining differs from the short fine-tuning runs in the notebooks in two
ways that make the base model better: the learning rate decays over a longer run (cosine
schedule), and every batch is augmented by shifting the digits by up to one pixel.
"""

import argparse
import sys
import time

import torch
from tqdm.auto import tqdm

from lora_tutorial.common.cli import command
from lora_tutorial.course.data import load_task
from lora_tutorial.course.models import TinyViT, TinyViTConfig, save_pretrained
from lora_tutorial.course.training import (
    RECORDED_STEPS,
    batch_indices,
    evaluate,
    make_optimizer,
    pretraining_arguments,
    pretraining_recipe,
    single_thread,
    steps_to_run,
    train_step,
    warmup_cosine_schedule,
)


def random_shift(images: torch.Tensor, generator: torch.Generator,
                 max_shift: int = 1) -> torch.Tensor:
    """Shift each image by a random whole number of pixels (up to ``max_shift``) each way.

    Pixels that move out of the frame are dropped and the gap is filled with background
    (zeros), so the digits stay the same, only their position changes.
    """
    n, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, [max_shift] * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator)
    shifted = torch.empty_like(images)
    for i, (dy, dx) in enumerate(offsets.tolist()):
        shifted[i] = padded[i, :, dy:dy + h, dx:dx + w]
    return shifted


def pretrain(config: TinyViTConfig, steps: int, lr: float, batch_size: int, seed: int,
             weight_decay: float, progress: bool = True, *, stop_after: int | None = None,
             losses: list[float] | None = None) -> tuple[TinyViT, float]:
    """Train a fresh model on the digits; return it (in eval mode) and its test accuracy.

    It runs on the CPU, so the same seed gives the same weights on any machine with the
    same CPU kernels, with or without a GPU. ``stop_after`` ends the run after its first
    steps, still on the schedule of all ``steps`` (see
    :func:`~lora_tutorial.course.training.steps_to_run`); each step's training loss is appended to
    ``losses`` when you pass a list.
    """
    torch.manual_seed(seed)
    model = TinyViT(config)
    data = load_task("digits")
    optimizer = make_optimizer(model, lr, weight_decay)
    schedule = warmup_cosine_schedule(optimizer, steps)
    augment = torch.Generator().manual_seed(seed + 1)
    model.train()
    batches = batch_indices(len(data.y_train), batch_size, steps, seed)
    bar = tqdm(batches[:steps_to_run(steps, stop_after)], desc="pretrain", leave=False,
               disable=not progress)
    for idx in bar:
        x = random_shift(data.x_train[idx], augment)
        loss = train_step(model, optimizer, x, data.y_train[idx]).item()
        schedule.step()
        if losses is not None:
            losses.append(loss)
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
    model.eval()
    return model, evaluate(model, data.x_test, data.y_test)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the defaults that produced the shipped weights."""
    return pretraining_arguments(__doc__.splitlines()[0], argv, steps=3000, lr=2e-3,
                                 batch_size=128, weight_decay=0.05)


@command("python -m tools.pretrain")
def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    losses: list[float] = []
    with single_thread():
        start = time.perf_counter()
        model, accuracy = pretrain(TinyViTConfig(), args.steps, args.lr, args.batch_size,
                                   args.seed, args.weight_decay, progress=not args.no_progress,
                                   losses=losses)
        seconds = time.perf_counter() - start
    params = sum(p.numel() for p in model.parameters())
    metrics = {"test_accuracy": accuracy, "first_training_losses": losses[:RECORDED_STEPS],
               "task": "digits", **pretraining_recipe(args), "parameters": params}
    path = save_pretrained(model, args.out, metrics)
    print(f"TinyViT ({params:,} parameters) pretrained for {args.steps} steps in "
          f"{seconds:.0f} s: test accuracy {accuracy:.2%}")
    print(f"saved {path} and {path.with_suffix('.json')}")


if __name__ == "__main__":
    sys.exit(main())
