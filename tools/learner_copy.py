"""Make the learner's notebooks from the solved ones: solutions folded away, skeletons in.

The solved notebooks (``solutions/``, the instructor's key) are the source that authors edit.
A solution cell starts with the line :data:`SOLUTION_MARKER`. In the learner's copy each such
cell keeps only the skeleton — every ``def`` and ``class`` header (its parameter names, but
no decorators and no default values, which can give the answer away, unless the function's
docstring states the default as ``name=value``) with a body that raises
``NotImplementedError``, and ``name = ...`` for each name the solution assigns — followed by
a markdown cell that holds the solution folded away (``<details>``), one click from
self-study. Every code cell loses its outputs, so the learner meets each result by running
it, and the checker after an exercise says "not attempted yet" rather than printing the
instructor's success.

The copy never writes into its source: an output folder equal to the source, inside it, or
containing it is refused, and so is an output file that leads into the source (a link named
like a notebook). A notebook that is not JSON, or lacks the cells and fields a notebook has,
is refused with a message that names the file and the cell. Nothing is written unless every
notebook could be stripped, and then every copy is written at once, atomically, replacing a
link in the output folder rather than the file it points to
(:func:`~lora_tutorial.common.files.write_files`).

Usage (from the repository root; ``tools/make_learner_notebooks.py`` also executes them)::

    python -m tools.learner_copy --source solutions --out notebooks
"""

import argparse
import ast
import json
import sys
from pathlib import Path

from lora_tutorial.common.cli import command
from lora_tutorial.common.files import write_files

SOLUTION_MARKER = "# Solution — replace it with your own code and re-run the checker"
LEARNER_MARKER = "# Your turn: write the code below, then run the checker in the next cell."
TODO_BODY = 'raise NotImplementedError("Write this part, then run the checker.")'
SOLUTION_SUMMARY = "<details><summary>Show a solution</summary>"
DEFAULT_SOURCE = Path(__file__).resolve().parents[1] / "solutions"


class NotebookError(ValueError):
    """A notebook the copy cannot use: not JSON, or without the fields a notebook's cells have
    (the message says which file and cell)."""


class StripError(NotebookError):
    """A solution cell that cannot be turned into a skeleton (says which notebook and cell)."""


class OutputError(ValueError):
    """An output folder or file the copy refuses to write: it would harm the source, or it is
    not a folder (the message says which and what to choose instead)."""


def _stated(arg: ast.arg, default: ast.expr | None, docstring: str) -> ast.expr | None:
    """``default`` if the docstring spells out ``name=default`` (part of the interface the
    exercise states, so it gives nothing away), else ``None``."""
    if default is None:
        return None
    spellings = {ast.unparse(default)}
    if isinstance(default, ast.Constant) and isinstance(default.value, str):
        spellings.add(f'"{default.value}"')
    return default if any(f"{arg.arg}={value}" in docstring for value in spellings) else None


def _header(node: ast.stmt) -> str:
    """``def``/``class`` line without decorators and default values (names and types kept).

    A default value stays when the function's own docstring, which the skeleton shows
    anyway, states it as ``name=value`` (``dropout=0.0``): it is then the interface the
    exercise asks for, not a hint.
    """
    bare = ast.parse(ast.unparse(node)).body[0]  # an independent copy to edit
    bare.decorator_list = []
    bare.body = [ast.Pass()]
    if isinstance(bare, (ast.FunctionDef, ast.AsyncFunctionDef)):
        doc = ast.get_docstring(node) or ""
        positional = bare.args.posonlyargs + bare.args.args
        stated = [_stated(arg, default, doc) for arg, default in
                  zip(positional[len(positional) - len(bare.args.defaults):], bare.args.defaults)]
        # Python needs the defaults to end the list: keep the stated ones at its end.
        while None in stated:
            stated = stated[stated.index(None) + 1:]
        bare.args.defaults = stated
        bare.args.kw_defaults = [_stated(arg, default, doc) for arg, default in
                                 zip(bare.args.kwonlyargs, bare.args.kw_defaults)]
    return ast.unparse(bare).splitlines()[0]


def _skeleton(node: ast.stmt, indent: str = "") -> list[str]:
    """Header lines of a function or class, with stub bodies (methods kept as stubs)."""
    header = [indent + _header(node)]
    body_indent = indent + "    "
    if isinstance(node, ast.ClassDef):
        methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
        body = [line for m in methods for line in _skeleton(m, body_indent) + [""]]
        return header + (body[:-1] if body else [body_indent + "pass"])
    docstring = ast.get_docstring(node)
    doc = [f'{body_indent}"""{docstring}"""'] if docstring else []
    return header + doc + [body_indent + TODO_BODY]


def _solution_code(source: str) -> str:
    """The code of a solution cell, without its marker line."""
    return (source.split("\n", 1)[1] if "\n" in source else "").strip("\n")


def strip_solution(source: str, where: str = "this cell") -> str:
    """The learner's version of one solution cell's source.

    ``where`` names the cell in the error raised when the solution is not plain Python
    (IPython magics such as ``%timeit`` or ``!pip``, or a syntax error).
    """
    code = _solution_code(source)
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        line = (error.text or "").strip()
        magic = (" It looks like an IPython magic or shell command: a solution cell must be "
                 "plain Python; move the magic to a cell of its own."
                 if line.startswith(("%", "!")) else "")
        raise StripError(f"{where}: the solution cannot be stripped, line {error.lineno} of "
                         f"the solution is not valid Python ({error.msg}: {line!r}).{magic}"
                         ) from error
    out = [LEARNER_MARKER]
    wrote_placeholder = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out += [""] + _skeleton(node)
        elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
            # Keep the names the checker reads; "..." (Ellipsis) is what the learner replaces.
            out += ["", " = ".join(t.id for t in node.targets) + " = ...  # your code here"]
        elif not wrote_placeholder:
            out += ["", "# ... your code here ..."]
            wrote_placeholder = True
    return "\n".join(out) + "\n"


def solution_cell(source: str, cell_id: str | None = None) -> dict:
    """The markdown cell that shows a solution folded (``<details>``) under its exercise."""
    code = _solution_code(source)
    fence = "~~~~" if "```" in code else "```"
    cell = {"cell_type": "markdown", "metadata": {},
            "source": f"{SOLUTION_SUMMARY}\n\n{fence}python\n{code}\n{fence}\n\n</details>"}
    if cell_id is not None:
        cell["id"] = (cell_id[:55] + "-solution")
    return cell


def read_notebook(path: Path) -> dict:
    """The JSON of the notebook at ``path``; a file that is not JSON is named in the error."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise NotebookError(f"{path} is not a notebook: it is not UTF-8 text (byte "
                            f"{error.start}: {error.reason}).") from None
    except json.JSONDecodeError as error:
        raise NotebookError(f"{path} is not a notebook: it is not valid JSON ({error.msg} at "
                            f"line {error.lineno}, column {error.colno}).") from None


def _cells(notebook: object, name: str) -> list[dict]:
    """The cells of ``notebook``, each checked to have what the copy reads from it."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise NotebookError(f'{name} is not a notebook: it has no list of "cells" (a Jupyter '
                            "notebook is a JSON object that holds one).")
    for index, cell in enumerate(cells):
        where = f"{name}, cell {index}"
        if not isinstance(cell, dict):
            raise NotebookError(f"{where} is not a JSON object but {type(cell).__name__} "
                                f"{cell!r:.60}.")
        for key in ("cell_type", "source"):
            if key not in cell:
                raise NotebookError(f'{where} has no "{key}", which every notebook cell needs; '
                                    "add it, or delete the cell.")
        if not isinstance(cell["cell_type"], str):
            raise NotebookError(f'{where}: its "cell_type" must be a string, not '
                                f"{cell['cell_type']!r:.60}.")
        source = cell["source"]
        lines = [source] if isinstance(source, str) else source
        if not isinstance(lines, list):
            raise NotebookError(f'{where}: its "source" must be a string or a list of strings, '
                                f"not {type(source).__name__} {source!r:.60}.")
        for number, line in enumerate(lines):
            if not isinstance(line, str):
                raise NotebookError(f'{where}: item {number} of its "source" is '
                                    f"{type(line).__name__} {line!r:.60}, not a string.")
    return cells


def learner_notebook(notebook: dict, name: str = "the notebook") -> tuple[dict, int]:
    """Return a copy of ``notebook`` without solutions, and how many cells were stripped.

    ``name`` names the notebook in the :class:`NotebookError` raised when it lacks the cells
    and fields a notebook has, or a solution cannot be stripped.
    """
    stripped = 0
    cells = []
    for index, cell in enumerate(_cells(notebook, name)):
        cell = dict(cell)
        source = "".join(cell["source"])
        folded = None
        if cell["cell_type"] == "code":
            if source.startswith(SOLUTION_MARKER):
                cell["source"] = strip_solution(source, where=f"{name}, cell {index}")
                folded = solution_cell(source, cell.get("id"))
                stripped += 1
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
        if folded is not None:
            cells.append(folded)
    return {**notebook, "cells": cells}, stripped


def _inside(path: Path, folder: Path) -> bool:
    """Whether the resolved ``path`` is ``folder`` or lies below it (both resolved)."""
    return path == folder or folder in path.parents


def _refuse_overlap(out_dir: Path, source_dir: Path) -> None:
    out, source = out_dir.resolve(), source_dir.resolve()
    if _inside(out, source):
        raise OutputError(f"Refusing to write the learner copy into {out_dir}: it is (inside) "
                          f"the source folder {source_dir}, whose solutions it would "
                          "overwrite. Choose another --out folder.")
    if out in source.parents:
        raise OutputError(f"Refusing to write the learner copy into {out_dir}: it contains the "
                          f"source folder {source_dir}. Choose a folder beside it.")


def _refuse_bad_outputs(out_dir: Path, source_dir: Path, names: list[str]) -> None:
    """Refuse an output folder that is not a folder, and an output file that is a folder or
    leads into the source (a link to a solved notebook, say)."""
    if (out_dir.exists() or out_dir.is_symlink()) and not out_dir.is_dir():
        raise OutputError(f"Refusing to write the learner copy into {out_dir}: it is a file, "
                          "not a folder. Choose a folder for --out.")
    above = next((parent for parent in out_dir.absolute().parents if parent.exists()), None)
    if above is not None and not above.is_dir():
        raise OutputError(f"Refusing to write the learner copy into {out_dir}: {above} is a "
                          "file, not a folder. Choose a folder for --out.")
    source = source_dir.resolve()
    for name in names:
        target = out_dir / name
        if target.is_symlink() and _inside(target.resolve(), source):
            raise OutputError(f"Refusing to write {target}: it is a link to "
                              f"{target.resolve()}, inside the source folder {source_dir}, "
                              "and a copy must never stand in for a solution. Remove the link, "
                              "then run this again.")
        if target.is_dir():
            raise OutputError(f"Refusing to write {target}: it is a folder. Move it away, "
                              "then run this again.")


def make_learner_copy(out_dir: Path, source_dir: Path = DEFAULT_SOURCE,
                      only: list[str] | None = None) -> dict[str, int]:
    """Write learner copies of every notebook in ``source_dir`` to ``out_dir``.

    ``only`` limits the copy to notebooks with these names (``"03_lora_layer"`` or
    ``"03_lora_layer.ipynb"``). Every notebook is read and stripped, and every output
    checked, before the first file is written, so a refused notebook (:class:`NotebookError`)
    or output (:class:`OutputError`) leaves ``out_dir`` as it was; then all copies are
    written at once, atomically (:func:`~lora_tutorial.common.files.write_files`).
    """
    out_dir, source_dir = Path(out_dir), Path(source_dir)
    _refuse_overlap(out_dir, source_dir)
    notebooks = sorted(source_dir.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"No notebooks found in {source_dir}.")
    if only is not None:
        wanted = {Path(name).stem for name in only}
        unknown = wanted - {path.stem for path in notebooks}
        if unknown:
            raise FileNotFoundError(f"No notebook named {', '.join(sorted(unknown))} in "
                                    f"{source_dir}.")
        notebooks = [path for path in notebooks if path.stem in wanted]
    copies = {path.name: learner_notebook(read_notebook(path), name=str(path))
              for path in notebooks}
    _refuse_bad_outputs(out_dir, source_dir, list(copies))
    out_dir.mkdir(parents=True, exist_ok=True)
    write_files(out_dir, {name: _json_writer(copy) for name, (copy, _) in copies.items()})
    return {name: stripped for name, (_, stripped) in copies.items()}


def _json_writer(notebook: dict):
    """Writes ``notebook`` as Jupyter saves it (one-space indent, UTF-8, final newline)."""
    text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    return lambda path: path.write_text(text, encoding="utf-8")


@command("python -m tools.learner_copy")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write learner copies of the notebooks, "
                                                 "with exercise solutions folded away.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the copies")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help="folder of the solved notebooks (default: the course's solutions/)")
    args = parser.parse_args(argv)
    for name, stripped in make_learner_copy(args.out, args.source).items():
        print(f"{name}: {stripped} solution cell(s) stripped")


if __name__ == "__main__":
    sys.exit(main())
