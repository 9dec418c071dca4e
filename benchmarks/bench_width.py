"""Benchmark: when is a LoRA training step faster than a full one? The ratio against layer width.

A linear layer ``y = W·x`` costs three products of the same size per training step: the
forward ``W·x``, the input gradient ``Wᵀ·δ`` (needed by the layers below) and the weight
gradient ``δ·xᵀ``. Freezing ``W`` (LoRA) skips only the last one (and the optimizer's update
of ``W``), so where these products dominate a step, LoRA's step approaches 2/3 of a full one
— a little below it where AdamW's update of millions of frozen weights is a visible share of
the full step (very wide layers, few tokens per step); elsewhere the adapters' own small
products, Python overhead and everything that is not a linear layer keep it higher, and on a
small model LoRA on every layer can be *slower* than full fine-tuning. (A frozen layer below
every trainable parameter needs no backward pass at all, which is why head-only training
can be much faster; that case is not timed here.)

The cases, each timed full against LoRA (rank ``--r`` on every linear layer) in one
interleaved run, so a slow moment hurts both alike:

* ``width d``: two d×d linear layers with a GELU between, on ``--tokens`` token vectors whose
  input requires a gradient (as if layers below were trained too), for each ``--widths``;
* ``GPT-2-small block``: the four linear layers of one GPT-2-small block with GPT-2's shapes
  (d = 768: ``c_attn`` 768→2304, attention ``c_proj`` 768→768, ``c_fc`` 768→3072, MLP
  ``c_proj`` 3072→768), chained simply (only the linear layers matter here);
* ``course model``: the 64-wide TinyViT of notebook 5 on a batch of 64 images, LoRA on every
  block linear — the case where LoRA does not pay off.

    python benchmarks/bench_width.py [--tokens 512] [--r 8] [--repeats 5] [--threads N]
                                     [--widths 64 256 1024 2048 4096]

Timings vary between machines and runs; the ratios are what to compare.
"""

import argparse
import platform

import torch
from torch import nn

from lora_tutorial import (inject_lora, mark_only_lora_as_trainable, markdown_table,
                           time_interleaved)
from lora_tutorial.course.data import load_task
from lora_tutorial.course.facts import BATCH, BLOCK_LINEARS, GPT2_SMALL
from lora_tutorial.course.models import load_pretrained
from lora_tutorial.course.training import make_optimizer, train_step


class GPT2BlockLinears(nn.Module):
    """The four linear layers of one GPT-2-small block, with GPT-2's shapes.

    Attention itself is replaced by a sum of q, k and v: this benchmark times what freezing
    changes, the linear layers, and keeps everything else small.
    """

    def __init__(self, d: int = GPT2_SMALL.d_model, d_ff: int = GPT2_SMALL.d_ff):
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.attn_proj = nn.Linear(d, d)
        self.c_fc = nn.Linear(d, d_ff)
        self.mlp_proj = nn.Linear(d_ff, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.c_attn(x).chunk(3, dim=-1)
        x = x + self.attn_proj(q + k + v)
        return x + self.mlp_proj(nn.functional.gelu(self.c_fc(x)))


def stack(width: int) -> nn.Module:
    """Two width×width linear layers with a GELU between."""
    return nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))


def step_fn(model: nn.Module, targets: list[str] | None, r: int, x: torch.Tensor,
            y: torch.Tensor):
    """A closure running one training step; ``targets`` None means full fine-tuning."""
    if targets is not None:
        inject_lora(model, targets, r=r, alpha=2 * r)
        mark_only_lora_as_trainable(model)
    model.train()
    optimizer = make_optimizer(model, 1e-3)
    return lambda: train_step(model, optimizer, x, y)


def token_batch(width: int, tokens: int, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(tokens, width, generator=generator).requires_grad_(True)
    return x, torch.randint(classes, (tokens,), generator=generator)


def cases(args) -> dict[str, tuple]:
    """name: (make the model, LoRA targets, x, y)."""
    out = {}
    for width in args.widths:
        x, y = token_batch(width, args.tokens, width)
        out[f"width {width}: 2 layers of {width}×{width}"] = (lambda w=width: stack(w),
                                                               ["0", "2"], x, y)
    d, d_ff = GPT2_SMALL.d_model, GPT2_SMALL.d_ff
    x, y = token_batch(d, args.tokens, d)
    out[f"GPT-2-small block (d = {d}, MLP {d_ff:,d})"] = (
        GPT2BlockLinears, ["c_attn", "attn_proj", "c_fc", "mlp_proj"], x, y)
    task = load_task("rotated")
    out[f"course model (d = 64), {BATCH} images, LoRA on every block linear"] = (
        lambda: load_pretrained("cpu"), BLOCK_LINEARS, task.x_train[:BATCH], task.y_train[:BATCH])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512, help="token vectors per step")
    parser.add_argument("--r", type=int, default=8, help="LoRA rank")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=None,
                        help="PyTorch CPU threads (default: PyTorch's choice)")
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 256, 1024, 2048, 4096])
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    rows = []
    for name, (make, targets, x, y) in cases(args).items():
        torch.manual_seed(0)
        full = step_fn(make(), None, args.r, x, y)
        torch.manual_seed(0)
        lora = step_fn(make(), targets, args.r, x, y)
        times = time_interleaved({"full": full, "lora": lora}, repeats=args.repeats, warmup=3)
        rows.append((name, f"{times['full'] * 1e3:.1f}", f"{times['lora'] * 1e3:.1f}",
                     f"{times['lora'] / times['full']:.2f}"))
        print(" | ".join(rows[-1]), flush=True)
    print(f"\nLoRA (r={args.r}, on every linear layer) against full fine-tuning, one training "
          f"step (forward, backward, AdamW); {args.tokens} tokens per step for the synthetic "
          f"cases; torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s), "
          f"{platform.machine()}; median of {args.repeats} interleaved rounds\n")
    print(markdown_table(["case", "full ms", "LoRA ms", "LoRA / full (2/3 ≈ 0.67 where the "
                                                       "weight gradients dominate)"], rows))


if __name__ == "__main__":
    main()
