"""Run notebooks top to bottom in a fresh kernel and store their outputs, as the tests expect.

nbval compares every stored output with a fresh run, so the committed notebooks must come
from one clean run: execution counts 1, 2, 3, ..., no widget state (each widget carries its
own static fallback), an empty quiz-progress file, one PyTorch thread and the CPU. A notebook
is only written once it ran through; one whose cell raises is left as it was, and the error
names the notebook, the cell and the exception.

Usage (from the repository root)::

    .venv/bin/python -m tools.execute_notebooks notebooks/03_lora_layer.ipynb [more ...]
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from lora_tutorial.common.cli import command
from tools.notebook_files import read_notebook, write_notebook


class NotebookRunError(ValueError):
    """A notebook whose cell raised while it was executed (says which notebook and cell)."""


def execute(path: Path, timeout: int = 900) -> float:
    """Execute the notebook at ``path`` in its own folder and overwrite it; return seconds."""
    notebook = read_notebook(path)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            store_widget_state=False, record_timing=False)
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        failed = [index for index, cell in enumerate(notebook.cells)
                  if any(out.get("output_type") == "error" for out in cell.get("outputs", []))]
        cell = f"cell {failed[-1]}" if failed else "a cell"
        raise NotebookRunError(f"{path}: {cell} raised {error.ename}: {error.evalue}; the "
                               "notebook was left as it was. Run it in JupyterLab to see the "
                               "traceback.") from None
    elapsed = time.perf_counter() - start
    notebook.metadata.pop("widgets", None)
    write_notebook(path, notebook)
    return elapsed


@command("python -m tools.execute_notebooks")
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
    sys.exit(main())
