"""Is this computer ready for the course? ``python -m lora_tutorial check`` answers.

Run it first, on a laptop, on Binder, on Colab (``!python -m lora_tutorial check``) or on a
JupyterHub. It checks, one line each:

- the versions of Python, PyTorch and this package (and where the package is installed);
- the device the notebooks will use (:func:`~lora_tutorial.course.device.get_device`);
- whether JupyterLab can draw the widgets (``ipywidgets`` and ``jupyterlab_widgets``);
- whether the shipped pretrained weights load, and the quiz bank is found and valid;
- how long one LoRA training step of the course's TinyViT takes here.

Each line is ``ok``, a ``note`` (works, but worth knowing) or a ``problem`` (something in
the course will fail), and every problem says what to do. The last line is the verdict;
the exit status is 0 when there are no problems and 1 otherwise, so scripts (a hub's
image build, a CI job) can use it too.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .device import DEVICE_ENV, DeviceChoiceError, get_device
from ..core.inject import inject_lora, mark_only_lora_as_trainable
from .measure import time_interleaved
from .models import load_pretrained
from ..quiz import QUIZ_DIR_ENV, available_quizzes, bank_dir, validate
from .training import make_optimizer, train_step

DISTRIBUTION = "lora-tutorial"
"""The package's name on the Python packaging side (``pip show lora-tutorial``)."""

TESTED_PYTHON = (3, 11)
"""The Python version the course is tested on (also ``binder/runtime.txt``)."""

from .facts import BATCH as TIMING_BATCH  # its one home: lora_tutorial.course.facts
"""Images per training step: the batch size the notebooks train with."""

SLOW_STEP_SECONDS = 0.25
"""Slower than this, the training notebooks take minutes instead of seconds: it is about
five times the step time measured on the course's 2-core development machine while busy
(about 50 ms), where notebook 05 runs in under half a minute."""

OK, NOTE, PROBLEM = "ok", "note", "problem"


@dataclass(frozen=True)
class Result:
    """The outcome of one check: what was found and, for a problem or note, what to do."""

    name: str
    status: str  # OK, NOTE or PROBLEM
    detail: str
    fix: str = ""


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported here (without importing it)."""
    return importlib.util.find_spec(module) is not None


def _version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``"?"`` when its metadata is missing."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def pinned_torch_version() -> str | None:
    """The ``torch==X`` pin from this package's installed metadata (pyproject.toml)."""
    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        match = re.fullmatch(r"torch\s*==\s*([0-9][0-9A-Za-z.]*)", requirement.strip())
        if match:
            return match.group(1)
    return None


def shipped_weights_dir() -> Path:
    """The ``weights/`` folder inside the installed package (package data)."""
    return Path(str(resources.files("lora_tutorial.course") / "weights"))


def check_python() -> Result:
    """The Python running this (and so the kernels of this environment)."""
    version = ".".join(map(str, sys.version_info[:3]))
    detail = f"{version} ({sys.executable})"
    if sys.version_info[:2] != TESTED_PYTHON:
        tested = ".".join(map(str, TESTED_PYTHON))
        return Result("Python", NOTE, detail,
                      f"the course is tested on Python {tested}; this version is not")
    return Result("Python", OK, detail)


def check_pytorch() -> Result:
    """PyTorch's version against the pin in pyproject.toml: stored outputs assume it."""
    version = torch.__version__
    pinned = pinned_torch_version()
    if pinned is not None and version.split("+")[0] != pinned:
        return Result("PyTorch", NOTE, version,
                      f"the course is tested with torch=={pinned}; stored notebook outputs "
                      f"may differ in the last digits (pip install torch=={pinned})")
    return Result("PyTorch", OK, version)


def check_package() -> Result:
    """Which copy of ``lora_tutorial`` is imported: an editable source folder or an install."""
    import lora_tutorial

    location = Path(lora_tutorial.__file__).resolve().parent
    version = _version(DISTRIBUTION)
    if version == "?":
        return Result("lora-tutorial", NOTE, f"imported from {location}, but not installed",
                      "install it, so every notebook and kernel finds it: pip install -e . "
                      "from the repository root")
    return Result("lora-tutorial", OK, f"{version}, from {location}")


def check_device() -> Result:
    """The device :func:`get_device` picks, and that a tensor can really be put there."""
    forced = os.environ.get(DEVICE_ENV)
    how = f"set by {DEVICE_ENV}" if forced else "chosen automatically"
    fix = f"unset {DEVICE_ENV}, or set it to cpu (or cuda/mps when PyTorch sees that GPU)"
    try:
        device = get_device()
    except DeviceChoiceError as err:    # the variable asks for what this machine lacks
        return Result("device", PROBLEM, err.problem, err.fix)
    except RuntimeError as err:
        return Result("device", PROBLEM, f"choosing a device automatically failed: {err}", fix)
    try:
        torch.zeros(1, device=device)
    # A PyTorch built without a device type raises AssertionError ("Torch not compiled with
    # CUDA enabled"); a GPU it sees but cannot use (driver, memory) raises RuntimeError.
    except (RuntimeError, AssertionError) as err:
        return Result("device", PROBLEM, f"{str(device)!r} ({how}) cannot be used: {err}", fix)
    if device.type == "cuda":
        name = f"cuda ({torch.cuda.get_device_name(device)})"
    elif device.type == "cpu" and not forced:
        name = "cpu (no GPU found; the course needs none)"
    else:
        name = str(device)
    return Result("device", OK, f"{name}, {how}")


def check_widgets() -> Result:
    """``ipywidgets`` (the kernel side) and ``jupyterlab_widgets`` (JupyterLab's side)."""
    missing = [m for m in ("ipywidgets", "jupyterlab_widgets") if not _installed(m)]
    found = ", ".join(f"{m} {_version(m)}" for m in ("ipywidgets", "jupyterlab_widgets")
                      if m not in missing)
    if not missing:
        return Result("widgets", OK, found)
    detail = f"{' and '.join(missing)} not installed" + (f" ({found} is)" if found else "")
    fix = (f"pip install {' '.join(missing)} in the environment that runs JupyterLab, "
           "then restart JupyterLab and reload the browser tab")
    if "ipywidgets" in missing or _installed("jupyterlab") or _installed("notebook"):
        return Result("widgets", PROBLEM, detail, fix)
    # No JupyterLab or Notebook 7 in this environment: the front end (VS Code, Colab, or a
    # JupyterLab in another environment) brings its own widget support.
    return Result("widgets", NOTE, detail + "; JupyterLab is not in this environment",
                  "if your JupyterLab runs from another environment, " + fix)


def check_weights() -> Result:
    """The pretrained TinyViT loads and runs; every other shipped weights file reads."""
    folder = shipped_weights_dir()
    try:
        model = load_pretrained(device="cpu")
        with torch.no_grad():
            logits = model(torch.zeros(1, 1, 8, 8))
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as err:
        return Result("weights", PROBLEM, f"the pretrained TinyViT does not load: {err}",
                      "reinstall the package (pip install --force-reinstall --no-deps .); "
                      f"{folder} must hold tiny_vit_digits.safetensors and .json")
    if logits.shape != (1, 10) or not torch.isfinite(logits).all():
        return Result("weights", PROBLEM, "the pretrained TinyViT loads but computes nonsense",
                      "reinstall the package (pip install --force-reinstall --no-deps .)")
    loaded = ["tiny_vit_digits (TinyViT, runs)"]
    for path in sorted(folder.glob("*.safetensors")):
        if path.stem == "tiny_vit_digits":
            continue
        try:
            tensors = load_file(path)
            json.loads(path.with_suffix(".json").read_text())
        except (OSError, ValueError, RuntimeError, SafetensorError) as err:
            return Result("weights", PROBLEM, f"{path.name} (or its .json) does not read: {err}",
                          "reinstall the package (pip install --force-reinstall --no-deps .)")
        if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
            return Result("weights", PROBLEM, f"{path.name} holds NaN or infinite values",
                          "reinstall the package (pip install --force-reinstall --no-deps .)")
        loaded.append(f"{path.stem} ({len(tensors)} tensors read)")
    return Result("weights", OK, "; ".join(loaded))


def check_quiz_bank() -> Result:
    """The quiz bank is where :func:`~lora_tutorial.quiz.bank_dir` looks, and valid."""
    folder = bank_dir()
    names = available_quizzes(folder) if folder.is_dir() else []
    if not names:
        return Result("quiz bank", PROBLEM, f"no quiz files in {folder}",
                      f"reinstall the package, or set {QUIZ_DIR_ENV} to the folder "
                      "holding the quiz YAML files")
    problems = validate([folder])
    if problems:
        return Result("quiz bank", PROBLEM,
                      f"{len(problems)} problem(s) in {folder}: {problems[0]}",
                      "run python -m lora_tutorial.quiz validate for the full list")
    return Result("quiz bank", OK, f"{len(names)} quizzes in {folder}")


def fork_rng_of(device: torch.device):
    """``torch.random.fork_rng`` for the CPU and, if ``device`` has its own generator, it.

    ``fork_rng`` always saves and restores the CPU's generator; a GPU (``cuda``, ``mps``)
    has one more, which it restores only when asked by ``devices`` and ``device_type``.
    """
    device = torch.device(device)
    if device.type in ("cpu", "meta"):          # no generator of their own
        return torch.random.fork_rng(devices=[], device_type="cpu")
    return torch.random.fork_rng(devices=[device], device_type=device.type)


def time_lora_step(device: torch.device, repeats: int = 10) -> float:
    """Median seconds of one LoRA training step (r=8 on q_proj and v_proj, as notebook 05).

    The model, its LoRA matrices and the batch come from forked random-number generators,
    so timing leaves the caller's random state exactly as it was: the CPU's, and the GPU's
    when ``device`` is one (random initialisation on a GPU draws from the GPU's generator).
    """
    with fork_rng_of(device):
        torch.manual_seed(0)
        model = load_pretrained(device=device)
        inject_lora(model, ["q_proj", "v_proj"], r=8, alpha=16)
        mark_only_lora_as_trainable(model)
        model.train()
        generator = torch.Generator().manual_seed(0)
        x = torch.rand(TIMING_BATCH, 1, 8, 8, generator=generator).to(device)
        y = torch.randint(0, 10, (TIMING_BATCH,), generator=generator).to(device)
        optimizer = make_optimizer(model, lr=1e-3)

        def step() -> torch.Tensor:
            return train_step(model, optimizer, x, y)

        return time_interleaved({"lora step": step}, repeats=repeats, warmup=3)["lora step"]


def check_step_time() -> Result:
    """How long one training step takes on the chosen device; slow is a note, not a problem."""
    try:
        device = get_device()
    except DeviceChoiceError:
        return Result("train step", PROBLEM, "not timed: there is no device to time it on",
                      "fix the device line above first")
    try:
        seconds = time_lora_step(device)
    # AssertionError: PyTorch's answer to a device type it was built without (see above).
    except (OSError, ValueError, RuntimeError, AssertionError, KeyError, SafetensorError) as err:
        return Result("train step", PROBLEM, f"could not time a training step: {err}",
                      "fix the problems above first (device and weights)")
    detail = (f"{seconds * 1000:.1f} ms per LoRA step on {device} "
              f"(TinyViT, r=8 on q_proj and v_proj, batch {TIMING_BATCH}, median of 10)")
    if seconds > SLOW_STEP_SECONDS:
        return Result("train step", NOTE, detail + ": slow",
                      "the training notebooks will take minutes; close programs that use "
                      "the CPU, or export OMP_NUM_THREADS=1 before starting JupyterLab on a "
                      "busy machine with few cores")
    return Result("train step", OK, detail)


CHECKS: tuple[Callable[[], Result], ...] = (
    check_python, check_pytorch, check_package, check_device, check_widgets,
    check_weights, check_quiz_bank, check_step_time,
)
"""Every check, in the order they are printed."""


def run_check(check: Callable[[], Result]) -> Result:
    """Run one check; an error nobody foresaw becomes a problem line, never a traceback."""
    try:
        return check()
    except Exception as err:  # noqa: BLE001 (reported to the user as a problem, not hidden)
        name = check.__name__.removeprefix("check_").replace("_", " ")
        return Result(name, PROBLEM, f"the check itself failed: {type(err).__name__}: {err}",
                      "please report this, with the line above")


def format_result(result: Result) -> str:
    """One line per result, plus an indented "what to do" line for notes and problems."""
    line = f"[{result.status:^7}] {result.name:<13} {result.detail}"
    return line + (f"\n{'':10}{'-> ' + result.fix}" if result.fix else "")


def verdict(results: list[Result]) -> str:
    """The last line: OK (with the number of notes), or how many problems there are."""
    problems = sum(r.status == PROBLEM for r in results)
    notes = sum(r.status == NOTE for r in results)
    if problems:
        return (f"Verdict: {problems} problem(s): fix each as its '->' line says, then run "
                f"python -m lora_tutorial check again.")
    extra = f" ({notes} note(s) above are worth reading)" if notes else ""
    return f"Verdict: OK, this environment is ready for the course{extra}."


def main(print_line: Callable[[str], None] = print) -> int:
    """Run every check, printing each line as it completes; return the exit status."""
    print_line("Checking the environment for the LoRA course ...")
    results = []
    for check in CHECKS:
        results.append(run_check(check))
        print_line(format_result(results[-1]))
    print_line(verdict(results))
    return 1 if any(r.status == PROBLEM for r in results) else 0
