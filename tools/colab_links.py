"""Give every notebook its Colab set-up cell and "Open in Colab" / Binder links.

Colab opens one notebook file from GitHub, without the rest of the repository, so each
notebook must install the course's package itself. The first code cell does that in
Colab and nothing anywhere else (so nbval and local runs are unaffected)::

    # Colab only: install the course's package (elsewhere this cell does nothing).
    import sys

    if "google.colab" in sys.modules:
        ...pip install "lora-tutorial @ git+<repository URL>" peft transformers

Both the cell and the links need the repository's public URL, and that URL is configured
in exactly one place, ``pyproject.toml``::

    [project.urls]
    Repository = "https://github.com/OWNER/NAME"

This script reads it from there and writes the cell and the links into every notebook in
``notebooks/`` and the links into the README, replacing what an earlier run wrote (the
set-up cell carries the cell tag ``colab-setup``; the link lines end with the marker
``<!-- course-links -->``). Without a configured URL it refuses and changes nothing. Files
are written atomically, replacing a link rather than the file it points to. Usage, from the
repository root::

    .venv/bin/python -m tools.colab_links            # write or update
    .venv/bin/python -m tools.colab_links --check    # exit 1 if anything is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

import nbformat

from lora_tutorial.common.cli import command
from lora_tutorial.common.files import write_text
from tools.notebook_files import read_notebook, write_notebook

ROOT = Path(__file__).resolve().parents[1]
SETUP_TAG = "colab-setup"
MARKER = "<!-- course-links -->"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
GITHUB = re.compile(r"https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?")


class LinksError(ValueError):
    """The repository URL is missing or is not one Colab and Binder can open."""


def repository(pyproject: Path) -> tuple[str, str]:
    """``(owner, name)`` of the GitHub repository named in ``[project.urls] Repository``."""
    try:
        settings = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise LinksError(f"{pyproject} is not valid TOML ({error}); nothing was changed.") from None
    urls = settings.get("project", {}).get("urls", {})
    url = urls.get("Repository")
    if not url:
        raise LinksError(
            f"{pyproject} has no [project.urls] Repository entry. Add the course's public "
            'GitHub URL there (Repository = "https://github.com/OWNER/NAME"), then run this '
            "again; nothing was changed.")
    match = GITHUB.fullmatch(url)
    if match is None:
        raise LinksError(
            f"Repository = {url!r} in {pyproject} is not a https://github.com/OWNER/NAME URL; "
            "Colab opens notebooks from GitHub only. Nothing was changed.")
    return match.group(1), match.group(2)


def setup_source(owner: str, name: str) -> str:
    """The set-up cell: installs the package in Colab, does nothing anywhere else."""
    return (
        "# Colab only: install the course's package (elsewhere this cell does nothing).\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        "    subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"--quiet\",\n"
        f"                    \"lora-tutorial @ git+https://github.com/{owner}/{name}\",\n"
        "                    \"peft\", \"transformers\"], check=True)"
    )


def links_line(owner: str, name: str, branch: str, notebook: str, readme: bool = False) -> str:
    """Markdown badges that open ``notebook`` in Colab and on Binder.

    For the README (``readme=True``) the Binder badge opens the whole notebook folder.
    """
    binder = f"https://mybinder.org/v2/gh/{owner}/{name}/{branch}"
    binder += "?urlpath=lab/tree/notebooks" if readme else f"?labpath=notebooks%2F{notebook}"
    colab = (f"https://colab.research.google.com/github/{owner}/{name}/blob/{branch}/"
             f"notebooks/{notebook}")
    return (f"[![Open in Colab]({COLAB_BADGE})]({colab}) "
            f"[![Binder]({BINDER_BADGE})]({binder}) {MARKER}")


def _with_links(text: str, line: str) -> str:
    """``text`` with its marked links line replaced, or ``line`` added after the title."""
    lines = text.split("\n")
    for i, old in enumerate(lines):
        if old.endswith(MARKER):
            lines[i] = line
            return "\n".join(lines)
    return "\n".join(lines[:1] + ["", line] + lines[1:])


def update_notebook(notebook: nbformat.NotebookNode, owner: str, name: str, branch: str,
                    file_name: str) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with the current links and set-up cell."""
    notebook = nbformat.from_dict(notebook)
    cells = notebook.cells
    first_markdown = next((c for c in cells if c.cell_type == "markdown"), None)
    if first_markdown is None:
        raise LinksError(f"{file_name} has no markdown cell to carry the links")
    first_markdown.source = _with_links(first_markdown.source,
                                        links_line(owner, name, branch, file_name))
    source = setup_source(owner, name)
    existing = [c for c in cells if SETUP_TAG in c.metadata.get("tags", [])]
    if existing:
        existing[0].source = source
    else:
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [SETUP_TAG]})
        cell.id = SETUP_TAG  # a fixed id, so that two runs write identical files
        first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
        cells.insert(first_code, cell)
    return notebook


def out_of_date(root: Path, branch: str, write: bool) -> list[Path]:
    """Files whose links or set-up cell differ from what they should be; write them if asked."""
    owner, name = repository(root / "pyproject.toml")
    notebooks = sorted((root / "notebooks").glob("*.ipynb"))
    if not notebooks:
        raise LinksError(f"no notebooks in {root / 'notebooks'}")
    stale = []
    for path in notebooks:
        current = read_notebook(path)
        wanted = update_notebook(current, owner, name, branch, path.name)
        if nbformat.writes(wanted) != nbformat.writes(current):
            stale.append(path)
            if write:
                write_notebook(path, wanted)
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    wanted_text = _with_links(text, links_line(owner, name, branch, notebooks[0].name,
                                               readme=True))
    if wanted_text != text:
        stale.append(readme)
        if write:
            write_text(readme, wanted_text)
    return stale


@command("python -m tools.colab_links")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a file is out of date")
    parser.add_argument("--branch", default="main",
                        help="the branch the links open (default: main)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    stale = out_of_date(args.root, args.branch, write=not args.check)
    for path in stale:
        print(f"{'out of date' if args.check else 'updated'}: {path.relative_to(args.root)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
