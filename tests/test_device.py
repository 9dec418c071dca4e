"""One device helper picks CPU or GPU; one thread helper sets PyTorch's CPU threads."""

import pytest
import torch

from lora_tutorial.course.device import get_device, use_cpu_threads


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_forced_device_wins(monkeypatch):
    monkeypatch.setenv("LORA_TUTORIAL_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


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
