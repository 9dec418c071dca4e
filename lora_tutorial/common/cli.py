"""The top-level handler of a command line: a message that names the problem, never a traceback.

Whoever runs a command wants to know what went wrong and what to do about it, not where in
the code it happened. :func:`command` wraps a ``main(argv)`` function so that any exception it
lets out becomes one line on standard error, ``PROG: error: MESSAGE``, and exit status 1
(130 after Ctrl-C). Errors raised on purpose (``ValueError``, ``OSError`` and their
subclasses) already carry a sentence that says what was wrong and how to fix it, so that
sentence is printed as it is; any other exception is named by its type as well, so the line
still says what happened. argparse's own exits (``--help``, a usage error with status 2) pass
through untouched::

    @command("python -m tools.learner_copy")
    def main(argv: list[str] | None = None) -> int: ...

    if __name__ == "__main__":
        sys.exit(main())
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

Main = Callable[[list[str] | None], int | None]
"""A command's body: takes the arguments (``None``: ``sys.argv[1:]``), returns its status."""

INTERRUPTED = 130
"""The exit status of a command stopped with Ctrl-C (128 + SIGINT, as shells report it)."""


def describe(error: BaseException) -> str:
    """One line that names what went wrong in ``error``."""
    text = str(error)
    if isinstance(error, (ValueError, OSError)) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def command(prog: str) -> Callable[[Main], Callable[[list[str] | None], int]]:
    """Wrap a command's ``main`` so that it returns an exit status and never shows a traceback.

    ``prog`` is how the user ran the command (``python -m lora_tutorial``); every error line
    starts with it. ``main`` returning ``None`` means success (status 0).
    """
    def wrap(main: Main) -> Callable[[list[str] | None], int]:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            try:
                status = main(argv)
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return INTERRUPTED
            except Exception as error:  # noqa: BLE001 (reported in one line, not hidden)
                print(f"{prog}: error: {describe(error)}", file=sys.stderr)
                return 1
            return 0 if status is None else status
        return run
    return wrap
