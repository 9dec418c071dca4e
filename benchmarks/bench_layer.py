"""Benchmark: our LoRALinear against PEFT's LoRA layer and a plain nn.Linear.

All candidates are timed in one interleaved run (A, B, C, A, B, C, ...), and the table
reports ratios, which survive a noisy machine far better than absolute times.

    python benchmarks/bench_layer.py [--tokens 4096] [--features 768] [--r 8] [--repeats 30]
"""

import argparse
import copy

import peft
import torch
from torch import nn

from lora_tutorial import LoRALinear, markdown_table, merge_and_unload, time_interleaved


class Holder(nn.Module):
    """PEFT adapts modules inside a model, so give the linear layer a parent."""

    def __init__(self, layer: nn.Linear):
        super().__init__()
        self.proj = layer


def build(features: int, r: int):
    torch.manual_seed(0)
    plain = nn.Linear(features, features)
    ours = LoRALinear(copy.deepcopy(plain), r=r, alpha=2 * r)
    theirs = peft.get_peft_model(Holder(copy.deepcopy(plain)),
                                 peft.LoraConfig(r=r, lora_alpha=2 * r, target_modules=["proj"]))
    theirs = theirs.base_model.model.proj
    with torch.no_grad():
        nn.init.normal_(ours.lora_B.weight, std=0.01)
        theirs.lora_A["default"].weight.copy_(ours.lora_A.weight)
        theirs.lora_B["default"].weight.copy_(ours.lora_B.weight)
    merged = merge_and_unload(copy.deepcopy(ours))
    return plain, ours, theirs, merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--features", type=int, default=768)
    parser.add_argument("--r", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    plain, ours, theirs, merged = build(args.features, args.r)
    x = torch.randn(args.tokens, args.features)
    x_grad = x.clone().requires_grad_(True)  # as inside a network: gradients flow back to x
    assert torch.allclose(ours(x), theirs(x), atol=1e-5)
    assert torch.allclose(merged(x), ours(x), atol=1e-4)

    def train_step(layer):
        def step():
            layer.zero_grad(set_to_none=True)
            x_grad.grad = None
            layer(x_grad).sum().backward()
        return step

    def inference(layer):
        def run():
            with torch.no_grad():
                layer(x)
        return run

    train = time_interleaved({"plain nn.Linear (all trainable)": train_step(plain),
                              "LoRALinear (ours)": train_step(ours),
                              "PEFT LoRA layer": train_step(theirs)}, repeats=args.repeats)
    infer = time_interleaved({"plain nn.Linear": inference(plain),
                              "LoRALinear, unmerged": inference(ours),
                              "PEFT, unmerged": inference(theirs),
                              "LoRALinear, merged": inference(merged)}, repeats=args.repeats)
    print(f"x: {args.tokens}×{args.features}, r={args.r}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats} interleaved rounds\n")
    rows = [
        ("forward+backward", "ours / PEFT",
         f"{train['LoRALinear (ours)'] / train['PEFT LoRA layer']:.3f}"),
        ("forward+backward", "ours / plain (full training)",
         f"{train['LoRALinear (ours)'] / train['plain nn.Linear (all trainable)']:.3f}"),
        ("inference", "ours / PEFT (unmerged)",
         f"{infer['LoRALinear, unmerged'] / infer['PEFT, unmerged']:.3f}"),
        ("inference", "ours unmerged / plain",
         f"{infer['LoRALinear, unmerged'] / infer['plain nn.Linear']:.3f}"),
        ("inference", "ours merged / plain",
         f"{infer['LoRALinear, merged'] / infer['plain nn.Linear']:.3f}"),
    ]
    print(markdown_table(["what", "ratio", "value"], rows))
    times = [(name, f"{seconds * 1e3:.2f}") for name, seconds in {**train, **infer}.items()]
    print("\n" + markdown_table(["candidate", "median ms"], times))


if __name__ == "__main__":
    main()
