"""Extract the language-model corpora from the Python installation, once, into fixed files.

Run from the repository root (it was run with CPython 3.11.7)::

    .venv/bin/python -m tools.extract_corpora             # or --out FOLDER to write elsewhere

It writes, all five at once and atomically, into ``lora_tutorial/course/corpora/``:

- ``docs_train.txt`` / ``docs_validation.txt``: the English help topics that ship in the
  standard library's ``pydoc_data.topics`` (what ``help("if")`` shows), one topic after the
  other in sorted order. Every tenth topic (starting with the fourth) is held out for
  validation, so the validation text is whole topics the model never saw.
- ``code_train.txt`` / ``code_validation.txt``: the source code of a fixed list of pure-Python
  standard-library modules (the adaptation domain); validation is two other modules.
- ``LICENSE-PSF.txt``: the licence of that text, copied from the Python distribution.

The output depends on the Python version (topics and modules change between releases), which
is why the files are committed and the course never runs this script at run time: every
learner trains and measures on the same bytes.
"""

import argparse
import sys
import sysconfig
from pathlib import Path

from pydoc_data.topics import topics

from lora_tutorial.common.cli import command
from lora_tutorial.common.files import write_files

OUT = Path(__file__).resolve().parent.parent / "lora_tutorial" / "course" / "corpora"

CODE_TRAIN = ["abc", "base64", "bisect", "colorsys", "contextlib", "copy", "csv", "fnmatch",
              "functools", "getopt", "glob", "graphlib", "heapq", "json/decoder",
              "json/encoder", "numbers", "operator", "pprint", "queue", "random", "reprlib",
              "string"]
CODE_VALIDATION = ["shlex", "textwrap"]


def docs_split() -> tuple[str, str]:
    """The help topics joined by blank lines: (training text, validation text)."""
    keys = sorted(topics)
    held_out = set(keys[3::10])
    train = [topics[k].strip() for k in keys if k not in held_out]
    validation = [topics[k].strip() for k in keys if k in held_out]
    return "\n\n".join(train) + "\n", "\n\n".join(validation) + "\n"


def module_source(name: str, stdlib: Path) -> str:
    return (stdlib / f"{name}.py").read_text(encoding="utf-8").strip()


def _text_writer(text: str):
    return lambda path: path.write_text(text, encoding="utf-8")


@command("python -m tools.extract_corpora")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT,
                        help="folder for the corpus files (default: the package's corpora/)")
    out = parser.parse_args(argv).out
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file, not a folder; choose a folder.")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    docs_train, docs_validation = docs_split()
    files = {
        "docs_train.txt": docs_train,
        "docs_validation.txt": docs_validation,
        "code_train.txt": "\n\n".join(module_source(m, stdlib) for m in CODE_TRAIN) + "\n",
        "code_validation.txt": "\n\n".join(module_source(m, stdlib)
                                           for m in CODE_VALIDATION) + "\n",
        "LICENSE-PSF.txt": (stdlib / "LICENSE.txt").read_text(encoding="utf-8"),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_files(out, {name: _text_writer(text) for name, text in files.items()})
    for name, text in files.items():
        print(f"{name:22} {len(text.encode('utf-8')):>8,d} bytes")


if __name__ == "__main__":
    sys.exit(main())
