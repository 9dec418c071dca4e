"""Pretrain the course's tiny GPT on Python's documentation and save it as the shipped weights.

Run ``python -m lora_tutorial.pretrain_gpt`` (about five minutes on one CPU core). It trains
a :class:`~lora_tutorial.models.gpt.TinyGPT` from a fixed seed on the training split of the
``"docs"`` corpus, measures the validation loss on both corpora (``"docs"``, which it learned,
and ``"code"``, which the notebook adapts it to) and writes ``tiny_gpt_pydoc.safetensors`` and
``tiny_gpt_pydoc.json`` (config, losses, steps, seed) into ``lora_tutorial/weights/``, or
into ``--out DIR``.

Like the digits model's ``pretrain`` script, this stands in for the expensive run behind a
hub model: the course only *loads* its result with
:func:`~lora_tutorial.models.gpt.load_pretrained_gpt`. It differs from the short fine-tuning
runs in the notebook by its length and its learning-rate schedule (warm-up, then cosine
decay to zero).
"""

import argparse
import math
import time

import torch
from tqdm.auto import tqdm

from .models.gpt import TinyGPT, TinyGPTConfig, save_pretrained_gpt
from .models.vit import WEIGHTS_DIR
from .text import load_corpus, random_windows, validation_windows
from .training import evaluate_lm, lm_loss, make_optimizer


def validation_losses(model: TinyGPT) -> dict[str, float]:
    """Loss (nats per byte) on the whole validation split of each corpus."""
    length = model.config.context
    return {domain: evaluate_lm(model, validation_windows(load_corpus(domain, "validation"),
                                                          length))
            for domain in ("docs", "code")}


def pretrain(config: TinyGPTConfig, steps: int, lr: float, batch_size: int, seed: int,
             weight_decay: float, progress: bool = True) -> tuple[TinyGPT, list[float]]:
    """Train a fresh model on the docs' training split; return it (eval mode) and its losses.

    On the CPU with one thread the same seed gives the same weights on any machine with the
    same CPU kernels.
    """
    torch.manual_seed(seed)
    model = TinyGPT(config)
    tokens = load_corpus("docs", "train")
    optimizer = make_optimizer(model, lr, weight_decay)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * s / steps))))
    generator = torch.Generator().manual_seed(seed + 1)
    model.train()
    losses = []
    bar = tqdm(range(steps), desc="pretrain", leave=False, disable=not progress)
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="directory for the weights")
    parser.add_argument("--steps", type=int, default=1800, help="optimisation steps")
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)

    # One CPU thread: parallel sums add in an order that depends on the thread count, so one
    # thread makes the weights repeatable.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        config = TinyGPTConfig()
        model, losses = pretrain(config, args.steps, args.lr, args.batch_size, args.seed,
                                 args.weight_decay, progress=not args.no_progress)
        seconds = time.perf_counter() - start
        val = validation_losses(model)
    finally:
        torch.set_num_threads(threads)
    params = sum(p.numel() for p in model.parameters())
    metrics = {"docs_validation_loss": val["docs"], "code_validation_loss": val["code"],
               "code_to_docs_loss_ratio": val["code"] / val["docs"],
               "final_training_loss": losses[-1], "corpus": "docs", "steps": args.steps,
               "lr": args.lr, "batch_size": args.batch_size,
               "weight_decay": args.weight_decay, "seed": args.seed, "parameters": params,
               "pretraining_seconds": round(seconds)}
    path = save_pretrained_gpt(model, args.out, metrics)
    print(f"TinyGPT ({params:,} parameters) pretrained for {args.steps} steps in {seconds:.0f} s")
    print(f"validation loss (nats/byte): docs {val['docs']:.4f}, code {val['code']:.4f} "
          f"(ratio {val['code'] / val['docs']:.2f})")
    print(f"saved {path} and {path.with_suffix('.json')}")


if __name__ == "__main__":
    main()
