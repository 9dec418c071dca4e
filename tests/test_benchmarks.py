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


# ---- notebook 8: bench_language_model.py and sweep_language_model.py ------------------------

def test_bench_language_model_prints_a_time_verdict_per_method():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_language_model.py"),
                             "--batch", "2", "--repeats", "1"],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    verdict_lines = [line for line in result.stdout.splitlines() if line.startswith("→ ")]
    assert len(verdict_lines) == 4                            # every method but full FT
    assert all(" vs full fine-tuning " in line for line in verdict_lines)


def test_sweep_language_model_records_tuned_rates_and_curves(tmp_path):
    import json

    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sweep_language_model.py"),
                             "--steps", "2", "--seeds", "0", "1",
                             "--methods", "LoRA q,v (r=8)", "--output", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "language_model.json").read_text(encoding="utf-8"))
    entry = record["figures"]["methods"]["LoRA q,v (r=8)"]
    assert record["conditions"]["seeds"] == [0, 1] and record["conditions"]["steps"] == 2
    assert record["conditions"]["command"].startswith("python benchmarks/sweep_language_model.py")
    assert len(entry["rates"]) >= 3 and f"{entry['tuned_lr']:g}" in entry["rates"]
    means = {lr: sum(v["code"]) / 2 for lr, v in entry["rates"].items()}
    assert min(means, key=means.get) == f"{entry['tuned_lr']:g}"
    assert entry["curve"]["steps"] == [0, 2] and len(entry["code"]) == 2


# --- benchmarks/sweep_variants.py (notebook 09's tuned sweep) ---------------------------------

def test_sweep_variants_records_each_method_and_rank_at_its_tuned_rate(tmp_path):
    import json
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sweep_variants.py"),
                             "--methods", "LoRA", "LoRA+", "--ranks", "4", "--rates", "0.001",
                             "0.003", "--seeds", "0", "1", "--steps", "2", "--out", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "variants.json").read_text(encoding="utf-8"))
    assert set(record["figures"]) == {"LoRA", "LoRA+"}
    row = record["figures"]["LoRA+"]["4"]
    assert row["lr"] in (0.001, 0.003) and set(row["val_loss_by_lr"]) == {"0.001", "0.003"}
    for figure in ("accuracy", "loss"):
        summary = row[figure]
        assert len(summary["seeds"]) == 2
        assert summary["min"] <= summary["mean"] <= summary["max"]
    conditions = record["conditions"]
    assert conditions["command"].startswith("python benchmarks/sweep_variants.py --methods")
    assert conditions["seeds"] == [0, 1] and conditions["steps"] == 2 and conditions["threads"] == 1
    assert "minutes" in record and "machine" in record


def test_recorded_variants_sweep_covers_every_method_rank_and_seed():
    """The committed record that notebook 09, §3 shows: 4 methods × r = 4, 16, 64, 3 seeds."""
    import json
    record = json.loads((ROOT / "lora_tutorial" / "course" / "results" / "variants.json")
                        .read_text(encoding="utf-8"))
    assert set(record["figures"]) == {"LoRA", "rsLoRA", "LoRA+", "DoRA"}
    assert len(record["conditions"]["seeds"]) >= 3 and len(record["conditions"]["rates"]) >= 3
    for by_rank in record["figures"].values():
        assert set(by_rank) == {"4", "16", "64"}
        for row in by_rank.values():
            assert row["lr"] in record["conditions"]["rates"]
            assert len(row["accuracy"]["seeds"]) == len(record["conditions"]["seeds"])


def test_bench_variants_prints_its_ratios_with_verdicts():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_variants.py"),
                             "--tokens", "32", "--features", "32", "--batch", "8",
                             "--repeats", "1"],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("DoRA step / LoRA step") == 2 and out.count("NF4 forward / fp32 forward") == 2
    verdict_lines = [line for line in out.splitlines() if line.startswith("→ ")]
    assert len(verdict_lines) == 4
    assert all(line.rstrip().endswith(("slower", "faster", "(within 10%)")) for line in verdict_lines)


# --- benchmarks/bench_course_model.py: the record that the course's quotes read -------------

def test_bench_course_model_records_every_ratio_with_its_conditions(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_course_model.py"),
                             "--setting", "16:1", "--repeats", "1", "--record-dir",
                             str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "batch of 16 images" in result.stdout and "1 CPU thread(s)" in result.stdout
    import json
    data = json.loads((tmp_path / "step_time.json").read_text(encoding="utf-8"))
    setting = data["figures"]["batch_16"]
    assert (setting["batch"], setting["threads"]) == (16, 1)
    set_ups = {"lora_qv", "lora_all_linears", "head_only"}
    for figure in ("step_ratio", "peak_memory_ratio", "optimizer_state_ratio"):
        assert set(setting[figure]) == set_ups, figure
    assert set(setting["step_ms"]) == set_ups | {"full"}
    # Peak memory and optimizer state do not depend on the machine: their order is fixed.
    peak = setting["peak_memory_ratio"]
    assert peak["head_only"] < peak["lora_qv"] < 1 < peak["lora_all_linears"]
    state = setting["optimizer_state_ratio"]
    assert state["head_only"] < state["lora_qv"] < state["lora_all_linears"] < 1
    assert data["conditions"]["command"].startswith("python benchmarks/bench_course_model.py")
    assert data["conditions"]["settings"] == {"batch_16": {"batch": 16, "threads": 1}}
    assert data["machine"] and data["minutes"] >= 0


def test_bench_course_model_refuses_a_malformed_setting():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_course_model.py"),
                             "--setting", "64", "--no-record"],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 2 and "BATCH:THREADS" in result.stderr
