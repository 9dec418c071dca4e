"""The lint's length figures: how often the correct option is among the two longest, or strictly
the longest. Computed right on a small bank whose figures are known by construction, warned
about (not failed) past the limits, printed by ``validate``, and kept by the shipped bank."""

import dataclasses
import itertools

import pytest

from lora_tutorial.quiz import available_quizzes, load_quiz
from lora_tutorial.quiz.__main__ import main
from lora_tutorial.quiz.lint import (MAX_LONGEST_SHARE, MAX_TOP_TWO_SHARE, bank_length_figures,
                                     length_figures, validate)
from lora_tutorial.quiz.loader import display_order

# Option lengths (right, wrong, wrong, wrong) of each kind of question, and what each counts as:
# (among the two longest, strictly the longest).
KINDS = {
    "longest": ((12, 10, 9, 8), (True, True)),
    "second": ((10, 12, 9, 8), (True, False)),
    "tied": ((10, 10, 10, 8), (True, False)),   # two options as long: a guesser can't tell
    "third": ((9, 12, 10, 8), (False, False)),
    "shortest": ((8, 12, 10, 9), (False, False)),
}


def ids_shown_at(position, n, taken=()):
    """n fresh ids whose correct option (authored first of four) is shown at ``position``."""
    found = (f"k{i}" for i in itertools.count()
             if f"k{i}" not in taken
             and display_order(f"k{i}", [True, False, False, False])[position] == 0)
    return [next(found) for _ in range(n)]


def synthetic_bank(tmp_path, kinds):
    """A quiz file with one single-answer question per entry of ``kinds``, correct options
    spread evenly over the four positions, no two questions alike; its path and the ids."""
    ids = []
    for position in range(4):
        ids += ids_shown_at(position, -(-len(kinds) // 4), taken=ids)
    ids = [ids[i // 4 + (i % 4) * -(-len(kinds) // 4)] for i in range(len(kinds))]
    lines = ["title: Synthetic", "questions:"]
    for number, (qid, kind) in enumerate(zip(ids, kinds)):
        lengths, _ = KINDS[kind]
        lines += [f"  - id: {qid}", "    type: single",
                  f"    question: Topic{number} word{number}a word{number}b word{number}c?",
                  "    hint: Think.", "    options:"]
        for letter, length in zip("RWXY", lengths):
            text = (letter + str(number) + "-" * length)[:length]
            lines.append(f'      - {{text: "{text}", correct: {str(letter == "R").lower()}, '
                         f'feedback: "Because {letter}."}}')
        lines.append("    explanation: Because.")
    path = tmp_path / "synthetic.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, ids


def expected(kinds, ids):
    top_two = tuple(i for i, k in zip(ids, kinds) if KINDS[k][1][0])
    longest = tuple(i for i, k in zip(ids, kinds) if KINDS[k][1][1])
    return top_two, longest


@pytest.mark.parametrize("counts", [
    {"longest": 2, "second": 3, "tied": 1, "third": 2, "shortest": 2},
    {"longest": 5, "second": 7, "tied": 0, "third": 4, "shortest": 4},
])
def test_figures_on_a_bank_with_known_figures(tmp_path, counts):
    kinds = [kind for kind, n in counts.items() for _ in range(n)]
    path, ids = synthetic_bank(tmp_path, kinds)
    figures = bank_length_figures([path])
    top_two, longest = expected(kinds, ids)
    assert (figures.questions, figures.top_two, figures.longest) == (len(kinds), top_two, longest)
    assert figures.top_two_share == pytest.approx(len(top_two) / len(kinds))
    assert figures.longest_share == pytest.approx(len(longest) / len(kinds))
    assert length_figures([load_quiz(path)]) == figures


def test_warnings_only_past_the_limits(tmp_path):
    # 20 questions: 12 among the two longest (60%, the limit) and 5 strictly longest (25%).
    at_limits = ["longest"] * 5 + ["second"] * 5 + ["tied"] * 2 + ["third"] * 4 + ["shortest"] * 4
    path, _ = synthetic_bank(tmp_path, at_limits)
    figures = bank_length_figures([path])
    assert (len(figures.top_two), len(figures.longest)) == (12, 5)
    assert figures.warnings() == []
    # One more question past each limit: 13 of 20 (65%) and 6 of 20 (30%).
    past = ["longest"] * 6 + ["second"] * 5 + ["tied"] * 2 + ["third"] * 3 + ["shortest"] * 4
    path, ids = synthetic_bank(tmp_path, past)
    top_two_warning, longest_warning = bank_length_figures([path]).warnings()
    assert "among the two longest in 13 of 20 single-answer questions (65%, at most 60%)" \
        in top_two_warning
    assert "strictly the longest in 6 of 20 single-answer questions (30%, at most 25%)" \
        in longest_warning
    assert all(qid in longest_warning for qid in expected(past, ids)[1])


def test_a_small_bank_is_not_judged_by_shares(tmp_path):
    path, _ = synthetic_bank(tmp_path, ["longest"] * 19)
    figures = bank_length_figures([path])
    assert figures.longest_share == 1 and figures.warnings() == []


def test_validate_prints_the_figures_and_warns_without_failing(tmp_path, capsys):
    kinds = ["longest"] * 6 + ["second"] * 8 + ["third"] * 3 + ["shortest"] * 3
    path, _ = synthetic_bank(tmp_path, kinds)
    assert validate([path]) == []
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert ("length: the correct option is among the two longest in 14 of 20 single-answer "
            "questions (70%, at most 60%) and strictly the longest in 6 (30%, at most 25%)"
            in captured.out)
    assert "All quiz files are valid." in captured.out
    assert captured.err.count("warning: length give-away") == 2


def test_the_shipped_bank_stays_within_the_limits():
    figures = bank_length_figures()
    assert figures.questions >= 60
    assert figures.top_two_share <= MAX_TOP_TWO_SHARE, figures
    assert figures.longest_share <= MAX_LONGEST_SHARE, figures
    assert figures.warnings() == []


def test_padding_the_shipped_keys_would_be_caught():
    """What the test above guards against: make every right option a few words longer."""
    def padded(question):
        options = tuple(dataclasses.replace(o, text=o.text + " in every case") if o.correct
                        else o for o in question.options)
        return dataclasses.replace(question, options=options)

    quizzes = [load_quiz(name) for name in available_quizzes()]
    padded_bank = [dataclasses.replace(q, questions=tuple(map(padded, q.questions)))
                   for q in quizzes]
    assert len(length_figures(padded_bank).warnings()) == 2
