"""Benchmark: serving a batch that mixes N adapters on one base, four ways (notebook 10, §1).

For N = 1, 4, 16, 64 adapters of rank 8 on q_proj and v_proj, one batch served by swap
(merge, run, unmerge per adapter), loop (one unmerged pass per adapter), gathered (one pass,
each row's A and B gathered for torch.bmm: Punica's BGMV) and segmented (rows sorted by
adapter, one product per segment: SGMV), each timed in the same interleaved rounds as the base
model alone. Reported as ratios of medians (time ÷ base, and gathered's tokens/s ÷ the loop's),
on two models:

* the course's tiny GPT (width 128, 4 blocks), with its pretrained weights;
* a stack of the same blocks at GPT-2 small's width (768, 12 heads, SwiGLU hidden 2048,
  2 blocks), randomly initialised: serving cost depends on shapes, not on the values.

The course's goal, checked at 16 adapters in one uniformly mixed batch: gathered costs at most
1.5× the base model and serves at least 4× the loop's tokens per second. The verdict is
printed from the run's own numbers.

    python benchmarks/bench_serving.py [--rows 64] [--tokens 32] [--repeats 5] [--threads 1]
"""

import argparse

import torch

from lora_tutorial import markdown_table
from lora_tutorial.course.models.gpt import TinyGPT, TinyGPTConfig, load_pretrained_gpt
from lora_tutorial.course.widgets.serving import measure_serving
from lora_tutorial.serving.multi import METHODS, inject_adapter_bank

TARGETS, RANK, ALPHA = ("q_proj", "v_proj"), 8, 16
COUNTS = (1, 4, 16, 64)
GPT2_SMALL_WIDTH = TinyGPTConfig(dim=768, heads=12, mlp_hidden=2048, depth=2)


def random_adapters(model: torch.nn.Module, count: int) -> list[dict]:
    """``count`` adapters with random A and non-zero B on the target projections."""
    adapters = []
    for seed in range(count):
        generator = torch.Generator().manual_seed(seed)
        adapters.append({name: (torch.randn(RANK, m.in_features, generator=generator)
                                / m.in_features ** 0.5,
                                torch.randn(m.out_features, RANK, generator=generator) * 0.02,
                                ALPHA / RANK)
                         for name, m in model.named_modules()
                         if name.rsplit(".", 1)[-1] in TARGETS})
    return adapters


def report(label: str, base: torch.nn.Module, bank: torch.nn.Module, rows: int, tokens: int,
           repeats: int) -> None:
    inject_adapter_bank(bank, random_adapters(bank, max(COUNTS)))
    inputs = torch.randint(0, 256, (rows, tokens), generator=torch.Generator().manual_seed(0))
    runs = measure_serving(bank, base.eval(), inputs, [(n, "uniform") for n in COUNTS],
                           repeats=repeats)
    table = [(run.n_adapters, f"{run.tokens_per_second('base'):,.0f}",
              *[f"{run.seconds[way] / run.seconds['base']:.2f}" for way in METHODS],
              f"{run.seconds['loop'] / run.seconds['gathered']:.2f}") for run in runs]
    print(f"\n### {label}: {rows} requests × {tokens} tokens, uniform mix\n")
    print(markdown_table(["adapters", "base tokens/s", *[f"{way} ÷ base" for way in METHODS],
                          "gathered tokens/s ÷ loop's"], table))
    at16 = next(run for run in runs if run.n_adapters == 16)
    cost = at16.seconds["gathered"] / at16.seconds["base"]
    speedup = at16.seconds["loop"] / at16.seconds["gathered"]
    print(f"\nat 16 adapters: gathered costs {cost:.2f}× the base "
          f"({'meets' if cost <= 1.5 else 'misses'} ≤ 1.5×), serves {speedup:.2f}× the loop's "
          f"tokens/s ({'meets' if speedup >= 4 else 'misses'} ≥ 4×)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=64, help="requests in the batch (≥ 64)")
    parser.add_argument("--tokens", type=int, default=32, help="tokens per request (≤ 64)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for PyTorch")
    args = parser.parse_args(argv)
    if args.rows < max(COUNTS) or not 1 <= args.tokens <= 64:
        parser.error(f"--rows must be at least {max(COUNTS)} (one row per adapter) and --tokens "
                     "between 1 and 64 (the models' context)")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), rank {RANK} on "
          f"{', '.join(TARGETS)}")
    report("tiny GPT (width 128)", load_pretrained_gpt("cpu"), load_pretrained_gpt("cpu"),
           args.rows, args.tokens, args.repeats)
    torch.manual_seed(0)
    wide = TinyGPT(GPT2_SMALL_WIDTH)
    bank = TinyGPT(GPT2_SMALL_WIDTH)
    bank.load_state_dict(wide.state_dict())
    report("GPT-2-small width (768, 2 blocks)", wide, bank, args.rows, args.tokens, args.repeats)


if __name__ == "__main__":
    main()
