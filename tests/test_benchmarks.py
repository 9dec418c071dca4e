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
