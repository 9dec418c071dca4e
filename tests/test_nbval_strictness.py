"""nbval's strict mode really compares: a changed stored number makes the notebook fail.

The course relies on nbval to prove that every stored output is what the code computes.
A sanitizer pattern that matched too much, or an ignore marker in the wrong cell, would turn
that proof into a formality, so this test changes one exact stored number (PEFT's
trainable-parameter line for LLaMA-2-7B in notebook 04) in a temporary copy and checks that
nbval fails on it, and that the same copy passes when left unchanged.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_counting_parameters.ipynb"
EXACT = "trainable params: 4,194,304"
CHANGED = "trainable params: 4,194,305"


def _notebook_up_to_exact_line() -> tuple[dict, int]:
    """Notebook 04 cut after the first cell whose stored output shows ``EXACT``."""
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code" and EXACT in json.dumps(cell.get("outputs", [])):
            return {**notebook, "cells": notebook["cells"][:index + 1]}, index
    raise AssertionError(f"no stored output of {NOTEBOOK.name} shows {EXACT!r}")


def _nbval(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider",
         "--nbval", "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"),
         str(path), "-q"],
        cwd=path.parent, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def truncated():
    return _notebook_up_to_exact_line()


def test_unchanged_copy_passes(truncated, tmp_path):
    notebook, _ = truncated
    path = tmp_path / "unchanged.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    result = _nbval(path)
    assert result.returncode == 0, result.stdout[-3000:]


def test_one_changed_stored_number_fails(truncated, tmp_path):
    notebook, index = truncated
    cell = notebook["cells"][index]
    cell["outputs"] = json.loads(json.dumps(cell["outputs"]).replace(EXACT, CHANGED))
    path = tmp_path / "changed.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    result = _nbval(path)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "4,194,305" in result.stdout and "1 failed" in result.stdout
