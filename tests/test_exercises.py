"""The three outcomes every exercise checker shares: correct, wrong, not attempted."""

import pytest

from lora_tutorial.course.exercises import (CORRECT, NOT_ATTEMPTED, ExerciseError, call_learner,
                                     checker, require, require_attempted)


@checker("write double above")
def check_double(double) -> str:
    result = call_learner(double, 3, context="On 3, your function")
    require(result == 6, f"double(3) returned {result!r}, expected 6.")
    return "double(3) == 6."


def test_correct_prints_and_returns_true(capsys):
    assert bool(check_double(lambda x: 2 * x)) is True
    assert capsys.readouterr().out == f"{CORRECT}: double(3) == 6.\n"


def test_wrong_answer_raises_with_the_reason(capsys):
    with pytest.raises(ExerciseError, match=r"returned 9, expected 6"):
        check_double(lambda x: 3 * x)
    assert capsys.readouterr().out == ""


def test_learner_error_is_reported_with_its_context():
    def broken(x):
        raise KeyError("w")
    with pytest.raises(ExerciseError, match=r"On 3, your function raised KeyError"):
        check_double(broken)


def test_stub_means_not_attempted(capsys):
    def stub(x):
        raise NotImplementedError("Write this part, then run the checker.")
    assert bool(check_double(stub)) is False
    out = capsys.readouterr().out
    assert out.startswith(f"{NOT_ATTEMPTED}: write double above")


def test_placeholder_value_means_not_attempted(capsys):
    @checker("set rank above")
    def check_rank(rank) -> str:
        require_attempted(rank)
        require(rank == 8, "The rank is 8.")
        return "rank 8."
    assert bool(check_rank(...)) is False
    assert bool(check_rank(8)) is True
    with pytest.raises(ExerciseError):
        check_rank(4)


def test_require_is_not_an_assert():
    # python -O strips assert statements; require must fail in every mode.
    with pytest.raises(ExerciseError, match="because"):
        require(False, "because")


# Every course checker: not attempted (the learner copy's stubs) and wrong, also under -O.

def _stub(*args, **kwargs):
    raise NotImplementedError("Write this part, then run the checker.")


class _StubLayer:
    def __init__(self, base, r, alpha, dropout=0.0):   # as the learner copy shows it
        raise NotImplementedError("Write this part, then run the checker.")


def _course_checkers():
    from lora_tutorial.course.exercises import (counting, freezing, lora_layer, low_rank,
                                         merging, peft_config, surgery)
    return {"freezing": (freezing.check_freeze_all_but_last, _stub),
            "rank_r": (low_rank.check_rank_r_approx, _stub),
            "energy": (low_rank.check_rank_for_energy, _stub),
            "layer": (lora_layer.check_lora_layer, _StubLayer),
            "counting": (counting.check_lora_param_count, _stub),
            "merging": (merging.check_merge_weights, _stub),
            "peft_config": (peft_config.check_lora_config, ...),
            "surgery": (surgery.check_add_lora_by_name, _stub)}


@pytest.mark.parametrize("name", ["freezing", "rank_r", "energy", "layer", "counting",
                                  "merging", "peft_config", "surgery"])
def test_every_course_checker_reports_the_learner_copy_as_not_attempted(name, capsys):
    import torch

    check, unsolved = _course_checkers()[name]
    state = torch.random.get_rng_state()
    assert bool(check(unsolved)) is False
    out = capsys.readouterr().out
    assert out.startswith(NOT_ATTEMPTED) and out.count("\n") == 1
    assert torch.equal(torch.random.get_rng_state(), state)


# Wrong answers that a stripped assert would let through; each must fail under python -O.
WRONG_UNDER_O = {
    "freezing": ("from lora_tutorial.course.exercises.freezing import check_freeze_all_but_last as c\n"
                 "c(lambda model: None)"),
    "rank_r": ("from lora_tutorial.course.exercises.low_rank import check_rank_r_approx as c\n"
               "c(lambda M, r: M.clone())"),
    "energy": ("from lora_tutorial.course.exercises.low_rank import check_rank_for_energy as c\n"
               "c(lambda M, energy: 1.5)"),
    "layer": ("import torch\nfrom torch import nn\n"
              "from lora_tutorial.course.exercises.lora_layer import check_lora_layer as c\n"
              "class L(nn.Module):\n"
              "    def __init__(self, base, r, alpha, dropout=0.0):\n"
              "        super().__init__()\n        self.base = base\n"
              "        self.A = nn.Parameter(torch.randn(r, base.in_features))\n"
              "        self.B = nn.Parameter(torch.zeros(base.out_features, r))\n"
              "    def forward(self, x):\n        return self.base(x) + x @ self.A.T @ self.B.T\n"
              "c(L)"),
    "surgery": ("from lora_tutorial.course.exercises.surgery import check_add_lora_by_name as c\n"
                "from lora_tutorial import inject_lora\n"
                "c(lambda model, targets, r, alpha: inject_lora(model, targets, r=r, "
                "alpha=alpha))"),
}


@pytest.mark.parametrize("name", sorted(WRONG_UNDER_O))
def test_wrong_answers_fail_under_python_O(name):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-O", "-c", WRONG_UNDER_O[name]],
                            capture_output=True, text=True)
    assert result.returncode != 0, result.stdout
    assert "ExerciseError" in result.stderr and CORRECT not in result.stdout


def test_a_notebook_does_not_echo_the_outcome():
    # The printed line is the feedback; IPython shows nothing for the returned Outcome.
    from IPython.core.formatters import DisplayFormatter

    from lora_tutorial.course.exercises import Outcome
    assert DisplayFormatter().format(Outcome(True)) == ({}, {})


# The instructions above an exercise are read in both copies: the solved notebook, where the
# next cell holds a solution, and the learner's, where it holds an empty skeleton. A sentence
# that says the cell below "works" or "holds a working solution" is false in the learner's.
CLAIMS_OF_A_SOLVED_CELL = ("solution below", "holds a working solution", "below holds a",
                           "below works", "replace it with your own")


def _exercise_instructions(folder):
    """(notebook, text) of every markdown cell in ``folder`` that sits above an exercise cell."""
    import json
    from pathlib import Path

    from tools.learner_copy import LEARNER_MARKER, SOLUTION_MARKER

    root = Path(__file__).resolve().parents[1] / folder
    found = []
    for path in sorted(root.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for index, cell in enumerate(cells):
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and source.startswith((SOLUTION_MARKER, LEARNER_MARKER)):
                above = [c for c in cells[max(0, index - 3):index] if c["cell_type"] == "markdown"]
                found += [(path.name, "".join(c["source"])) for c in above]
    return found


@pytest.mark.parametrize("folder", ["solutions", "notebooks"])
def test_no_instruction_says_the_exercise_cell_holds_a_solution(folder):
    instructions = _exercise_instructions(folder)
    assert len({name for name, _ in instructions}) >= 10   # the exercises were found
    stale = [(name, claim) for name, text in instructions for claim in CLAIMS_OF_A_SOLVED_CELL
             if claim in " ".join(text.lower().split())]
    assert not stale, stale
