"""Sweep: every method of notebook 8 at its own tuned learning rate, over seeds.

A fair comparison of ways to adapt the tiny GPT to code gives each method the learning rate
that suits *it*: a rate borrowed from another model (or another method) measures the rate as
much as the method. So each method is trained at every rate of its grid (half-decade steps)
with every seed, exactly as notebook 8 trains (``CODE_STEPS`` steps of ``CODE_BATCH`` windows,
AdamW); its tuned rate is the one with the lowest mean code validation loss over the seeds.
At that rate the record keeps, per seed, the code loss (how much it learned) and the docs
loss (how much it forgot), and the learn–forget curve: both losses at a few steps along
training. The seed changes the data order; LoRA's A is drawn with seed 0 for every run, as in
the notebook.

    python benchmarks/sweep_language_model.py [--seeds 0 1 2] [--threads 1]

It writes ``lora_tutorial/course/results/language_model.json`` (read by notebook 8 and by
``facts.CODE_LEARNING_RATES``' test) and takes a few minutes on one thread.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

from lora_tutorial.course import results
from lora_tutorial.course.experiments.language_model import METHODS, adapt, tune
from lora_tutorial.course.facts import CODE_BATCH, CODE_STEPS
from lora_tutorial.course.text import load_corpus, validation_windows

LORA_RATES = (1e-3, 3e-3, 1e-2, 3e-2)
RATES = {
    "head/embedding only": LORA_RATES,
    "LoRA q,v (r=8)": LORA_RATES,
    "LoRA up,down (r=4)": LORA_RATES,
    "LoRA all linears (r=8)": LORA_RATES,
    "full fine-tuning": (3e-4, 1e-3, 3e-3, 1e-2),
}
"""Each method's learning-rate grid: four rates, half a decade apart."""

POINTS = (5, 10, 20)
"""Steps (besides 0 and the last) at which the learn–forget curve is measured."""

VALIDATION_WINDOWS = 128
"""Validation windows per domain, as in notebook 8."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="data seeds")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS,
                        metavar="METHOD", help="a subset of the methods (default: all)")
    parser.add_argument("--steps", type=int, default=CODE_STEPS, help="training steps per run")
    parser.add_argument("--output", default=None,
                        help="folder for the record (default: the package's results/)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    code_train = load_corpus("code", "train")
    code_val = validation_windows(load_corpus("code", "validation"), 64, VALIDATION_WINDOWS)
    docs_val = validation_windows(load_corpus("docs", "validation"), 64, VALIDATION_WINDOWS)
    runs = []
    for method in args.methods:
        for lr in RATES[method]:
            for seed in args.seeds:
                run = adapt(method, lr, seed, code_train, code_val, docs_val, steps=args.steps,
                            batch_size=CODE_BATCH, points=POINTS)
                runs.append(run)
                print(f"{method:24} lr {lr:<6g} seed {seed}: code {run.code:.3f}, "
                      f"docs {run.docs:.3f}  ({(time.perf_counter() - started) / 60:.1f} min)",
                      flush=True)
    summary = tune(runs)
    base = runs[0].curve[0]
    figures = {"base": {"code": base.code, "docs": base.docs}, "methods": summary}
    minutes = (time.perf_counter() - started) / 60
    command = "python benchmarks/sweep_language_model.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    conditions = {"command": command.strip(), "seeds": args.seeds, "steps": args.steps,
                  "batch": CODE_BATCH, "context": 64, "threads": args.threads,
                  "validation_windows": VALIDATION_WINDOWS,
                  "rates": {m: list(RATES[m]) for m in args.methods},
                  "tuned_by": "lowest mean code validation loss over the seeds",
                  "lora_alpha": "2r", "lora_init_seed": 0}
    Path(args.output or results.RESULTS_DIR).mkdir(parents=True, exist_ok=True)
    path = results.record("language_model", figures, conditions, minutes, args.output)
    for method, entry in summary.items():
        code, docs = entry["code_mean_min_max"], entry["docs_mean_min_max"]
        print(f"{method:24} tuned lr {entry['tuned_lr']:g}"
              f"{' (edge of grid)' if entry['tuned_at_edge_of_grid'] else ''}: "
              f"code {code[0]:.3f} ({code[1]:.3f}–{code[2]:.3f}), "
              f"docs {docs[0]:.3f} ({docs[1]:.3f}–{docs[2]:.3f})")
    print(f"wrote {path} in {minutes:.1f} minutes")


if __name__ == "__main__":
    main()
