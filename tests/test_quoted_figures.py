"""Every measured figure quoted away from the run that measured it agrees with its record.

The quiz bank, notebooks 10 and 11, the README's benchmark section and the instructor guide
quote measurements (a step-time ratio, a peak-memory ratio) and directions (faster, slower,
more memory). Each such quote has one source: a recorded results file,
``lora_tutorial/course/results/NAME.json``, written by the benchmark that measured it
(``lora_tutorial.course.results.record``). This test holds the texts to those files:

* ``QUOTES``: one entry per quote: where it is (a quiz question, a notebook's prose, a
  README section), the exact words, the figure it quotes (``"step_time:batch_64.step_ratio.
  lora_all_linears"``: the record's name, then the keys inside its ``figures``), the number
  as quoted and the rounding it states (``within``), and/or the direction it states
  (``"> 1"``: slower or more; ``"< 1"``: faster or less). A quote must still be in its
  place, and the record must agree with it.
* ``PRINTED``: figures quoted from a notebook's own printed output (not from a record): the
  words, and the pattern the notebook's stored outputs must still contain.
* the scan: every ``N×``, ``N ms`` or ``N of a full step`` in the scanned texts must lie
  inside a registered quote, so a new quote cannot slip in unchecked. A figure that is
  arithmetic rather than a measurement is written another way (``25 times``) or registered.

To add a record (e.g. ``language_model`` from notebook 08, ``variants`` from notebook 09):
add its quotes to ``QUOTES`` with ``figure="language_model:..."``; nothing else changes.
After re-running a benchmark, this test names every quote the new figures contradict.
"""

import json
import operator
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "lora_tutorial" / "course" / "results"


# --- the registry ------------------------------------------------------------------------

@dataclass(frozen=True)
class Quote:
    """A measured figure or direction quoted in ``place`` from a recorded results file."""

    place: str
    text: str
    figure: str
    value: float | None = None
    within: float = 0.0
    direction: str | None = None


@dataclass(frozen=True)
class Printed:
    """A figure quoted in ``place`` from what ``notebook`` prints (its stored outputs)."""

    place: str
    text: str
    notebook: str
    pattern: str


FINAL = "quizzes/final.yaml"
BANK05 = "quizzes/05_lora_vs_full_finetuning.yaml"
BANK08 = "quizzes/08_language_model.yaml"
LM = "language_model:"
NB11 = "solutions/11_final_assessment.ipynb"
README = "README.md#Benchmarks"
INSTRUCTOR = "docs/instructor.md"
ST = "step_time:"

README_TABLE = [
    ("LoRA q,v: train step", "step_ratio.lora_qv", "0.882", "0.774"),
    ("LoRA on all block linears: train step", "step_ratio.lora_all_linears", "1.371",
     "1.183"),
    ("head only: train step", "step_ratio.head_only", "0.391", "0.340"),
    ("LoRA q,v: peak memory of a step", "peak_memory_ratio.lora_qv", "0.714", "0.704"),
    ("LoRA on all block linears: peak memory of a step",
     "peak_memory_ratio.lora_all_linears", "1.089", "1.076"),
    ("head only: peak memory of a step", "peak_memory_ratio.head_only", "0.217", "0.214"),
    ("LoRA q,v merged: inference", "inference_ratio.merged", "0.995", "0.968"),
]
"""The README's step-time table: (row, figure in the record, batch 1024, batch 64)."""

QUOTES = [
    # --- quiz bank: notebook 08's lm-own-learning-rate (the tuned rates of the recorded sweep)
    Quote(f"{BANK08}#lm-own-learning-rate", "q,v and up,down chose 0.01 (10× full",
          LM + "methods.LoRA q,v (r=8).tuned_lr", 0.01),
    Quote(f"{BANK08}#lm-own-learning-rate", "q,v and up,down chose 0.01 (10× full",
          LM + "methods.LoRA up,down (r=4).tuned_lr", 0.01),
    Quote(f"{BANK08}#lm-own-learning-rate", "fine-tuning's 0.001)",
          LM + "methods.full fine-tuning.tuned_lr", 0.001),
    Quote(f"{BANK08}#lm-own-learning-rate", "all linears chose 0.003",
          LM + "methods.LoRA all linears (r=8).tuned_lr", 0.003),
    Quote(f"{BANK08}#lm-own-learning-rate", "head/embedding 0.003",
          LM + "methods.head/embedding only.tuned_lr", 0.003),
    # --- quiz bank: notebook 05's cmp-step-time-floor (batch 64, one thread, as in 05 §4)
    Quote(f"{BANK05}#cmp-step-time-floor", "LoRA on every block linear took about 1.2× a full "
          "fine-tuning step", ST + "batch_64.step_ratio.lora_all_linears", 1.2, 0.05, "> 1"),
    Quote(f"{BANK05}#cmp-step-time-floor", "LoRA on q and v (r = 8) about 0.8×",
          ST + "batch_64.step_ratio.lora_qv", 0.8, 0.05, "< 1"),
    Quote(f"{BANK05}#cmp-step-time-floor", "training only the head about a third",
          ST + "batch_64.step_ratio.head_only", 1 / 3, 0.05),
    Quote(f"{BANK05}#cmp-step-time-floor", "LoRA on every block linear peaked a little above "
          "full fine-tuning", ST + "batch_64.peak_memory_ratio.lora_all_linears", 1.1, 0.1,
          "> 1"),
    # --- the final check
    Quote(f"{FINAL}#final-why-faster", "timed this at about 1.2× a full step at notebook 05's "
          "batch of 64", ST + "batch_64.step_ratio.lora_all_linears", 1.2, 0.05, "> 1"),
    Quote(f"{FINAL}#final-why-faster", "and about 1.4× at a batch of 1024",
          ST + "batch_1024.step_ratio.lora_all_linears", 1.4, 0.05, "> 1"),
    Quote(f"{FINAL}#final-summary", "the recorded benchmark found a step slower than a full "
          "one at batches of 64", ST + "batch_64.step_ratio.lora_all_linears", direction="> 1"),
    Quote(f"{FINAL}#final-summary", "slower than a full one at batches of 64 and 1024",
          ST + "batch_1024.step_ratio.lora_all_linears", direction="> 1"),
    # --- notebook 11: idea 5 (the figures themselves are printed from the record)
    Quote(NB11, "LoRA on every block linear needed a little more peak memory than full "
          "fine-tuning", ST + "batch_64.peak_memory_ratio.lora_all_linears", direction="> 1"),
    # --- README, benchmark section: the table (batch 1024 | batch 64), three decimals
    *[Quote(README, f"| {row} | {a} | {b} |", ST + f"batch_{batch}.{key}", float(value), 0.0005)
      for row, key, a, b in README_TABLE for batch, value in ((1024, a), (64, b))],
    Quote(README, "| LoRA q,v: optimizer-state bytes | 0.0404 | 0.0404 |",
          ST + "batch_64.optimizer_state_ratio.lora_qv", 0.0404, 0.00005),
    Quote(README, "LoRA on every block linear is slower than full fine-tuning",
          ST + "batch_64.step_ratio.lora_all_linears", direction="> 1"),
    Quote(README, "LoRA on every block linear is slower than full fine-tuning",
          ST + "batch_1024.step_ratio.lora_all_linears", direction="> 1"),
    Quote(README, "no LoRA step reaches the 2/3 floor", ST + "batch_1024.step_ratio.lora_qv",
          direction="> 0.667"),
    Quote(README, "(4% of the optimizer state here, for q,v)",
          ST + "batch_1024.optimizer_state_ratio.lora_qv", 0.04, 0.005),
    Quote(README, "with LoRA on every block linear the peak was a little above full "
          "fine-tuning's", ST + "batch_1024.peak_memory_ratio.lora_all_linears", 1.1, 0.1,
          "> 1"),
    # --- instructor guide
    Quote(INSTRUCTOR, "LoRA on every block linear of this tiny model took longer than a full "
          "step at batches of 64 and 1024", ST + "batch_64.step_ratio.lora_all_linears",
          direction="> 1"),
    Quote(INSTRUCTOR, "LoRA on every block linear of this tiny model took longer than a full "
          "step at batches of 64 and 1024", ST + "batch_1024.step_ratio.lora_all_linears",
          direction="> 1"),
]
"""Quotes of a recorded figure. Add ``language_model:`` (notebook 08) and ``variants:``
(notebook 09) quotes here the same way."""

NB05 = "notebooks/05_lora_vs_full_finetuning.ipynb"
PRINTED = [
    # notebook 05 §10 prints, per layer, ‖ΔW‖ / ‖W0‖ for full fine-tuning and LoRA, and their
    # ratio: "| blocks.0.attn.q_proj | 0.1 | 1.0 | 7× | 1.0 | 0.4 |"
    Printed(f"{BANK05}#cmp-delta-w-spectrum", "ΔW was 7–10× larger than full fine-tuning's",
            NB05, r"\| 7× \|[\s\S]*\| 10× \|"),
    Printed(f"{BANK05}#cmp-delta-w-norm", "LoRA's ΔW had a norm of 0.7–1.1× ‖W0‖", NB05,
            r"^(?=[\s\S]*\| 0\.1 \| 0\.7 \|)(?=[\s\S]*\| 0\.1 \| 1\.1 \|)"),
    Printed(f"{BANK05}#cmp-delta-w-norm", "full fine-tuning's about 0.1× ‖W0‖", NB05,
            r"\| blocks\.0\.attn\.q_proj \| 0\.1 \|"),
    Printed(f"{BANK05}#cmp-delta-w-norm", "a norm of at most about 0.1× ‖W0‖", NB05,
            r"\| blocks\.0\.attn\.q_proj \| 0\.1 \|"),
    Printed(f"{BANK05}#cmp-delta-w-norm", "the full update's (about 0.1× ‖W0‖)", NB05,
            r"\| blocks\.0\.attn\.q_proj \| 0\.1 \|"),
]
"""Quotes of a figure a notebook prints (no record): the pattern its stored outputs hold."""

SCANNED = ([f"quizzes/{path.name}" for path in sorted((ROOT / "quizzes").glob("*.yaml"))]
           + ["solutions/10_serving_adapters.ipynb", NB11, README, INSTRUCTOR])
"""The texts in which every figure must be registered (a bank file stands for all its
questions)."""

FIGURE = re.compile(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?(?:×(?![\w(])|\s?ms\b)"
                    r"|(?<![\w.,])\d+\.\d+ of (?:a |the )?full\b")
"""What a quoted measurement looks like: ``1.1×``, ``9.8 ms``, ``0.83 of a full step``
(``128×128``, ``2 × 4`` and ``×4096`` are shapes and products, not quotes)."""


# --- reading the texts and the records -----------------------------------------------------

def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in strings(value)]
    return []


@cache
def place_text(place: str) -> str:
    """The text of a place: a quiz question (``file.yaml#id``) or a whole bank file, a
    notebook's prose (markdown cells), a Markdown section (``file.md#Heading``) or file."""
    path, _, part = place.partition("#")
    raw = (ROOT / path).read_text(encoding="utf-8")
    if path.endswith(".yaml"):
        questions = yaml.safe_load(raw)["questions"]
        if part:
            questions = [q for q in questions if q["id"] == part]
            assert questions, f"no question {part!r} in {path}"
        return collapse(" ".join(s for q in questions for s in strings(q)))
    if path.endswith(".ipynb"):
        cells = json.loads(raw)["cells"]
        return collapse(" ".join("".join(c["source"]) for c in cells
                                 if c["cell_type"] == "markdown"))
    if part:
        match = re.search(rf"^## {re.escape(part)}\n(.*?)(?=^## |\Z)", raw, re.M | re.S)
        assert match, f"no section '## {part}' in {path}"
        raw = match.group(1)
    return collapse(raw)


@cache
def record(name: str) -> dict:
    path = RECORDS / f"{name}.json"
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: run the benchmark that writes it"
    return json.loads(path.read_text(encoding="utf-8"))


def recorded(figure: str) -> float:
    name, _, keys = figure.partition(":")
    value = record(name)["figures"]
    for key in keys.split("."):
        value = value[key]
    return float(value)


@cache
def stored_outputs(notebook: str) -> str:
    cells = json.loads((ROOT / notebook).read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/markdown", ""))
                     for c in cells if c["cell_type"] == "code" for o in c.get("outputs", []))


COMPARE = {">": operator.gt, "<": operator.lt}


def holds(direction: str, value: float) -> bool:
    op, bound = direction.split()
    return COMPARE[op](value, float(bound))


# --- the tests ------------------------------------------------------------------------------

def quote_id(quote) -> str:
    return f"{quote.place}: {quote.text[:40]}"


@pytest.mark.parametrize("quote", QUOTES, ids=quote_id)
def test_quote_is_in_its_place_and_agrees_with_the_record(quote):
    assert collapse(quote.text) in place_text(quote.place), (
        f"{quote.place} no longer says {quote.text!r}: update QUOTES with what it says now")
    assert quote.value is not None or quote.direction, "a quote states a value or a direction"
    measured = recorded(quote.figure)
    if quote.value is not None:
        assert abs(quote.value - measured) <= quote.within + 1e-9, (
            f"{quote.place} says {quote.value} (± {quote.within}), the record "
            f"{quote.figure} says {measured}")
    if quote.direction:
        assert holds(quote.direction, measured), (
            f"{quote.place} says {quote.figure} {quote.direction}, the record says {measured}")


@pytest.mark.parametrize("quote", PRINTED, ids=quote_id)
def test_quote_of_a_notebook_is_in_its_place_and_still_printed(quote):
    assert collapse(quote.text) in place_text(quote.place), (
        f"{quote.place} no longer says {quote.text!r}: update PRINTED with what it says now")
    assert re.search(quote.pattern, stored_outputs(quote.notebook)), (
        f"{quote.notebook}'s stored outputs no longer print {quote.pattern!r}, which "
        f"{quote.place} quotes")


def unregistered(place: str) -> list[str]:
    """The figures in ``place`` that lie inside no registered quote of that place."""
    text = place_text(place)
    path = place.partition("#")[0]
    covered = []
    for quote in [*QUOTES, *PRINTED]:
        if quote.place == place or quote.place.partition("#")[0] == path:
            words = collapse(quote.text)
            covered += [(m.start(), m.end()) for m in re.finditer(re.escape(words), text)]
    return [text[max(0, m.start() - 40):m.end() + 20] for m in FIGURE.finditer(text)
            if not any(start <= m.start() and m.end() <= end for start, end in covered)]


@pytest.mark.parametrize("place", SCANNED)
def test_every_quoted_figure_is_registered(place):
    assert unregistered(place) == [], (
        "a figure that no entry of QUOTES or PRINTED checks: quote it from a record (and "
        "register it) or say it without a measured number")


def test_every_record_states_its_conditions():
    for path in sorted(RECORDS.glob("*.json")):
        data = record(path.stem)
        assert data["conditions"].get("command", "").startswith("python "), path.name
        assert data["machine"] and data["minutes"] >= 0, path.name


def test_the_scan_catches_a_new_figure_and_ignores_shapes():
    """The scan's own check: what counts as a quoted measurement."""
    found = [m.group(0) for m in FIGURE.finditer(
        "about 1.1× a full step, 9.8 ms, 0.83 of a full step; 128×128, 2 × 4, (r×768), 25 "
        "times, 4096×r")]
    assert found == ["1.1×", "9.8 ms", "0.83 of a full"]
