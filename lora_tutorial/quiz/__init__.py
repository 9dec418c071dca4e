"""Quizzes with hints, feedback and explanations: in the notebook, the terminal and the classroom.

In a notebook::

    import lora_tutorial.quiz
    lora_tutorial.quiz.show("02_low_rank")          # quizzes/02_low_rank.yaml
    lora_tutorial.quiz.show("final", ids=["final-summary"])
    lora_tutorial.quiz.progress()                   # your answers so far, per notebook

In a terminal::

    python -m lora_tutorial.quiz run 02_low_rank
    python -m lora_tutorial.quiz validate
    python -m lora_tutorial.quiz export --format key -o answer_key.md

Modules: :mod:`.bank` loads and validates the YAML bank, :mod:`.render` makes HTML,
:mod:`.widget` the interactive quiz, :mod:`.terminal` the command-line runner,
:mod:`.export` handouts, answer keys and GIFT, :mod:`.progress` the learner's record.
"""

from .bank import (
    Option, Problem, Question, Quiz, QuizError, available_quizzes, bank_dir, load_quiz, validate,
)
from .export import to_gift, to_key, to_markdown
from .progress import progress, progress_path, reset_progress
from .terminal import run_quiz
from .widget import QuestionWidget, QuizWidget, show

__all__ = [
    "Option", "Problem", "Question", "Quiz", "QuizError", "QuestionWidget", "QuizWidget",
    "available_quizzes", "bank_dir", "load_quiz", "progress", "progress_path", "reset_progress",
    "run_quiz", "show", "to_gift", "to_key", "to_markdown", "validate",
]
