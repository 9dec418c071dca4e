"""Pretrain the course's tiny GPT on Python's documentation and save it as the shipped weights.

Run ``python -m tools.pretrain_gpt`` (about five minutes on one CPU core). It trains
a :class:`~lora_tutorial.course.models.gpt.TinyGPT` from a fixed seed on the training split of the
``"docs"`` corpus, measures the validation loss on both corpora (``"docs"``, which it learned,
and ``"code"``, which the notebook adapts it to) and writes ``tiny_gpt_pydoc.safetensors`` and
``tiny_gpt_pydoc.json`` (config, losses, steps, seed) into ``lora_tutorial/course/weights/``, or
into ``--out DIR``. Among the losses are those of the first steps: the test suite replays
them in seconds, to check that this script still starts the run that made the shipped
weights.

Like the digits model's ``pretrain`` script, this stands in for the expensive run behind a
hub model: the course only *loads* its result with
:func:`~lora_tutorial.course.models.gpt.load_pretrained_gpt`. It differs from the short fine-tuning
runs in the notebook by its length and its learning-rate schedule (warm-up, then cosine
decay to zero).
"""

import argparse
import sys
import time

import torch
from tqdm.auto import tqdm

from lora_tutorial.common.cli import command
from lora_tutorial.course.models.gpt import TinyGPT, TinyGPTConfig, save_pretrained_gpt
from lora_tutorial.course.text import load_corpus, random_windows, validation_windows
from lora_tutorial.course.training import (
    RECORDED_STEPS,
    evaluate_lm,
    lm_loss,
    make_optimizer,
    pretraining_arguments,
    pretraining_recipe,
    single_thread,
    steps_to_run,
    warmup_cosine_schedule,
)


def validation_losses(model: TinyGPT) -> dict[str, float]:
    """Loss (nats per byte) on the whole validation split of each corpus."""
    length = model.config.context
    return {domain: evaluate_lm(model, validation_windows(load_corpus(domain, "validation"),
                                                          length))
            for domain in ("docs", "code")}


def pretrain(config: TinyGPTConfig, steps: int, lr: float, batch_size: int, seed: int,
             weight_decay: float, progress: bool = True, *,
             stop_after: int | None = None) -> tuple[TinyGPT, list[float]]:
    """Train a fresh model on the docs' training split; return it (eval mode) and its losses.

    On the CPU with one thread the same seed gives the same weights on any machine with the
    same CPU kernels. ``stop_after`` ends the run after its first steps, still on the
    schedule of all ``steps`` (see :func:`~lora_tutorial.course.training.steps_to_run`).
    """
    torch.manual_seed(seed)
    model = TinyGPT(config)
    tokens = load_corpus("docs", "train")
    optimizer = make_optimizer(model, lr, weight_decay)
    schedule = warmup_cosine_schedule(optimizer, steps)
    generator = torch.Generator().manual_seed(seed + 1)
    model.train()
    losses = []
    bar = tqdm(range(steps_to_run(steps, stop_after)), desc="pretrain", leave=False,
               disable=not progress)
    for _ in bar:
        loss = lm_loss(model, random_windows(tokens, batch_size, config.context, generator))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # Clipping keeps the early, large-learning-rate steps from overshooting.
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
    model.eval()
    return model, losses


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with the defaults that produced the shipped weights."""
    return pretraining_arguments(__doc__.splitlines()[0], argv, steps=1800, lr=3e-3,
                                 batch_size=32, weight_decay=0.1)


@command("python -m tools.pretrain_gpt")
def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    with single_thread():
        start = time.perf_counter()
        config = TinyGPTConfig()
        model, losses = pretrain(config, args.steps, args.lr, args.batch_size, args.seed,
                                 args.weight_decay, progress=not args.no_progress)
        seconds = time.perf_counter() - start
        val = validation_losses(model)
    params = sum(p.numel() for p in model.parameters())
    metrics = {"docs_validation_loss": val["docs"], "code_validation_loss": val["code"],
               "code_to_docs_loss_ratio": val["code"] / val["docs"],
               "final_training_loss": losses[-1],
               "first_training_losses": losses[:RECORDED_STEPS], "corpus": "docs",
               **pretraining_recipe(args), "parameters": params,
               "pretraining_seconds": round(seconds)}
    path = save_pretrained_gpt(model, args.out, metrics)
    print(f"TinyGPT ({params:,} parameters) pretrained for {args.steps} steps in {seconds:.0f} s")
    print(f"validation loss (nats/byte): docs {val['docs']:.4f}, code {val['code']:.4f} "
          f"(ratio {val['code'] / val['docs']:.2f})")
    print(f"saved {path} and {path.with_suffix('.json')}")


if __name__ == "__main__":
    sys.exit(main())
