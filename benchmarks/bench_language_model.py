"""Benchmark: the five ways notebook 8 adapts the tiny GPT to code, with timings and seeds.

Two measurements the notebook cannot afford in its one-minute budget:

1. **Step time**, one interleaved run (A, B, C, D, A, B, ...) of a training step of each
   method (forward, backward, AdamW update; batch of ``--batch`` windows of 64 bytes), as
   ratios to full fine-tuning, so a slow moment on the machine hurts all alike.
2. **The seed spread** of the table's losses: each method is trained as in the notebook
   (30 steps, batch 16) once per data seed in ``--seeds``, and the table shows the range of
   the code and docs validation losses, so one can see whether a comparison in the
   notebook could flip with another seed.

    python benchmarks/bench_language_model.py [--batch 16] [--repeats 20] [--seeds 0 1 2]

Timings vary between machines and runs; compare the ratios.
"""

import argparse
import platform

import torch

from lora_tutorial.core.counting import markdown_table
from lora_tutorial.core.inject import inject_lora, mark_only_lora_as_trainable
from lora_tutorial.course.facts import CODE_BATCH, CODE_LEARNING_RATES, CODE_STEPS, GPT_LINEARS
from lora_tutorial.course.measure import time_interleaved
from lora_tutorial.course.models.gpt import load_pretrained_gpt
from lora_tutorial.course.text import load_corpus, random_windows, validation_windows
from lora_tutorial.course.training import evaluate_lm, lm_loss, make_optimizer, train_lm

METHODS = CODE_LEARNING_RATES
"""Each method with the learning rate notebook 8 uses for it."""


def prepare(name: str) -> torch.nn.Module:
    """A fresh pretrained model set up for one method, exactly as in notebook 8."""
    model = load_pretrained_gpt("cpu")
    torch.manual_seed(0)
    if name == "head/embedding only":
        for param_name, param in model.named_parameters():
            param.requires_grad = param_name.startswith(("embed_tokens", "pos_embed", "lm_head"))
    elif name.startswith("LoRA"):
        inject_lora(model, ["q_proj", "v_proj"] if "q,v" in name else GPT_LINEARS, r=8,
                    alpha=16)
        mark_only_lora_as_trainable(model)
    return model


def step_times(batch: int, repeats: int) -> dict[str, float]:
    """Median seconds of one training step of each method, measured interleaved."""
    windows = random_windows(load_corpus("code"), batch, 64, torch.Generator().manual_seed(1))
    steps = {}
    for name, lr in METHODS.items():
        model = prepare(name).train()
        optimizer = make_optimizer(model, lr)

        def step(model=model, optimizer=optimizer):
            loss = lm_loss(model, windows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        steps[name] = step
    return time_interleaved(steps, repeats=repeats, warmup=3)


def seed_spread(seeds: list[int]) -> dict[str, dict[str, list[float]]]:
    """Code and docs validation losses of each method after notebook 8's training, per seed."""
    code_train = load_corpus("code")
    val = {domain: validation_windows(load_corpus(domain, "validation"), 64, count=128)
           for domain in ("code", "docs")}
    losses = {name: {"code": [], "docs": []} for name in METHODS}
    for seed in seeds:
        for name, lr in METHODS.items():
            model = prepare(name)
            train_lm(model, code_train, steps=CODE_STEPS, lr=lr, batch_size=CODE_BATCH, seed=seed,
                     desc=f"{name}, seed {seed}")
            for domain in ("code", "docs"):
                losses[name][domain].append(evaluate_lm(model, val[domain]))
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=CODE_BATCH, help="windows per timed step")
    parser.add_argument("--repeats", type=int, default=20, help="interleaved rounds")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="data seeds for the loss spread")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, {args.threads} thread(s), "
          f"torch {torch.__version__}\n")

    times = step_times(args.batch, args.repeats)
    full = times["full fine-tuning"]
    print(markdown_table(["method", f"ms per step (batch {args.batch})", "ratio to full"],
                         [(n, f"{t * 1e3:.1f}", f"{t / full:.2f}") for n, t in times.items()]))
    print()
    losses = seed_spread(args.seeds)
    rows = [(name, *(f"{min(v[d]):.3f} – {max(v[d]):.3f}" for d in ("code", "docs")))
            for name, v in losses.items()]
    print(markdown_table(["method", f"code loss over seeds {args.seeds}",
                          "docs loss (forgetting)"], rows))


if __name__ == "__main__":
    main()
