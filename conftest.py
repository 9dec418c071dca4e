"""Shared test set-up, for the package tests and the notebooks alike.

Quiz answers are recorded in a progress file; tests and the nbval notebook kernels
(which inherit this process's environment) must never write to the learner's real one.
The variable is set at import time, before any test or kernel starts, and points
outside the repository.
"""

import os
import tempfile

os.environ["LORA_TUTORIAL_PROGRESS"] = os.path.join(
    tempfile.gettempdir(), f"lora_tutorial_test_progress_{os.getpid()}.json"
)

# nbval runs two notebook kernels at once (-n 2) on what may be a 2-core machine. PyTorch
# threads that wait on each other across kernels slow small workloads down many times, so
# each kernel (which inherits this environment) gets one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# The stored outputs were computed on a CPU. On a machine with a GPU (CUDA, or Apple's MPS)
# get_device() would pick it and every training number would differ, so the tests run the
# notebooks on the CPU; set LORA_TUTORIAL_DEVICE yourself to run them elsewhere.
os.environ.setdefault("LORA_TUTORIAL_DEVICE", "cpu")


# Every verdict a notebook prints ("→ ... 1.61×, slower") must agree with its own numbers, on
# whatever machine runs it: after each notebook cell nbval executes, its live outputs are read
# back by tests/verdict_lines.py (the same reader tests/test_verdicts.py uses on the stored
# outputs). A cell whose stored output nbval ignores, such as a live timing, is checked too.
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests"))
from verdict_lines import output_text, problems  # noqa: E402


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    outputs = getattr(item, "test_outputs", None)
    if outputs:
        wrong = problems(output_text(outputs))
        if wrong:
            raise AssertionError("a printed verdict contradicts its numbers:\n" + "\n".join(wrong))
    return result
