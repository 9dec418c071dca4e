"""Read and write notebooks for the authoring tools that use nbformat.

:func:`read_notebook` names the file when it is not a notebook (nbformat's own errors do not);
:func:`write_notebook` writes exactly what ``nbformat.write`` would, but atomically and
replacing a link rather than the file it points to
(:func:`~lora_tutorial.common.files.write_text`).
"""

from pathlib import Path

import nbformat

from lora_tutorial.common.cli import describe
from lora_tutorial.common.files import write_text


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path`` in format 4; a file nbformat cannot read is named in the error."""
    try:
        return nbformat.read(path, as_version=4)
    except OSError:
        raise                       # its message already names the file
    except Exception as error:      # nbformat raises JSON, schema and conversion errors alike
        first_line = describe(error).splitlines()[0]
        raise ValueError(f"{path} is not a notebook nbformat can read: {first_line}") from None


def write_notebook(path: Path, notebook: nbformat.NotebookNode) -> None:
    """Write ``notebook`` to ``path`` as ``nbformat.write`` does, atomically."""
    text = nbformat.writes(notebook)
    write_text(path, text if text.endswith("\n") else text + "\n")
