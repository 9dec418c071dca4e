"""Sweep: LoRA, rsLoRA, LoRA+ and DoRA across ranks, each at its own tuned learning rate.

Notebook 09 asks whether LoRA+ and rsLoRA beat plain LoRA. At one shared learning rate that
question measures the rate as much as the method, because both variants change how large
LoRA's updates are. So here every method, at every rank r = 4, 16, 64, gets its own rate
from a grid (chosen by the lowest mean validation loss on training images held out from
training), and the table records, per (method, rank), the tuned rate and the test accuracy
and test loss at that rate as mean and min–max over the seeds. It also answers rsLoRA's
claim directly: if α/√r is the right scaling, its tuned rate should stay put as r grows,
while plain LoRA's (α/r) should climb.

    python benchmarks/sweep_variants.py [--ranks 4 16 64] [--seeds 0 1 2] [--out DIR]

Writes ``lora_tutorial/course/results/variants.json`` (``--out`` writes elsewhere), which
notebook 09, §3 shows. Sized to run in well under ten minutes on a 2-core machine (one
thread); the record states how long it took.
"""

import argparse
import sys
import time

import torch

from lora_tutorial.course import results
from lora_tutorial.course.experiments import variants
from lora_tutorial.course.facts import BATCH, BLOCK_LINEARS


def summary(values: list[float]) -> dict:
    """mean, min, max and every seed's value, rounded for the record."""
    return {"mean": round(sum(values) / len(values), 4), "min": round(min(values), 4),
            "max": round(max(values), 4), "seeds": [round(v, 4) for v in values]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(variants.METHODS),
                        choices=variants.METHODS)
    parser.add_argument("--ranks", nargs="+", type=int, default=[4, 16, 64])
    parser.add_argument("--rates", nargs="+", type=float, default=list(variants.RATES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=variants.STEPS)
    parser.add_argument("--out", default=None, help="folder for variants.json (default: the "
                        "course's results folder)")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)          # as the notebook runs it: tiny tensors, one thread
    start = time.perf_counter()
    data = variants.split()
    table = {}
    for method in args.methods:
        table[method] = {}
        for r in args.ranks:
            tuned = variants.tune(method, r, args.rates, args.seeds, args.steps, data)
            table[method][str(r)] = {
                "lr": tuned.lr,
                "accuracy": summary(tuned.accuracies),
                "loss": summary(tuned.losses),
                "val_loss_by_lr": {f"{lr:g}": round(v, 4) for lr, v in tuned.val_loss_by_lr.items()},
            }
            print(f"{method:7s} r={r:<3d} tuned lr {tuned.lr:g}: test accuracy "
                  f"{table[method][str(r)]['accuracy']['mean']:.3f} "
                  f"({min(tuned.accuracies):.3f}–{max(tuned.accuracies):.3f}), loss "
                  f"{table[method][str(r)]['loss']['mean']:.3f}", flush=True)
    minutes = (time.perf_counter() - start) / 60
    command = "python benchmarks/sweep_variants.py " + " ".join(argv if argv is not None
                                                                 else sys.argv[1:])
    conditions = {"command": command.strip(), "task": "rotated digits",
                  "targets": list(BLOCK_LINEARS), "alpha": variants.ALPHA,
                  "loraplus_ratio": variants.LORAPLUS_RATIO, "rates": args.rates,
                  "seeds": args.seeds, "steps": args.steps, "batch": BATCH,
                  "validation_images": variants.VALIDATION,
                  "tuned_by": "lowest mean validation loss over the seeds",
                  "threads": torch.get_num_threads()}
    path = results.record("variants", table, conditions, minutes, directory=args.out)
    print(f"wrote {path} ({minutes:.1f} minutes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
