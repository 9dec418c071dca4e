"""The one way the package writes a file: atomically, and never through a symlink.

Every file the package writes (adapters, model weights, quiz progress, answer files, learner
notebooks) goes through :func:`write_files`. Each file is first written to a temporary file
in the same folder, then moved into place with ``os.replace``, which swaps a name in one step
and replaces a symlink *itself*, never the file it points to. So a crash or a full disk leaves
the old files or the new ones, never half of each, and a link planted where a file will be
written cannot redirect the write onto its target.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

Writer = Callable[[Path], object]
"""Writes one file's content to the path it is given (a temporary file)."""


def write_files(directory: str | Path, files: dict[str, Writer]) -> None:
    """Write each of ``files`` (name → writer) into ``directory``, all or none.

    Every writer first writes a temporary file; only when all of them succeeded are the
    files moved into place. If a later move fails, the files already moved are taken back
    and the old ones restored, so the folder holds the old set or the new one.
    """
    directory = Path(directory)
    temporary: dict[str, Path] = {}
    backups: dict[str, Path] = {}
    moved: list[str] = []
    try:
        for name, write in files.items():
            temporary[name] = _scratch_path(directory, name, ".tmp")
            write(temporary[name])
        for name in files:
            target = directory / name
            if len(files) > 1 and (target.exists() or target.is_symlink()):
                backups[name] = _scratch_path(directory, name, ".old")
                os.replace(target, backups[name])
            os.replace(temporary[name], target)
            del temporary[name]             # only once moved: else `finally` removes it
            moved.append(name)
    except BaseException:
        for name in moved:
            (directory / name).unlink()
        for name, backup in backups.items():
            os.replace(backup, directory / name)
        backups = {}
        raise
    finally:
        for path in [*temporary.values(), *backups.values()]:
            path.unlink(missing_ok=True)


def write_file(path: str | Path, write: Writer) -> None:
    """Write one file atomically with ``write``; see :func:`write_files`."""
    path = Path(path)
    write_files(path.parent, {path.name: write})


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path``, atomically and without following a symlink."""
    write_file(path, lambda scratch: scratch.write_text(text, encoding="utf-8"))


def _scratch_path(directory: Path, name: str, suffix: str) -> Path:
    """A new, empty file beside ``name`` whose name no one else is using."""
    handle, path = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=suffix)
    os.close(handle)
    return Path(path)
