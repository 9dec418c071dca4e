"""Benchmark: LoRA against full fine-tuning on the course model (TinyViT), measured.

One interleaved run (A, B, C, ..., A, B, C, ...) times every candidate, so a slow moment on
the machine hurts all of them alike, and the table reports ratios:

* a LoRA training step / a full fine-tuning step (forward, backward, AdamW update);
* inference of the LoRA model merged into plain weights / inference of the base model;
* optimizer-state bytes of LoRA / of full fine-tuning, read from the optimizers' tensors.

    python benchmarks/bench_course_model.py [--batch 1024] [--r 8] [--repeats 30] [--threads N]

The batch is large (1024 images of the rotated-digits task by default) so that the matrix
products, not Python overhead, dominate a step. Timings vary between machines and runs; the
ratios are what to compare.

Why the LoRA step stays above the 2/3 floor on this model: freezing a layer skips only its
weight-gradient product, and only the linear layers have one. In a 64-wide TinyViT about a
third of a step is attention's batched products and softmax, GELU, LayerNorm and copies,
which freezing does not touch, and each adapter adds skinny products (rank r) and
element-wise work of its own — so LoRA on q_proj and v_proj lands near 0.8, and LoRA on
every linear layer costs more than it saves. On wide models (d in the thousands) the
weight-gradient products dominate and the ratio approaches 2/3.
"""

import argparse
import copy
import platform

import torch

from lora_tutorial import (inject_lora, mark_only_lora_as_trainable, markdown_table,
                           merge_and_unload, optimizer_state_bytes, time_interleaved)
from lora_tutorial.course.data import load_task
from lora_tutorial.course.facts import BLOCK_LINEARS
from lora_tutorial.course.models import load_pretrained
from lora_tutorial.course.training import make_optimizer, train_step

QV = ["q_proj", "v_proj"]


def lora_model(targets: list[str], r: int) -> torch.nn.Module:
    model = load_pretrained("cpu")
    torch.manual_seed(0)
    inject_lora(model, targets, r=r, alpha=2 * r)
    mark_only_lora_as_trainable(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024, help="images per step")
    parser.add_argument("--r", type=int, default=8, help="LoRA rank")
    parser.add_argument("--repeats", type=int, default=30, help="interleaved rounds")
    parser.add_argument("--threads", type=int, default=None,
                        help="PyTorch CPU threads (default: PyTorch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    task = load_task("rotated")
    repeat = -(-args.batch // len(task.y_train))           # ceil: enough copies for the batch
    x = task.x_train.repeat(repeat, 1, 1, 1)[:args.batch]
    y = task.y_train.repeat(repeat)[:args.batch]

    # Training candidates: each has its own model and AdamW (lr as in notebook 5).
    trainers = {
        "full fine-tuning step": (load_pretrained("cpu"), 1e-3),
        f"LoRA q,v (r={args.r}) step": (lora_model(QV, args.r), 3e-3),
        f"LoRA all block linears (r={args.r}) step": (lora_model(BLOCK_LINEARS, args.r), 3e-3),
    }
    steps, optimizers = {}, {}
    for name, (model, lr) in trainers.items():
        model.train()
        optimizers[name] = optimizer = make_optimizer(model, lr)
        steps[name] = (lambda m=model, o=optimizer: train_step(m, o, x, y))
        steps[name]()                                        # creates gradients and Adam state

    # Inference candidates: the base model, LoRA unmerged, and LoRA merged into the weights.
    base = load_pretrained("cpu")
    adapted = lora_model(QV, args.r)
    with torch.no_grad():                                    # a non-zero update, as after training
        for module in adapted.modules():
            if hasattr(module, "lora_B"):
                module.lora_B.weight.normal_(std=0.02)
    adapted.eval()
    merged = merge_and_unload(copy.deepcopy(adapted)).eval()
    with torch.no_grad():
        assert torch.allclose(merged(x), adapted(x), atol=1e-4), "merging changed the outputs"
        assert type(merged.blocks[0].attn.q_proj) is torch.nn.Linear

    def infer(model):
        def run():
            with torch.no_grad():
                model(x)
        return run

    inference = {"base model inference": infer(base),
                 "LoRA q,v unmerged inference": infer(adapted),
                 "LoRA q,v merged inference": infer(merged)}

    times = time_interleaved({**steps, **inference}, repeats=args.repeats, warmup=3)

    full_step = times["full fine-tuning step"]
    full_state = optimizer_state_bytes(optimizers["full fine-tuning step"])
    print(f"TinyViT course model, batch of {args.batch} images (8×8, rotated digits), "
          f"LoRA r={args.r}, alpha={2 * args.r}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU thread(s), {platform.machine()}; median of "
          f"{args.repeats} interleaved rounds\n")
    rows = []
    for name in list(steps)[1:]:
        rows.append((f"{name.removesuffix(' step')}: train step / full fine-tuning step",
                     f"{times[name] / full_step:.3f}", "≤ 0.75 (floor ≈ 2/3)"))
    rows.append(("merged LoRA inference / base inference",
                 f"{times['LoRA q,v merged inference'] / times['base model inference']:.3f}",
                 "1.00"))
    rows.append(("unmerged LoRA inference / base inference",
                 f"{times['LoRA q,v unmerged inference'] / times['base model inference']:.3f}",
                 "(for comparison)"))
    for name in list(steps)[1:]:
        state = optimizer_state_bytes(optimizers[name])
        rows.append((f"{name.removesuffix(' step')}: optimizer-state bytes / full "
                     f"fine-tuning's ({state:,d} / {full_state:,d} B)",
                     f"{state / full_state:.4f}", "(trainable share)"))
    print(markdown_table(["ratio", "measured", "goal"], rows))
    print("\n" + markdown_table(["candidate", "median ms"],
                                [(name, f"{seconds * 1e3:.2f}") for name, seconds in
                                 times.items()]))


if __name__ == "__main__":
    main()
