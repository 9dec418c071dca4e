"""Quizzes with hints, feedback and explanations: in the notebook, the terminal and the classroom.

In a notebook::

    import lora_tutorial.quiz
    lora_tutorial.quiz.show("02_low_rank")          # quizzes/02_low_rank.yaml
    lora_tutorial.quiz.show("final", ids=["final-summary"])
    lora_tutorial.quiz.progress()                   # your answers so far, per notebook
    lora_tutorial.quiz.export_answers("alice.json") # your answers, to hand to the instructor
    lora_tutorial.quiz.submit()                     # ... or into the class exchange folder

In a terminal::

    python -m lora_tutorial.quiz run 02_low_rank
    python -m lora_tutorial.quiz validate
    python -m lora_tutorial.quiz export --format key -o answer_key.md
    python -m lora_tutorial.quiz submit             # hand in, into $LORA_TUTORIAL_EXCHANGE
    python -m lora_tutorial.quiz class answers/     # the instructor's view of a workshop
    python -m lora_tutorial.quiz analysis answers/ --gradebook grades.csv  # item analysis

Modules: :mod:`.model` is what a quiz, question and option are (and how an answer is
checked), :mod:`.loader` reads the YAML bank into them in one display order, :mod:`.lint`
validates the bank, :mod:`.render` makes HTML, :mod:`.widget` the interactive quiz,
:mod:`.terminal` the command-line runner, :mod:`.export` handouts, answer keys, GIFT and
QTI, :mod:`.progress` the learner's record, :mod:`.exchange` hands answers in on a shared
hub, :mod:`.classroom` the instructor's summary of a class's answers, :mod:`.analysis` the
item analysis and gradebook, and :mod:`.safe_text` keeps text from files learners hand in from acting
on a terminal, a Markdown viewer or an XML file.

The light modules (model, loader, lint, progress) are imported here; the others on first
use of one of their names (PEP 562), so the command line and ``validate`` never load
ipywidgets, and nothing here loads PyTorch. (``progress`` is imported eagerly also because
the function ``progress`` must win over the submodule of the same name.)
"""

from __future__ import annotations

from ..common.lazy import lazy_exports
from .lint import validate
from .loader import QUIZ_DIR_ENV, available_quizzes, bank_dir, load_quiz
from .model import Option, Problem, Question, Quiz, QuizError
from .progress import export_answers, progress, progress_path, reset_progress

_EXPORTS = {
    "analysis": ("item_analysis",),
    "classroom": ("class_summary",),
    "exchange": ("EXCHANGE_ENV", "init_exchange", "submit"),
    "export": ("to_gift", "to_key", "to_markdown", "to_qti"),
    "terminal": ("run_quiz",),
    "widget": ("QuestionWidget", "QuizWidget", "show"),
}

__all__ = sorted([*(name for names in _EXPORTS.values() for name in names),
                  "QUIZ_DIR_ENV", "Option", "Problem", "Question", "Quiz", "QuizError",
                  "available_quizzes",
                  "bank_dir", "load_quiz", "validate", "export_answers", "progress",
                  "progress_path", "reset_progress"])

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
