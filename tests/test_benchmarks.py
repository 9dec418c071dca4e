"""benchmarks/: the scripts still run end to end (their timings are never asserted here).

A benchmark that nobody runs rots: an import moves, a signature changes, and the figure the
course quotes can no longer be measured again. Each run here is the smallest the script
accepts; the test reads only the shape of what it prints.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_serving_prints_both_models_ratios_and_verdicts():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_serving.py"),
                             "--rows", "64", "--tokens", "2", "--repeats", "1"],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "tiny GPT" in out and "GPT-2-small width (768" in out
    # One table row per number of adapters, for each model, and one verdict per model.
    for adapters in (1, 4, 16, 64):
        assert out.count(f"\n| {adapters} | ") == 2
    assert out.count("at 16 adapters: gathered costs") == 2
