"""Benchmark: how long the quiz engine takes to start, in fresh interpreters.

Each candidate is a new Python process, timed in one interleaved run (A, B, C, A, B, C,
...); the table reports the median wall time and its ratio to an empty interpreter, so a
noisy machine shifts every row alike. The engine must not pay for PyTorch: ``import
lora_tutorial.quiz`` should cost a small fraction of ``import torch``, and ``validate`` on
the whole bank should finish well under 2 s.

    python benchmarks/bench_quiz.py [--repeats 7]
"""

import argparse
import statistics
import subprocess
import sys
import time

CANDIDATES = {
    "python -c pass (baseline)": [sys.executable, "-c", "pass"],
    "import lora_tutorial.quiz": [sys.executable, "-c", "import lora_tutorial.quiz"],
    "python -m lora_tutorial.quiz validate": [sys.executable, "-m", "lora_tutorial.quiz",
                                              "validate"],
    "import torch (for comparison)": [sys.executable, "-c", "import torch"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times = {name: [] for name in CANDIDATES}
    for _ in range(args.repeats):
        for name, command in CANDIDATES.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["python -c pass (baseline)"])
    print("| Command | Median wall time (s) | × empty interpreter |")
    print("|---|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.3f} | {median / base:.1f} |")


if __name__ == "__main__":
    main()
