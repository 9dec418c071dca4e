"""One device helper picks CPU or GPU; one thread helper sets PyTorch's CPU threads."""

import pytest
import torch

from lora_tutorial.course.device import DeviceChoiceError, get_device, use_cpu_threads


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def fake_gpus(monkeypatch, count: int, mps: bool = False) -> None:
    """Make PyTorch report ``count`` CUDA GPUs (0: a CPU-only build) and MPS or not."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: count > 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


def test_forced_device_wins(monkeypatch):
    fake_gpus(monkeypatch, 2, mps=True)
    monkeypatch.setenv("LORA_TUTORIAL_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


@pytest.mark.parametrize("gpus, mps, expected", [(1, True, "cuda"), (0, True, "mps"),
                                                 (0, False, "cpu")])
def test_unset_or_empty_picks_the_best_device(monkeypatch, gpus, mps, expected):
    fake_gpus(monkeypatch, gpus, mps)
    monkeypatch.delenv("LORA_TUTORIAL_DEVICE", raising=False)
    assert get_device() == torch.device(expected)
    monkeypatch.setenv("LORA_TUTORIAL_DEVICE", "")
    assert get_device() == torch.device(expected)


@pytest.mark.parametrize("value, expected", [("cuda", "cuda"), ("cuda:0", "cuda:0"),
                                             ("cuda:1", "cuda:1"), ("mps", "mps")])
def test_a_gpu_pytorch_sees_can_be_forced(monkeypatch, value, expected):
    fake_gpus(monkeypatch, 2, mps=True)
    monkeypatch.setenv("LORA_TUTORIAL_DEVICE", value)
    assert get_device() == torch.device(expected)


@pytest.mark.parametrize("value", ["gpu", "CPU", " cpu", "cuda:", "cuda:01", "cuda:x", "meta",
                                   "xla", "cpu:0", "cuda:99999999999999999999"])
def test_an_unknown_value_names_the_variable_and_the_accepted_ones(monkeypatch, value):
    fake_gpus(monkeypatch, 1)
    monkeypatch.setenv("LORA_TUTORIAL_DEVICE", value)
    with pytest.raises(DeviceChoiceError) as info:
        get_device()
    message = str(info.value)
    assert message.startswith(f"LORA_TUTORIAL_DEVICE={value!r} is not a device the course "
                              "knows; set it to cpu, cuda, cuda:N")
    assert "mps" in message and "unset it" in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value, gpus, mps, says", [
    ("cuda", 0, False, "asks for a CUDA GPU, but this PyTorch was built without CUDA"),
    ("cuda:0", 0, True, "asks for a CUDA GPU, but this PyTorch was built without CUDA"),
    ("cuda:2", 2, False, "asks for GPU number 2, but PyTorch sees 2 GPU(s), numbered from 0; "
                         "set it to cuda (the first GPU) or cuda:0 to cuda:1"),
    ("mps", 1, False, "asks for Apple's MPS GPU, but this PyTorch cannot use one"),
])
def test_a_gpu_this_machine_lacks_is_refused_with_the_fix(monkeypatch, value, gpus, mps, says):
    fake_gpus(monkeypatch, gpus, mps)
    monkeypatch.setenv("LORA_TUTORIAL_DEVICE", value)
    with pytest.raises(DeviceChoiceError) as info:
        get_device()
    assert str(info.value).startswith(f"LORA_TUTORIAL_DEVICE={value!r} {says}")
    assert "unset" in info.value.fix


def test_cuda_built_but_without_a_gpu_says_so(monkeypatch):
    fake_gpus(monkeypatch, 0)
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)
    monkeypatch.setenv("LORA_TUTORIAL_DEVICE", "cuda")
    with pytest.raises(DeviceChoiceError, match="PyTorch finds no usable NVIDIA GPU or driver; "
                                                "unset LORA_TUTORIAL_DEVICE"):
        get_device()


def test_one_thread_by_default(monkeypatch, restore_threads):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    assert use_cpu_threads() == 1 and torch.get_num_threads() == 1


def test_omp_num_threads_wins(monkeypatch, restore_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert use_cpu_threads() == 2 and torch.get_num_threads() == 2


@pytest.mark.parametrize("value", ["two", "0", "-1", ""])
def test_a_bad_thread_count_is_refused(monkeypatch, restore_threads, value):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    before = torch.get_num_threads()
    with pytest.raises(ValueError, match="OMP_NUM_THREADS must be a positive whole number"):
        use_cpu_threads()
    assert torch.get_num_threads() == before
