"""The top-level handler of a command line: a message that names the problem, never a traceback.

Whoever runs a command wants to know what went wrong and what to do about it, not where in
the code it happened. :func:`command` wraps a ``main(argv)`` function so that any exception it
lets out becomes one line on standard error, ``PROG: error: MESSAGE``, and exit status 1
(130 after Ctrl-C). Errors raised on purpose (``ValueError`` and its subclasses, such as the
quiz engine's ``QuizError``) already carry a sentence that says what was wrong and how to fix
it, so that sentence is printed as it is; a failed file operation (``OSError``) names the file
and the reason; input nested too deeply to read (``RecursionError``) says so; any other
exception is named by its type as well, so the line still says what happened. Control
characters in the message (a file name may hold ``ESC [ 2 J``) are shown as escapes, never
obeyed by the terminal (:func:`printable`). argparse's own exits (``--help``, a usage error
with status 2) pass through untouched::

    @command("python -m tools.learner_copy")
    def main(argv: list[str] | None = None) -> int: ...

    if __name__ == "__main__":
        sys.exit(main())
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable

Main = Callable[[list[str] | None], int | None]
"""A command's body: takes the arguments (``None``: ``sys.argv[1:]``), returns its status."""

INTERRUPTED = 130
"""The exit status of a command stopped with Ctrl-C (128 + SIGINT, as shells report it)."""


# What printable() escapes: every control character (tab and newline on request), lone
# surrogates and the two non-characters.
_SHOWN_ESCAPED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def printable(text: str, newlines: bool = False) -> str:
    """``text`` with every control character shown as its escape (``\\x1b``, ``\\n``).

    A terminal obeys control characters: ``ESC [ 2 J`` clears the screen. Shown as escapes,
    they are seen, not obeyed. With ``newlines=True``, newlines and tabs stay as they are
    (for multi-line messages); otherwise they are escaped too, so one line stays one line.
    """
    keep = "\n\t" if newlines else ""

    def escape(match: re.Match) -> str:
        char = match.group()
        return char if char in keep else repr(char)[1:-1]

    return _SHOWN_ESCAPED.sub(escape, text)


def describe(error: BaseException) -> str:
    """One line that names what went wrong in ``error``, safe to print on a terminal."""
    text = str(error)
    if isinstance(error, RecursionError):
        text = "the input is nested too deeply to read"
    elif isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    elif not (isinstance(error, (ValueError, OSError)) and text):
        text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return printable(text, newlines=True)


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
