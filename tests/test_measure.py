"""lora_tutorial.course.measure: peak memory, interleaved timing and file sizes (no timings
are asserted: those live in benchmarks/)."""

import pytest
import torch

from lora_tutorial import file_size, peak_memory_bytes, time_interleaved


def test_peak_memory_sees_a_temporary_allocation():
    x = torch.randn(256, 256)

    def make_temporaries():
        y = x @ x  # 256 KiB
        z = y @ y  # another 256 KiB while y is alive
        return z.sum()

    peak = peak_memory_bytes(make_temporaries)
    assert 2 * 256 * 256 * 4 <= peak < 4 * 256 * 256 * 4


def test_time_interleaved_calls_each_candidate_in_turn():
    calls = []
    times = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                             repeats=3, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then rotating
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())


def test_file_size(tmp_path):
    (tmp_path / "one").write_bytes(b"x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "two").write_bytes(b"x" * 5)
    assert file_size(tmp_path / "one") == 10
    assert file_size(tmp_path) == 15


def test_peak_memory_refuses_devices_it_cannot_measure():
    with pytest.raises(ValueError, match="not 'meta'"):
        peak_memory_bytes(lambda: None, device="meta")
