"""Regenerate the learner notebooks from the solved ones, then store their outputs.

``solutions/NN_name.ipynb`` is what authors edit (solutions filled in, no outputs);
``notebooks/NN_name.ipynb`` is what learners open. This script writes the learner copy
(``python -m tools.learner_copy --source solutions --out notebooks``) and runs
``tools/execute_notebooks.py`` on the written notebooks, so that each stored checker output
says "not attempted yet" exactly as nbval will reproduce it.

Usage (from the repository root)::

    .venv/bin/python -m tools.make_learner_notebooks               # every notebook
    .venv/bin/python -m tools.make_learner_notebooks 03_lora_layer  # only these (names or stems)
"""

import argparse
import subprocess
import sys
from pathlib import Path

from lora_tutorial.common.cli import command
from tools.learner_copy import make_learner_copy

ROOT = Path(__file__).resolve().parents[1]
PROG = "python -m tools.make_learner_notebooks"


@command(PROG)
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to copy and execute (default: all)")
    parser.add_argument("--source", type=Path, default=ROOT / "solutions")
    parser.add_argument("--out", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--no-execute", action="store_true",
                        help="only write the copies (outputs empty)")
    args = parser.parse_args(argv)
    report = make_learner_copy(args.out, args.source, only=args.names or None)
    for name, stripped in report.items():
        print(f"{name}: {stripped} solution cell(s) stripped")
    if args.no_execute:
        return 0
    paths = [str(args.out / name) for name in report]
    # In a process of its own: it sets the environment its kernels inherit (one thread, the
    # CPU, an empty quiz-progress file), which this process keeps as it was.
    executed = subprocess.run([sys.executable, "-m", "tools.execute_notebooks", *paths])
    if executed.returncode != 0:
        print(f"{PROG}: error: storing the outputs failed (the line above says why); the "
              "notebooks it did not report as done are left without outputs. Fix the "
              "solution, then run this again.", file=sys.stderr)
    return executed.returncode


if __name__ == "__main__":
    sys.exit(main())
