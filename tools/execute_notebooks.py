"""Run notebooks top to bottom in a fresh kernel and store their outputs, as the tests expect.

nbval compares every stored output with a fresh run, so the committed notebooks must come
from one clean run: execution counts 1, 2, 3, ..., no widget state (each widget carries its
own static fallback), an empty quiz-progress file, one PyTorch thread and the CPU.

Usage (from the repository root)::

    .venv/bin/python -m tools.execute_notebooks notebooks/03_lora_layer.ipynb [more ...]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path: Path, timeout: int = 900) -> float:
    """Execute the notebook at ``path`` in its own folder and overwrite it; return seconds."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            store_widget_state=False, record_timing=False)
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        # The kernels inherit this environment: the same settings as the tests (conftest.py).
        os.environ["LORA_TUTORIAL_PROGRESS"] = os.path.join(scratch, "progress.json")
        os.environ["OMP_NUM_THREADS"] = "1"
        os.environ["LORA_TUTORIAL_DEVICE"] = "cpu"
        for path in args.notebooks:
            if Path(os.environ["LORA_TUTORIAL_PROGRESS"]).exists():
                os.remove(os.environ["LORA_TUTORIAL_PROGRESS"])
            print(f"{path}: {execute(path):.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
