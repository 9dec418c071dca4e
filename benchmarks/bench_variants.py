"""Benchmark: what DoRA and a 4-bit (NF4) base cost in time, on one layer and on the course model.

Two comparisons, each timed in one interleaved run (A, B, A, B, ...) and reported as the
ratio of medians, which survives a noisy machine far better than absolute times:

* one training step (forward, backward, AdamW) of DoRA against LoRA at the same rank;
* one forward pass of a layer/model whose frozen linear weights are stored in NF4 (with
  double quantization, dequantized on every call) against the same in fp32.

    python benchmarks/bench_variants.py [--tokens 4096] [--features 768] [--r 8] [--repeats 30]

Each ratio is followed by a verdict line ("→ ... 1.47×, slower") computed from the same run.
Notebook 09, §4 times the same on the course model, live; its fair accuracy comparison of the
variants is benchmarks/sweep_variants.py.
"""

import argparse
import copy

import torch
from torch import nn

from lora_tutorial import inject_lora, mark_only_lora_as_trainable, markdown_table
from lora_tutorial import time_interleaved
from lora_tutorial.course import verdicts
from lora_tutorial.course.data import load_task
from lora_tutorial.course.facts import BLOCK_LINEARS
from lora_tutorial.core.dora import DoRALinear
from lora_tutorial.core.layers import LoRALinear
from lora_tutorial.course.models import load_pretrained
from lora_tutorial.variants.quantize import Linear4bit, quantize_base_layers
from lora_tutorial.course.training import make_optimizer, train_step


def inference(module: torch.nn.Module, x: torch.Tensor):
    """A timed candidate: one forward pass of ``module`` on ``x``, without autograd."""
    def run():
        with torch.no_grad():
            module(x)
    return run


def layer_candidates(tokens: int, features: int, r: int) -> tuple[dict, dict]:
    """Training steps of a LoRA and a DoRA layer; forward passes of fp32 and NF4 layers."""
    torch.manual_seed(0)
    plain = nn.Linear(features, features)
    x = torch.randn(tokens, features)
    target = torch.randn(tokens, features)
    steps = {}
    for name, layer_class in (("LoRA", LoRALinear), ("DoRA", DoRALinear)):
        layer = layer_class(copy.deepcopy(plain), r=r, alpha=2 * r)
        optimizer = torch.optim.AdamW([p for p in layer.parameters() if p.requires_grad],
                                      lr=1e-3)

        def step(layer=layer, optimizer=optimizer):
            loss = nn.functional.mse_loss(layer(x), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        steps[f"layer {features}×{features}: {name} step"] = step
    nf4 = Linear4bit(plain)
    forwards = {f"layer {features}×{features}: fp32 forward": inference(plain, x),
                f"layer {features}×{features}: NF4 forward": inference(nf4, x)}
    return steps, forwards


def model_candidates(batch: int, r: int) -> tuple[dict, dict]:
    """The same on the course model (LoRA/DoRA on every block linear, a batch of digits)."""
    task = load_task("rotated")
    x, y = task.x_train[:batch], task.y_train[:batch]
    steps = {}
    for name, use_dora in (("LoRA", False), ("DoRA", True)):
        model = load_pretrained("cpu")
        torch.manual_seed(0)
        inject_lora(model, BLOCK_LINEARS, r=r, alpha=2 * r, use_dora=use_dora)
        mark_only_lora_as_trainable(model)
        model.train()
        optimizer = make_optimizer(model, 1e-3)
        steps[f"TinyViT, batch {batch}: {name} step"] = (
            lambda model=model, optimizer=optimizer: train_step(model, optimizer, x, y))
    fp32 = load_pretrained("cpu")
    nf4 = load_pretrained("cpu")
    inject_lora(nf4, BLOCK_LINEARS, r=r, alpha=2 * r)
    quantize_base_layers(nf4)
    forwards = {f"TinyViT, batch {batch}: fp32 forward": inference(fp32, x),
                f"TinyViT, batch {batch}: NF4-base forward (+ LoRA)": inference(nf4, x)}
    return steps, forwards


def ratio_row(what: str, times: dict[str, float]) -> tuple[str, str, str, str]:
    """A table row: the baseline (first candidate), the variant (second) and their ratio."""
    base, value = times.values()
    return (what, f"{1e3 * base:.2f}", f"{1e3 * value:.2f}", f"{value / base:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--features", type=int, default=768)
    parser.add_argument("--r", type=int, default=8)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    rows, lines = [], []
    for steps, forwards in (layer_candidates(args.tokens, args.features, args.r),
                            model_candidates(args.batch, args.r)):
        step_times = time_interleaved(steps, repeats=args.repeats)
        forward_times = time_interleaved(forwards, repeats=args.repeats)
        where = next(iter(steps)).split(":")[0]            # "layer 768×768" or "TinyViT, ..."
        rows.append(ratio_row(f"{where}: DoRA step / LoRA step", step_times))
        rows.append(ratio_row(f"{where}: NF4 forward / fp32 forward", forward_times))
        for times in (step_times, forward_times):          # the words, from this run's numbers
            (base_name, base), (name, value) = times.items()
            lines.append(verdicts.ratio(name, 1e3 * value, base_name.split(": ")[1], 1e3 * base,
                                        kind="time", unit=" ms", digits=3))
    print(f"r={args.r}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} interleaved rounds\n")
    print(markdown_table(["comparison", "baseline ms", "variant ms", "ratio"], rows))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
