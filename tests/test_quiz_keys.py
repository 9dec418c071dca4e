"""Every numeric quiz key accepts the figure its notebook states or prints.

A numeric question asks for a number the learner has seen computed (or can compute with what
the notebook taught). If the notebook's printed figure and the key drift apart (a table is
re-rounded, a constant changes, a question is reworded), a learner who types exactly what the
notebook printed is marked wrong. So every numeric question of the bank has one entry here:

* ``Printed(notebook, pattern)``: the notebook's stored outputs (``where="output"``) or its
  prose (``where="prose"``) contain ``pattern``, whose first group is the number; the key
  must accept that number exactly as printed (the quiz engine's own parser reads it);
* ``Worked(value, how)``: a transfer question whose figure no notebook prints; ``value`` is
  worked out here from the formula the notebook teaches (written out, never imported), and
  the key must accept it.

A new numeric question without an entry fails, and so does an entry whose question is gone.
To update after a notebook changes what it prints: fix the pattern (or the key), never the
tolerance alone. The patterns name what the line says, not a cell index, so moving cells
changes nothing.
"""

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest

from lora_tutorial.quiz import available_quizzes, load_quiz
from lora_tutorial.quiz.model import parse_number

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Printed:
    """The number is group 1 of ``pattern`` in the notebook's stored outputs or prose."""

    notebook: str
    pattern: str
    where: str = "output"


@dataclass(frozen=True)
class Worked:
    """A transfer question: the value, worked out from the formula the course teaches."""

    value: float
    how: str


NB01, NB02, NB03, NB04 = ("01_full_finetuning_and_freezing", "02_low_rank", "03_lora_layer",
                          "04_counting_parameters")
NB08, NB09 = "08_language_model", "09_beyond_lora"
NUMBER = r"(\d[\d,]*(?:\.\d+)?)"

KEYS = {
    # 01: full fine-tuning's memory
    "ft-bytes-per-param": Printed(NB01, r"\| fp32 \| 4 \| – \| 4 \| 8 \| " + NUMBER + r" B \|",
                                  where="prose"),
    "ft-memory-7b": Printed(NB01, r"LLaMA-2-7B at 16 B/parameter: " + NUMBER + r" GB"),
    "ft-weights-bf16": Printed(NB01, r"\| bf16 \| 2 \| " + NUMBER + r" GB \|"),
    "ft-frozen-optimizer-bytes": Worked(50_000 * 12, "Adam's two fp32 moments (8 B) plus the "
                                        "gradient (4 B) for each of the 50,000 trainable"),
    # 02: low rank
    "lr-product-rank": Worked(4, "rank(B·A) ≤ the inner dimension, 4"),
    "lr-factor-storage": Worked(1000 * 10 + 10 * 800, "1000×10 + 10×800 numbers"),
    "lr-truncation-error": Worked(math.sqrt(2 ** 2 + 1 ** 2), "Eckart–Young: √(2² + 1²)"),
    "lr-energy-kept": Worked(100 * (16 + 9) / 30, "(4² + 3²) / (4² + 3² + 2² + 1²)"),
    # 03: the LoRA layer
    "layer-scaling-value": Worked(16 / 8, "α/r = 16 / 8"),
    "layer-rslora-value": Worked(math.sqrt(64 / 4), "(α/r) shrinks √(64/4) times more than α/√r"),
    # 04: counting
    "count-1024": Worked(4 * (1024 + 1024), "r·(d + k)"),
    "count-4096": Printed(NB04, r"trainable: " + NUMBER + r"\s+frozen W0: 16,777,216"),
    "count-4096-percent": Printed(NB04, r"fraction of W0: " + NUMBER + r"%"),
    "count-gpt3": Printed(NB04, r"r = 8: trainable params: " + NUMBER + r" \|\| all params: 174,"),
    "count-llama": Printed(NB04, r"LLaMA-2-7B built on `meta` — it should give PEFT's " + NUMBER,
                           where="prose"),
    "count-adapter-size": Printed(NB04, r"\| 4,194,304 \| 0\.0622% \| 16\.78 MB \| " + NUMBER
                                        + r" MB \|"),
    # 05
    "cmp-checkpoint-ratio": Worked(50_000_000 / 200_000, "same bytes per parameter: the ratio "
                                   "of the counts"),
    # 06
    "merge-parameter-count": Worked(4096 * 4096, "a merged layer is a plain d×k weight"),
    # 07
    "peft-gpt2-count": Printed(NB04, r"GPT-2 small: [\d,]+ parameters; trainable params: " + NUMBER),
    # 08: the language model
    "lm-perplexity": Worked(math.exp(1.5), "perplexity = e^(loss in nats)"),
    "lm-optimizer-state-qv": Printed(NB08, r"AdamW keeps 2 fp32 moments .*\(" + NUMBER
                                           + r" B = 8 × "),
    "lm-all-linears-count": Worked(4 * (4 * 4 * (128 + 128) + 3 * 4 * (128 + 384)),
                                   "4 blocks × (4 attention + 3 MLP matrices) × r·(d + k)"),
    # 09: beyond LoRA
    "beyond-bits-block-128": Worked(4 + 32 / 128, "4-bit codes + one fp32 absmax per 128"),
    "beyond-dora-count": Worked(16 * (11008 + 4096) + 11008, "LoRA's r·(d + k) + one "
                                "magnitude per output"),
    # final: transfer questions
    "final-training-memory": Worked((1.3e9 * 4 + 6.5e6 * 16) / 1e9, "frozen 4 B, trainable 16 B"),
    "final-count": Worked(16 * (11008 + 4096), "r·(d + k)"),
    "final-budget": Worked(5_000_000 // (64 * 8192), "largest r with r · 64 · 8192 ≤ budget"),
    "final-svd-energy": Worked(3, "36 + 16 + 4 = 56 ≥ 0.9 · 58 > 52"),
    "final-lm-code-adapter-count": Worked(16 * (2048 + 2048) * 2 * 24, "r·(d + k) × 2 × 24"),
    "final-qlora-gigabytes": Worked(round(7e9 * 4.127 / 8 / 1e9, 1), "bits × weights / 8"),
}
"""Question id -> where its figure is printed, or how it is worked out."""


@cache
def notebook_text(name: str, where: str) -> str:
    """The stored outputs (or the prose) of a learner notebook, as one string.

    Quiz cells are left out: their static copy shows the key itself, which proves nothing."""
    cells = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
    if where == "prose":
        return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    parts = []
    for cell in cells:
        if cell["cell_type"] != "code" or "quiz.show" in "".join(cell["source"]):
            continue
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for kind in ("text/plain", "text/markdown"):
                parts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(parts)


@cache
def numeric_questions() -> dict:
    return {q.id: q for name in available_quizzes() for q in load_quiz(name).questions
            if q.type == "numeric"}


def test_every_numeric_question_has_an_entry_and_every_entry_a_question():
    questions = set(numeric_questions())
    assert sorted(questions - set(KEYS)) == [], "numeric questions without an entry in KEYS"
    assert sorted(set(KEYS) - questions) == [], "entries in KEYS whose question is gone"


@pytest.mark.parametrize("question_id", sorted(KEYS))
def test_key_accepts_the_figure_the_notebook_gives(question_id):
    question = numeric_questions()[question_id]
    entry = KEYS[question_id]
    if isinstance(entry, Printed):
        text = notebook_text(entry.notebook, entry.where)
        match = re.search(entry.pattern, text)
        assert match, (f"{question_id}: notebook {entry.notebook}'s {entry.where} no longer "
                       f"contains {entry.pattern!r}: update the entry or the question")
        printed = parse_number(match.group(1))
        assert question.check(printed), (
            f"{question_id}: the notebook prints {match.group(1)}, the key is "
            f"{question.answer} ± {question.tolerance}")
    else:
        value = Decimal(repr(entry.value))
        assert question.check(value), (
            f"{question_id}: {entry.how} gives {entry.value}, the key is "
            f"{question.answer} ± {question.tolerance}")
