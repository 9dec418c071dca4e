"""Measure instead of claim: time, peak memory and file size of what the course compares.

Timings on a laptop are noisy, so compare *ratios* measured in one run, with the
candidates interleaved (A, B, A, B, ...) so that a slow moment hurts both alike.
"""

import contextlib
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch


def _synchronize() -> None:
    """Wait for queued GPU work, so a timer measures the work and not just its queueing."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        torch.mps.synchronize()


def time_interleaved(candidates: dict[str, Callable[[], object]], repeats: int = 20,
                     warmup: int = 3) -> dict[str, float]:
    """Median seconds per call of each candidate, measured in alternation.

    Each round calls every candidate once, so drifts in machine speed spread evenly over
    all of them; the starting candidate rotates from round to round, so none always runs
    right after the same neighbour.
    """
    for _ in range(warmup):
        for fn in candidates.values():
            fn()
    names = list(candidates)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            fn = candidates[name]
            _synchronize()
            start = time.perf_counter()
            fn()
            _synchronize()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the C++ log lines PyTorch's profiler writes to the process's stderr, which a
    notebook would otherwise show (with timestamps) under the cell."""
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_memory_bytes(fn: Callable[[], object], device: torch.device | str = "cpu") -> int:
    """Peak bytes of tensor memory allocated *while* ``fn`` runs, above what existed before.

    On CUDA this reads the allocator's peak counter. On the CPU, PyTorch's profiler records
    every allocation and free; the peak is the highest point of their running sum.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated(device) - before
    if device.type != "cpu":
        raise ValueError(f"peak_memory_bytes measures CPU or CUDA memory, not {device.type!r}; "
                         "pass device='cpu' to measure the same step on the CPU.")
    activities = [torch.profiler.ProfilerActivity.CPU]
    with _quiet_stderr(), torch.profiler.profile(activities=activities,
                                                 profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU)
    peak = current = 0
    for _, nbytes in events:
        current += nbytes
        peak = max(peak, current)
    return peak


def file_size(path: str | Path) -> int:
    """Bytes on disk of a file, or of all files under a directory."""
    path = Path(path)
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
