"""Pretrain the course's base model on the plain digits and save it as the shipped weights.

Run ``python -m lora_tutorial.pretrain`` (about a minute on one CPU core). It trains a
:class:`~lora_tutorial.models.TinyViT` from a fixed seed on the ``"digits"`` task, prints
the test accuracy and writes ``tiny_vit_digits.safetensors`` and ``tiny_vit_digits.json``
(config + measured accuracy) into ``lora_tutorial/weights/``, or into ``--out DIR``.

This plays the part of the expensive pretraining run that produced a hub model: the
course only ever *loads* its result with :func:`~lora_tutorial.models.load_pretrained` and
adapts it. Pretraining differs from the short fine-tuning runs in the notebooks in two
ways that make the base model better: the learning rate decays over a longer run (cosine
schedule), and every batch is augmented by shifting the digits by up to one pixel.
"""

import argparse
import math
import time

import torch
from tqdm.auto import tqdm

from .data import load_task
from .models import WEIGHTS_DIR, TinyViT, TinyViTConfig, save_pretrained
from .training import batch_indices, evaluate, make_optimizer, train_step


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
             weight_decay: float, progress: bool = True) -> tuple[TinyViT, float]:
    """Train a fresh model on the digits; return it (in eval mode) and its test accuracy.

    It runs on the CPU, so the same seed gives the same weights on any machine with the
    same CPU kernels, with or without a GPU.
    """
    torch.manual_seed(seed)
    model = TinyViT(config)
    data = load_task("digits")
    optimizer = make_optimizer(model, lr, weight_decay)
    # Cosine decay from lr to 0 over the run, after a short linear warm-up.
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * s / steps))))
    augment = torch.Generator().manual_seed(seed + 1)
    model.train()
    bar = tqdm(batch_indices(len(data.y_train), batch_size, steps, seed), desc="pretrain",
               leave=False, disable=not progress)
    for idx in bar:
        x = random_shift(data.x_train[idx], augment)
        loss = train_step(model, optimizer, x, data.y_train[idx])
        schedule.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    model.eval()
    return model, evaluate(model, data.x_test, data.y_test)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="directory for the weights")
    parser.add_argument("--steps", type=int, default=3000, help="optimisation steps")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    # One CPU thread: parallel sums add in an order that depends on the thread count, so
    # one thread makes the weights repeatable; for a model this small more threads barely
    # help anyway.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        model, accuracy = pretrain(TinyViTConfig(), args.steps, args.lr, args.batch_size,
                                   args.seed, args.weight_decay, progress=not args.no_progress)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    params = sum(p.numel() for p in model.parameters())
    metrics = {"test_accuracy": accuracy, "task": "digits", "steps": args.steps,
               "lr": args.lr, "batch_size": args.batch_size,
               "weight_decay": args.weight_decay, "seed": args.seed, "parameters": params}
    path = save_pretrained(model, args.out, metrics)
    print(f"TinyViT ({params:,} parameters) pretrained for {args.steps} steps in "
          f"{seconds:.0f} s: test accuracy {accuracy:.2%}")
    print(f"saved {path} and {path.with_suffix('.json')}")


if __name__ == "__main__":
    main()
