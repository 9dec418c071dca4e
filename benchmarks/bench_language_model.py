"""Benchmark: the step time of each way notebook 8 adapts the tiny GPT to code.

One interleaved run (A, B, C, D, E, A, B, ...) of a training step of each method (forward,
backward, AdamW update; a batch of ``--batch`` windows of 64 bytes), so a slow moment on the
machine hurts all alike. Each method's median is compared with full fine-tuning's in a
verdict computed from the numbers of this run (faster, slower, or about the same within 10%),
never typed in advance: on a model this narrow the answer depends on the batch, the threads
and the machine.

    python benchmarks/bench_language_model.py [--batch 16] [--repeats 20] [--threads 1]

What each method learns and forgets, at its own tuned learning rate over seeds, is measured by
``benchmarks/sweep_language_model.py``.
"""

import argparse
import platform

import torch

from lora_tutorial.core.counting import markdown_table
from lora_tutorial.course import verdicts
from lora_tutorial.course.experiments.language_model import METHODS, prepare
from lora_tutorial.course.facts import CODE_BATCH, CODE_LEARNING_RATES
from lora_tutorial.course.measure import time_interleaved
from lora_tutorial.course.text import load_corpus, random_windows
from lora_tutorial.course.training import lm_loss, make_optimizer

BECAUSE = {
    "slower": "freezing skips only the frozen weights' gradients and AdamW updates, a small "
              "share of a step at width 128; the adapter's extra products cost more",
    "faster": "the frozen weights' gradients and AdamW updates that LoRA skips outweigh the "
              "adapter's extra products here",
    "about the same": "the forward pass and the backward pass through every layer dominate "
                      "a step at width 128; what freezing skips is a small share",
}
"""Why a method's step can come out slower, faster or the same: printed for the word the
numbers chose."""


def step_times(batch: int, repeats: int) -> dict[str, float]:
    """Median seconds of one training step of each method, measured interleaved."""
    windows = random_windows(load_corpus("code"), batch, 64, torch.Generator().manual_seed(1))
    steps = {}
    for name in METHODS:
        model = prepare(name).train()
        optimizer = make_optimizer(model, CODE_LEARNING_RATES[name])

        def step(model=model, optimizer=optimizer):
            loss = lm_loss(model, windows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        steps[name] = step
    return time_interleaved(steps, repeats=repeats, warmup=3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=CODE_BATCH, help="windows per timed step")
    parser.add_argument("--repeats", type=int, default=20, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, {args.threads} thread(s), "
          f"torch {torch.__version__}, batch {args.batch}\n")

    times = step_times(args.batch, args.repeats)
    full = times["full fine-tuning"]
    print(markdown_table(["method", f"ms per step (batch {args.batch})", "ratio to full"],
                         [(n, f"{t * 1e3:.1f}", f"{t / full:.2f}") for n, t in times.items()]))
    print()
    for name, seconds in times.items():
        if name != "full fine-tuning":
            print(verdicts.ratio(name, seconds * 1e3, "full fine-tuning", full * 1e3,
                                 kind="time", unit=" ms", because=BECAUSE))


if __name__ == "__main__":
    main()
