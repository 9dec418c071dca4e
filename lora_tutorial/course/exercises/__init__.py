"""Checkers for the notebooks' exercises: specific feedback on a learner's code.

Every checker has exactly three outcomes, so a notebook can always be run top to bottom:

- **correct**: it prints one line that starts with ``✓ Correct`` and returns a true
  :class:`Outcome`;
- **wrong**: it raises :class:`ExerciseError`, whose message says what is wrong and how to
  fix it, in one of two ways: ``require(condition, message)``, or ``raise
  ExerciseError(message)`` where a branch has already decided (never ``assert``, which
  ``python -O`` would strip);
- **not attempted** (the learner's copy, run as shipped: the function still raises
  ``NotImplementedError`` or a name is still ``...``): it prints one line that starts with
  ``○ Not attempted yet`` and returns a false :class:`Outcome`; the notebook then goes on
  with the course package's version.

A checker is a function decorated with :func:`checker` that returns the success message.
It runs inside ``torch.random.fork_rng``, so the notebook's random stream is the same whether
or not the checker ran (whatever the learner's code or a layer's constructor draws is undone),
and it draws its own test data from its own ``torch.Generator``.
"""

import functools
from collections.abc import Callable

import torch

CORRECT = "✓ Correct"
NOT_ATTEMPTED = "○ Not attempted yet"


class ExerciseError(AssertionError):
    """The learner's answer is wrong; the message explains why and what to change."""


class NotAttempted(Exception):
    """Raised inside a checker when the learner has not written the exercise yet."""


def require(condition: bool, message: str) -> None:
    """Fail the exercise with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ExerciseError(message)


def require_attempted(*answers: object) -> None:
    """Stop quietly when an answer is still the learner copy's placeholder ``...``."""
    if any(answer is Ellipsis for answer in answers):
        raise NotAttempted


def call_learner(function: Callable, *args, context: str = "Your function", **kwargs):
    """Call the learner's ``function``; a stub means not attempted, any other error fails.

    ``context`` starts the message, e.g. ``"On a 3-layer MLP, your function"``.
    """
    try:
        return function(*args, **kwargs)
    except NotImplementedError as error:
        raise NotAttempted from error
    except Exception as error:  # report the learner's error, with where it happened
        raise ExerciseError(f"{context} raised {type(error).__name__}: {error}") from error


class Outcome:
    """What a checker returns: true when the answer is correct, false when not attempted.

    A notebook shows the checker's printed line only: IPython does not echo this object
    after the cell (``_ipython_display_`` shows nothing), so no stray ``True`` appears.
    """

    def __init__(self, correct: bool):
        self.correct = correct

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return f"Outcome(correct={self.correct})"

    def _ipython_display_(self) -> None:
        """Display nothing: the checker has already printed its line."""


def checker(what_to_write: str) -> Callable[[Callable[..., str]], Callable[..., Outcome]]:
    """Turn ``check(...) -> success message`` into a checker with the three outcomes above.

    ``what_to_write`` finishes the not-attempted line, e.g. ``"write MyLoRALinear above"``.
    The checker gains a keyword ``verbose``: ``verbose=False`` prints nothing on success (for
    tests); the not-attempted line is always printed.
    """
    def decorate(check: Callable[..., str]) -> Callable[..., Outcome]:
        @functools.wraps(check)
        def run(*args, verbose: bool = True, **kwargs) -> Outcome:
            try:
                with torch.random.fork_rng(devices=[]):
                    message = check(*args, **kwargs)
            except NotAttempted:
                print(f"{NOT_ATTEMPTED}: {what_to_write}, then run this cell again. "
                      "Until then the notebook goes on with the course package's version.")
                return Outcome(False)
            if verbose:
                print(f"{CORRECT}: {message}")
            return Outcome(True)
        return run
    return decorate
