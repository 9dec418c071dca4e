"""Make a learner's copy of the course: the same notebooks with exercise solutions removed.

The committed notebooks keep their solutions, so that they run top to bottom under the
tests. A solution cell starts with the line :data:`SOLUTION_MARKER`. In the learner's copy
each such cell keeps only the skeleton — every ``def`` and ``class`` header with a body
that raises ``NotImplementedError``, and ``name = ...`` for each name the solution
assigns. Every code cell loses its outputs, so the learner
meets each result by running it, and the checker after an exercise tells the learner what
to do rather than printing the instructor's success.

Usage (from the repository root)::

    python -m lora_tutorial.learner_copy --out learner_notebooks
"""

import argparse
import ast
import json
from pathlib import Path

SOLUTION_MARKER = "# Solution — replace it with your own code and re-run the checker"
LEARNER_MARKER = "# Your turn: write the code below, then run the checker in the next cell."
TODO_BODY = 'raise NotImplementedError("Write this part, then run the checker.")'
DEFAULT_SOURCE = Path(__file__).resolve().parents[1] / "notebooks"


def _skeleton(node: ast.stmt, lines: list[str], indent: str = "") -> list[str]:
    """Header lines of a function or class, with stub bodies (methods kept as stubs)."""
    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    header = lines[first - 1:node.body[0].lineno - 1]
    if node.body[0].lineno == node.lineno:  # a one-line definition: "def f(x): return x"
        line = lines[node.lineno - 1]
        header = lines[first - 1:node.lineno - 1] + [line[:node.body[0].col_offset].rstrip()]
    body_indent = indent + "    "
    if isinstance(node, ast.ClassDef):
        methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
        body = [line for m in methods for line in _skeleton(m, lines, body_indent) + [""]]
        return header + (body[:-1] if body else [body_indent + "pass"])
    docstring = ast.get_docstring(node)
    doc = [f'{body_indent}"""{docstring}"""'] if docstring else []
    return header + doc + [body_indent + TODO_BODY]


def strip_solution(source: str) -> str:
    """The learner's version of one solution cell's source."""
    code = source.split("\n", 1)[1] if "\n" in source else ""
    lines = code.splitlines()
    out = [LEARNER_MARKER]
    wrote_placeholder = False
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out += [""] + _skeleton(node, lines)
        elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
            # Keep the names the checker reads; "..." (Ellipsis) is what the learner replaces.
            out += ["", " = ".join(t.id for t in node.targets) + " = ...  # your code here"]
        elif not wrote_placeholder:
            out += ["", "# ... your code here ..."]
            wrote_placeholder = True
    return "\n".join(out) + "\n"


def learner_notebook(notebook: dict) -> tuple[dict, int]:
    """Return a copy of ``notebook`` without solutions, and how many cells were stripped."""
    stripped = 0
    cells = []
    for cell in notebook["cells"]:
        cell = dict(cell)
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            if source.startswith(SOLUTION_MARKER):
                cell["source"] = strip_solution(source)
                stripped += 1
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    return {**notebook, "cells": cells}, stripped


def make_learner_copy(out_dir: Path, source_dir: Path = DEFAULT_SOURCE) -> dict[str, int]:
    """Write learner copies of every notebook in ``source_dir`` to ``out_dir``."""
    notebooks = sorted(source_dir.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"No notebooks found in {source_dir}.")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {}
    for path in notebooks:
        copy, stripped = learner_notebook(json.loads(path.read_text(encoding="utf-8")))
        (out_dir / path.name).write_text(json.dumps(copy, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
        report[path.name] = stripped
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write learner copies of the notebooks, "
                                                 "with exercise solutions removed.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the copies")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help="folder of the solution notebooks (default: the course's)")
    args = parser.parse_args(argv)
    for name, stripped in make_learner_copy(args.out, args.source).items():
        print(f"{name}: {stripped} solution cell(s) removed")


if __name__ == "__main__":
    main()
