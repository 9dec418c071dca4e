"""Verdicts: the words a notebook prints about a live measurement follow from its numbers.

The writer is lora_tutorial/course/verdicts.py; the reader, tests/verdict_lines.py, parses the
printed line back and recomputes it. Both are tested here, and then every verdict stored in
the notebooks is read back: no stored conclusion may contradict the numbers it prints.
"""

import json
from pathlib import Path

import pytest

from lora_tutorial.course import verdicts
from verdict_lines import output_text, problems, verdict_lines

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("value, reference, word", [
    (15.8, 9.8, "slower"), (7.0, 9.8, "faster"), (10.3, 9.8, "about the same (within 10%)"),
])
def test_ratio_chooses_its_word_from_the_numbers(value, reference, word):
    line = verdicts.ratio("LoRA", value, "full", reference, kind="time", unit=" ms")
    assert line.endswith(word)
    assert problems(line) == []


def test_ratio_explains_only_the_word_the_numbers_chose():
    because = {"slower": "fixed costs dominate at this batch", "faster": "the weight gradients are skipped"}
    slow = verdicts.ratio("LoRA", 2.0, "full", 1.0, kind="time", because=because)
    fast = verdicts.ratio("LoRA", 0.5, "full", 1.0, kind="time", because=because)
    assert slow.endswith("slower — fixed costs dominate at this batch")
    assert fast.endswith("faster — the weight gradients are skipped")


@pytest.mark.parametrize("values, reference, said", [
    ([1.20, 1.22], [1.30, 1.33], "lower, beyond the spread"),
    ([1.40, 1.42], [1.30, 1.33], "higher, beyond the spread"),
    ([1.20, 1.31], [1.30, 1.33], "within the spread: these seeds cannot tell them apart"),
])
def test_spread_names_a_direction_only_beyond_the_spread(values, reference, said):
    line = verdicts.spread("LoRA+", values, "LoRA", reference, kind="loss", digits=2)
    assert line.endswith(said)
    assert problems(line) == []


def test_inside_and_outside_the_recorded_range():
    assert verdicts.inside("now", 1.21, [1.20, 1.25], digits=2).endswith(": inside")
    assert verdicts.inside("now", 1.30, [1.20, 1.25], digits=2).endswith(": outside")
    assert verdicts.inside("now", 1.26, [1.20, 1.25], digits=3, slack=0.5).endswith(": inside")


@pytest.mark.parametrize("call", [
    lambda: verdicts.ratio("a", 1, "b", 0, kind="time"),
    lambda: verdicts.ratio("a", 1, "b", 1, kind="speed"),
    lambda: verdicts.ratio("a", 1, "b", 1, kind="time", same_within=10),
    lambda: verdicts.spread("a", [1.0], "b", [1.0, 2.0], kind="loss"),
    lambda: verdicts.inside("a", 1.0, []),
])
def test_verdicts_refuse_what_they_cannot_judge(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("line", [
    "→ LoRA q,v 15.8 ms vs full fine-tuning 9.8 ms: 1.61×, faster",         # word flipped
    "→ LoRA q,v 15.8 ms vs full fine-tuning 9.8 ms: 0.62×, slower",         # ratio wrong
    "→ LoRA q,v 15.8 ms vs full fine-tuning 9.8 ms: 1.61×, about the same (within 10%)",
    "→ LoRA+ 1.21 (1.20–1.22) vs LoRA 1.21 (1.19–1.23): lower, beyond the spread",
    "→ LoRA+ 1.21 (1.20–1.22) vs LoRA 1.31 (1.30–1.33): within the spread: these seeds cannot tell them apart",
    "→ LoRA+ 1.21 (1.20–1.22) vs LoRA 1.31 (1.30–1.33): higher, beyond the spread",
    "→ now 1.30 against the recorded 1.20–1.25: inside",
    "→ a sentence with an arrow that is no verdict",
])
def test_the_reader_catches_words_that_contradict_their_numbers(line):
    assert problems(line), f"the reader let a contradiction through: {line}"


def test_a_slower_verdict_keeps_an_explanation_when_honest():
    # 1.07 is above 1, so "slower" is not a contradiction (only the writer's 10% rule would
    # call it "about the same"): the reader flags contradictions, not style.
    assert problems("→ a 10.5 ms vs b 9.8 ms: 1.07×, slower") == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_stored_verdict_agrees_with_its_numbers(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    text = "\n".join(output_text(cell.get("outputs", [])) for cell in cells)
    assert problems(text) == []


def _uses_verdicts(notebook):
    """Whether a notebook's code imports the course's verdict writer."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return any("verdicts" in "".join(cell["source"]) and "import" in "".join(cell["source"])
               for cell in cells if cell["cell_type"] == "code")


@pytest.mark.parametrize("notebook", [n for n in NOTEBOOKS  # solutions/ store no outputs
                                      if n.parent.name == "notebooks" and _uses_verdicts(n)],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_notebook_that_imports_verdicts_prints_them(notebook):
    """The stored-output test above passes trivially on a notebook without verdicts: one that
    imports the writer must show at least one verdict in its stored outputs."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    count = sum(len(verdict_lines(output_text(cell.get("outputs", [])))) for cell in cells)
    assert count > 0, f"{notebook.name} imports verdicts but prints none"
