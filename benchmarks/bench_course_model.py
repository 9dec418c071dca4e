"""Benchmark: LoRA against full fine-tuning on the course model (TinyViT), measured and recorded.

For each setting (a batch size and a thread count) one interleaved run (A, B, C, ..., A, B,
C, ...) times every candidate, so a slow moment on the machine hurts all of them alike, and
the script reports ratios to full fine-tuning:

* a training step (forward, backward, AdamW update) of LoRA on q_proj and v_proj, of LoRA on
  every block linear, and of head-only training / a full fine-tuning step;
* the peak memory of one such step / full fine-tuning's (``peak_memory_bytes``: the same on
  every run on a CPU, because the allocations are the same);
* inference of the LoRA model merged into plain weights (and unmerged) / the base model's;
* optimizer-state bytes / full fine-tuning's, read from the optimizers' tensors.

    python benchmarks/bench_course_model.py [--setting 1024:1] [--setting 64:1] [--r 8]
                                            [--repeats 30] [--record-dir DIR | --no-record]

By default it measures two settings, both on one thread: a batch of 1024 images, so that the
matrix products, not Python overhead, dominate a step; and notebook 05's setting, a batch of
64 (notebook 05, §4 times the same step live). One thread, because on a machine shared with
other work a multi-threaded product waits for its slowest thread, and the ratios then
measure the neighbours more than LoRA (``--setting 1024:0`` uses PyTorch's thread count). It then writes
``lora_tutorial/course/results/step_time.json`` with ``lora_tutorial.course.results.record``:
the figures, the command, the settings and the machine. Notebook 11, the quiz bank, the README
and the instructor guide quote that file, and ``tests/test_quoted_figures.py`` holds every
quote to it. Timings vary between machines and runs; the ratios are what to compare, always
with the setting they were measured in.

Why the LoRA step stays above the 2/3 floor on this model: freezing a layer skips only its
weight-gradient product, and only the linear layers have one. In a 64-wide TinyViT a large
part of a step is attention's batched products and softmax, GELU, LayerNorm and copies,
which freezing does not touch, and each adapter adds skinny products (rank r) and
element-wise work of its own. So LoRA on q_proj and v_proj saves less than a third, and LoRA
on every linear layer can cost more than it saves; at a batch of 64 fixed per-call costs
weigh more still. On wide models (d in the thousands) the weight-gradient products dominate
and the ratio approaches 2/3 (``benchmarks/bench_width.py``). Head-only training skips the
backward pass through every block, so its step is far cheaper.
"""

import argparse
import copy
import platform
import sys
import time
from pathlib import Path

import torch

from lora_tutorial import (inject_lora, mark_only_lora_as_trainable, markdown_table,
                           merge_and_unload, optimizer_state_bytes, peak_memory_bytes,
                           time_interleaved)
from lora_tutorial.course import facts, results
from lora_tutorial.course.data import load_task
from lora_tutorial.course.models import load_pretrained
from lora_tutorial.course.training import make_optimizer, train_step

QV = ["q_proj", "v_proj"]
FULL, QV_NAME, ALL_NAME, HEAD = "full", "lora_qv", "lora_all_linears", "head_only"
LABELS = {FULL: "full fine-tuning", QV_NAME: "LoRA q,v", ALL_NAME: "LoRA all block linears",
          HEAD: "head only"}
DEFAULT_SETTINGS = ["1024:1", "64:1"]


def lora_model(targets: list[str], r: int) -> torch.nn.Module:
    model = load_pretrained("cpu")
    torch.manual_seed(0)
    inject_lora(model, targets, r=r, alpha=2 * r)
    mark_only_lora_as_trainable(model)
    return model


def head_only_model() -> torch.nn.Module:
    model = load_pretrained("cpu")
    model.requires_grad_(False)
    model.head.requires_grad_(True)
    return model


def parse_setting(text: str) -> tuple[int, int]:
    """'BATCH:THREADS' (THREADS 0: PyTorch's own choice) -> (batch, threads)."""
    try:
        batch, threads = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a setting is BATCH:THREADS, such as 64:1; got {text!r}")
    if batch < 1 or threads < 0:
        raise argparse.ArgumentTypeError(f"batch ≥ 1 and threads ≥ 0, got {text!r}")
    return batch, threads


def measure(batch: int, r: int, repeats: int) -> dict:
    """Every ratio of one setting (the thread count is already set), as a dictionary."""
    task = load_task("rotated")
    repeat = -(-batch // len(task.y_train))                 # ceil: enough copies for the batch
    x = task.x_train.repeat(repeat, 1, 1, 1)[:batch]
    y = task.y_train.repeat(repeat)[:batch]

    # Training candidates: each has its own model and AdamW (learning rates as in notebook 05;
    # a step's time does not depend on them).
    trainers = {FULL: (load_pretrained("cpu"), 1e-3),
                QV_NAME: (lora_model(QV, r), facts.LORA_LR),
                ALL_NAME: (lora_model(facts.BLOCK_LINEARS, r), facts.LORA_LR),
                HEAD: (head_only_model(), 3e-2)}
    steps, optimizers = {}, {}
    for name, (model, lr) in trainers.items():
        model.train()
        optimizers[name] = optimizer = make_optimizer(model, lr)
        steps[name] = (lambda m=model, o=optimizer: train_step(m, o, x, y))
        for _ in range(2):                                  # creates gradients and Adam state
            steps[name]()
    peaks = {name: peak_memory_bytes(step) for name, step in steps.items()}

    # Inference candidates: the base model, LoRA unmerged, and LoRA merged into the weights.
    base = load_pretrained("cpu").eval()
    adapted = lora_model(QV, r)
    with torch.no_grad():                                   # a non-zero update, as after training
        for module in adapted.modules():
            if hasattr(module, "lora_B"):
                module.lora_B.weight.normal_(std=0.02)
    adapted.eval()
    merged = merge_and_unload(copy.deepcopy(adapted)).eval()
    with torch.no_grad():
        if not torch.allclose(merged(x), adapted(x), atol=1e-4):
            raise RuntimeError("merging changed the outputs")

    def infer(model):
        def run():
            with torch.no_grad():
                model(x)
        return run

    inference = {"base": infer(base), "unmerged": infer(adapted), "merged": infer(merged)}
    times = time_interleaved({**steps, **inference}, repeats=repeats, warmup=3)
    state = {name: optimizer_state_bytes(optimizers[name]) for name in steps}
    others = [QV_NAME, ALL_NAME, HEAD]
    return {
        "batch": batch,
        "threads": torch.get_num_threads(),
        "step_ratio": {name: round(times[name] / times[FULL], 3) for name in others},
        "peak_memory_ratio": {name: round(peaks[name] / peaks[FULL], 3) for name in others},
        "optimizer_state_ratio": {name: round(state[name] / state[FULL], 4) for name in others},
        "inference_ratio": {"merged": round(times["merged"] / times["base"], 3),
                            "unmerged": round(times["unmerged"] / times["base"], 3)},
        "step_ms": {name: round(times[name] * 1e3, 2) for name in steps},
        "peak_memory_bytes": peaks,
    }


def report(setting: dict, r: int, repeats: int) -> None:
    print(f"\nTinyViT course model, batch of {setting['batch']} images (8×8, rotated digits), "
          f"LoRA r={r}, alpha={2 * r}; torch {torch.__version__}, {setting['threads']} CPU "
          f"thread(s), {platform.machine()}; median of {repeats} interleaved rounds\n")
    rows = [(f"{LABELS[name]}: train step / full fine-tuning step", f"{ratio:.3f}")
            for name, ratio in setting["step_ratio"].items()]
    rows += [(f"{LABELS[name]}: peak memory of a step / full fine-tuning's", f"{ratio:.3f}")
             for name, ratio in setting["peak_memory_ratio"].items()]
    rows += [(f"{LABELS[name]}: optimizer-state bytes / full fine-tuning's", f"{ratio:.4f}")
             for name, ratio in setting["optimizer_state_ratio"].items()]
    rows += [(f"LoRA q,v {how} inference / base inference", f"{ratio:.3f}")
             for how, ratio in setting["inference_ratio"].items()]
    print(markdown_table(["ratio", "measured"], rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", action="append", type=parse_setting, default=None,
                        metavar="BATCH:THREADS",
                        help="a batch size and a thread count (0: PyTorch's choice); "
                             f"repeatable; default {' and '.join(DEFAULT_SETTINGS)}")
    parser.add_argument("--r", type=int, default=8, help="LoRA rank")
    parser.add_argument("--repeats", type=int, default=30, help="interleaved rounds")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--record-dir", default=None,
                       help="write step_time.json here instead of the package's results/")
    where.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args(argv)
    settings = args.setting or [parse_setting(s) for s in DEFAULT_SETTINGS]

    start = time.perf_counter()
    default_threads = torch.get_num_threads()
    figures = {}
    for batch, threads in settings:
        torch.set_num_threads(threads or default_threads)
        figures[f"batch_{batch}"] = setting = measure(batch, args.r, args.repeats)
        report(setting, args.r, args.repeats)
    torch.set_num_threads(default_threads)
    if args.no_record:
        return 0
    command = "python benchmarks/bench_course_model.py " + " ".join(
        ["--r", str(args.r), "--repeats", str(args.repeats)]
        + [f"--setting {b}:{t}" for b, t in settings])
    conditions = {"command": command,
                  "model": "TinyViT (the course's digits model), rotated digits",
                  "settings": {f"batch_{b}": {"batch": b, "threads": figures[f"batch_{b}"]["threads"]}
                               for b, _ in settings},
                  "r": args.r, "alpha": 2 * args.r, "repeats": args.repeats,
                  "timing": "median of interleaved rounds; a step is forward, backward, AdamW",
                  "note": "measured on a machine shared with other work: ratios are noisy, "
                          "compare them with the setting they were measured in"}
    directory = Path(args.record_dir) if args.record_dir else results.RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = results.record("step_time", figures, conditions,
                          minutes=(time.perf_counter() - start) / 60,
                          directory=directory)
    print(f"\nrecorded: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
