"""`python -m lora_tutorial check`: every line, the verdict and the exit status.

Failures are simulated with monkeypatch; the environment the tests run in is a good one,
so the unpatched check must pass.
"""

import math
import subprocess
import sys

import pytest
import torch

from lora_tutorial.course import check
from lora_tutorial.__main__ import main as cli_main


def run_main() -> tuple[int, list[str]]:
    lines: list[str] = []
    status = check.main(print_line=lines.append)
    return status, "\n".join(lines).splitlines()


def result_of(lines: list[str], name: str) -> str:
    (line,) = [line for line in lines if line[10:].startswith(name + " ")]
    return line


FAST_STEP = check.SLOW_STEP_SECONDS / 5
"""An injected step time: how fast this machine is must not decide a test (it is often busy)."""


def test_this_environment_passes_every_check(monkeypatch):
    monkeypatch.setattr(check, "time_lora_step", lambda device: FAST_STEP)
    status, lines = run_main()
    assert status == 0, "\n".join(lines)
    assert lines[-1].startswith("Verdict: OK")
    for name in ("Python", "PyTorch", "lora-tutorial", "device", "widgets", "weights",
                 "quiz bank", "train step"):
        assert result_of(lines, name).startswith("[  ok   ]"), name
    assert torch.__version__ in result_of(lines, "PyTorch")
    assert "tiny_vit_digits" in result_of(lines, "weights")
    assert " ms per LoRA step on " in result_of(lines, "train step")


def test_the_command_line_exits_with_the_verdict():
    result = subprocess.run([sys.executable, "-m", "lora_tutorial", "check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("Verdict: OK")


def test_the_command_line_needs_a_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main([])
    assert exit_info.value.code == 2
    assert "check" in capsys.readouterr().err


def test_missing_widget_support_is_a_problem_with_a_fix(monkeypatch):
    monkeypatch.setattr(check, "_installed", lambda module: module != "jupyterlab_widgets")
    status, lines = run_main()
    assert status == 1
    line = result_of(lines, "widgets")
    assert line.startswith("[problem]") and "jupyterlab_widgets not installed" in line
    assert "pip install jupyterlab_widgets" in lines[lines.index(line) + 1]
    assert lines[-1].startswith("Verdict: 1 problem(s)")


def test_without_jupyterlab_here_missing_lab_widgets_is_only_a_note(monkeypatch):
    # e.g. VS Code or a hub whose JupyterLab runs from another environment
    absent = {"jupyterlab_widgets", "jupyterlab", "notebook"}
    monkeypatch.setattr(check, "_installed", lambda module: module not in absent)
    status, lines = run_main()
    assert status == 0
    assert result_of(lines, "widgets").startswith("[ note  ]")
    assert "note(s) above" in lines[-1]


def test_weights_that_do_not_load_are_a_problem(monkeypatch):
    def missing(device=None):
        raise FileNotFoundError("no such file: tiny_vit_digits.safetensors")

    monkeypatch.setattr(check, "load_pretrained", missing)
    status, lines = run_main()
    assert status == 1
    assert result_of(lines, "weights").startswith("[problem]")
    assert "reinstall" in lines[lines.index(result_of(lines, "weights")) + 1]
    assert result_of(lines, "train step").startswith("[problem]")


def test_every_shipped_weights_file_is_read(monkeypatch, tmp_path):
    shipped = check.shipped_weights_dir()
    for name in ("tiny_vit_digits.safetensors", "tiny_vit_digits.json"):
        (tmp_path / name).write_bytes((shipped / name).read_bytes())
    (tmp_path / "tiny_gpt_text.safetensors").write_bytes(b"not a safetensors file")
    (tmp_path / "tiny_gpt_text.json").write_text("{}")
    monkeypatch.setattr(check, "shipped_weights_dir", lambda: tmp_path)
    status, lines = run_main()
    assert status == 1
    assert "tiny_gpt_text.safetensors" in result_of(lines, "weights")


def test_a_second_readable_weights_file_is_listed(monkeypatch, tmp_path):
    from safetensors.torch import save_file

    shipped = check.shipped_weights_dir()
    for name in ("tiny_vit_digits.safetensors", "tiny_vit_digits.json"):
        (tmp_path / name).write_bytes((shipped / name).read_bytes())
    save_file({"w": torch.ones(2, 2), "b": torch.zeros(2)}, tmp_path / "tiny_gpt_text.safetensors")
    (tmp_path / "tiny_gpt_text.json").write_text("{}")
    monkeypatch.setattr(check, "shipped_weights_dir", lambda: tmp_path)
    assert check.check_weights().detail.endswith("tiny_gpt_text (2 tensors read)")
    save_file({"w": torch.full((2,), float("nan"))}, tmp_path / "tiny_gpt_text.safetensors")
    assert check.check_weights().status == check.PROBLEM


def test_an_unusable_device_is_a_problem(monkeypatch):
    monkeypatch.setenv("LORA_TUTORIAL_DEVICE", "no-such-device")
    status, lines = run_main()
    assert status == 1
    line = result_of(lines, "device")
    assert line.startswith("[problem]") and "LORA_TUTORIAL_DEVICE" in line
    assert result_of(lines, "train step").startswith("[problem]")


def _without_cuda(monkeypatch):
    """Make PyTorch look like a CPU-only build, also on a machine with a GPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: False)


def test_asking_for_cuda_without_it_is_a_problem_that_says_what_to_do(monkeypatch):
    _without_cuda(monkeypatch)
    monkeypatch.setenv("LORA_TUTORIAL_DEVICE", "cuda")
    status, lines = run_main()
    assert status == 1
    line = result_of(lines, "device")
    assert line.startswith("[problem]")
    assert "LORA_TUTORIAL_DEVICE='cuda' asks for a CUDA GPU" in line
    assert "built without CUDA" in line
    assert "unset LORA_TUTORIAL_DEVICE" in lines[lines.index(line) + 1]
    assert "set it to cpu" in lines[lines.index(line) + 1]
    step = result_of(lines, "train step")
    assert step == "[problem] train step    not timed: there is no device to time it on"
    assert lines[lines.index(step) + 1].endswith("-> fix the device line above first")
    assert not any("please report" in line for line in lines), "\n".join(lines)


def test_an_unknown_device_name_lists_the_accepted_ones(monkeypatch):
    monkeypatch.setenv("LORA_TUTORIAL_DEVICE", "gpu")
    result = check.check_device()
    assert result.status == check.PROBLEM
    assert result.detail == "LORA_TUTORIAL_DEVICE='gpu' is not a device the course knows"
    assert "cpu, cuda, cuda:N" in result.fix and "mps" in result.fix


def test_a_device_pytorch_cannot_use_makes_the_step_line_a_problem_not_a_bug(monkeypatch):
    monkeypatch.setattr(check, "get_device", lambda: torch.device("cuda"))
    monkeypatch.setattr(check, "time_lora_step", fail_like_a_cpu_only_pytorch)
    result = check.run_check(check.check_step_time)
    assert result.status == check.PROBLEM
    assert result.detail == "could not time a training step: Torch not compiled with CUDA enabled"
    assert "please report" not in result.fix


def fail_like_a_cpu_only_pytorch(device):
    raise AssertionError("Torch not compiled with CUDA enabled")  # what PyTorch raises


def test_a_missing_quiz_bank_is_a_problem(monkeypatch, tmp_path):
    monkeypatch.setenv("LORA_TUTORIAL_QUIZ_DIR", str(tmp_path / "nowhere"))
    status, lines = run_main()
    assert status == 1
    assert result_of(lines, "quiz bank").startswith("[problem]")


def test_an_untested_pytorch_version_is_a_note(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "1.13.1")
    result = check.check_pytorch()
    assert result.status == check.NOTE
    assert f"torch=={check.pinned_torch_version()}" in result.fix


def test_the_pin_is_read_from_the_package_metadata():
    assert check.pinned_torch_version() == torch.__version__.split("+")[0]


def test_another_python_version_is_a_note(monkeypatch):
    monkeypatch.setattr(check, "TESTED_PYTHON", (3, 99))
    assert check.check_python().status == check.NOTE


@pytest.mark.parametrize("seconds, status", [
    (FAST_STEP, check.OK),
    (check.SLOW_STEP_SECONDS, check.OK),          # the threshold itself is still fine
    (check.SLOW_STEP_SECONDS * 1.01, check.NOTE),
    (10 * check.SLOW_STEP_SECONDS, check.NOTE),
])
def test_the_step_time_verdict_follows_the_threshold(monkeypatch, seconds, status):
    monkeypatch.setattr(check, "time_lora_step", lambda device: seconds)
    result = check.check_step_time()
    assert result.status == status
    assert result.detail.startswith(f"{seconds * 1000:.1f} ms per LoRA step on cpu (TinyViT")
    assert ("OMP_NUM_THREADS" in result.fix) == (status == check.NOTE)


def test_a_slow_step_leaves_the_verdict_ok_with_a_note(monkeypatch):
    monkeypatch.setattr(check, "time_lora_step", lambda device: 10 * check.SLOW_STEP_SECONDS)
    status, lines = run_main()
    assert status == 0
    assert result_of(lines, "train step").startswith("[ note  ]")
    assert lines[-1].startswith("Verdict: OK") and "note(s) above" in lines[-1]


def test_timing_a_step_measures_and_leaves_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    seconds = check.time_lora_step(torch.device("cpu"), repeats=1)
    assert seconds > 0 and math.isfinite(seconds)   # a time, whatever this machine's speed
    assert torch.equal(torch.rand(3), expected)


def test_an_unexpected_error_becomes_a_problem_line(monkeypatch):
    def broken():
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(check, "CHECKS", check.CHECKS[:1] + (broken,))
    status, lines = run_main()
    assert status == 1
    assert any("ZeroDivisionError: boom" in line for line in lines)


def test_a_failed_automatic_choice_names_the_device_it_tried(monkeypatch):
    monkeypatch.delenv("LORA_TUTORIAL_DEVICE", raising=False)
    monkeypatch.setattr(check, "get_device", lambda: torch.device("cuda:99"))  # no such GPU
    result = check.check_device()
    assert result.status == check.PROBLEM
    assert result.detail.startswith("'cuda:99' (chosen automatically) cannot be used: ")

    def no_choice():
        raise RuntimeError("the GPU driver is broken")

    monkeypatch.setattr(check, "get_device", no_choice)
    result = check.check_device()
    assert result.status == check.PROBLEM and "None" not in result.detail
    assert result.detail == ("choosing a device automatically failed: "
                             "the GPU driver is broken")


@pytest.mark.parametrize("device, devices, device_type", [
    ("cpu", [], "cpu"),
    ("cuda:1", [torch.device("cuda:1")], "cuda"),
    ("mps", [torch.device("mps")], "mps"),
])
def test_timing_forks_the_generator_of_the_device_too(monkeypatch, device, devices,
                                                      device_type):
    calls = []
    monkeypatch.setattr(torch.random, "fork_rng",
                        lambda **kwargs: calls.append(kwargs) or "forked")
    assert check.fork_rng_of(torch.device(device)) == "forked"
    assert calls == [{"devices": devices, "device_type": device_type}]


def test_time_lora_step_forks_before_building_the_model(monkeypatch):
    class Forked(Exception):
        pass

    def fork(device):
        raise Forked(device)

    monkeypatch.setattr(check, "fork_rng_of", fork)
    with pytest.raises(Forked, match="cuda"):
        check.time_lora_step(torch.device("cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_timing_on_a_gpu_leaves_its_random_state_alone():
    state = torch.cuda.get_rng_state()
    check.time_lora_step(torch.device("cuda"), repeats=1)
    assert torch.equal(torch.cuda.get_rng_state(), state)
