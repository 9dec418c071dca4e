"""Item analysis: first-try share, discrimination (corrected item-total point-biserial),
wrong answers chosen first, flags, scores per learner, the CSVs and the chart, on a synthetic
class of six whose statistics are worked out by hand here."""

import csv
import json
import math
import subprocess
import sys

import pytest

from lora_tutorial.quiz import item_analysis, load_quiz
from lora_tutorial.quiz.analysis import (NOT_DISCRIMINATING, WRONG_BEATS_KEY, csv_safe,
                                         point_biserial)
from lora_tutorial.quiz.model import option_letter

QUIZ = "final"
Q1, Q2, Q3, Q4 = "final-summary", "final-shapes", "final-training-memory", "final-frozen-parameter"
NAMES = ["Ana", "Ben", "Caro", "Dan", "@Eve", "=HYPERLINK(\"http://x\")\x1b[2J"]
# First try right (1) or wrong (0), per learner, on Q1..Q4: Q4 everyone right.
RIGHT = {Q1: [1, 1, 1, 0, 0, 0], Q2: [0, 0, 1, 1, 0, 0], Q3: [1, 0, 1, 0, 0, 1],
         Q4: [1, 1, 1, 1, 1, 1]}
# The wrong first choice (display position, or the number typed) of those who were wrong.
WRONG_PICK = {Q1: {3: 0, 4: 0, 5: 3}, Q2: {0: 0, 1: 0, 4: 0, 5: 1}, Q3: {1: "241,000",
                                                                      3: "241,000", 4: "7"}}


def options(qid):
    (question,) = load_quiz(QUIZ, ids=[qid]).questions
    return question


def record(qid, learner):
    """Learner ``learner``'s record of ``qid``: the first attempt as planned; a learner wrong
    on Q2 tries again and gets it right (only the first try may count)."""
    question = options(qid)
    if question.type == "numeric":
        right_text = str(question.answer)
    else:
        (key,) = question.correct_indices
        right_text = [question.options[key].text]
    if RIGHT[qid][learner]:
        answers = [{"chosen": right_text, "correct": True}]
    else:
        pick = WRONG_PICK[qid][learner]
        chosen = pick if isinstance(pick, str) else [question.options[pick].text]
        answers = [{"chosen": chosen, "correct": False}]
        if qid == Q2:
            answers.append({"chosen": right_text, "correct": True})
    return {"attempts": len(answers), "first_try_correct": bool(RIGHT[qid][learner]),
            "correct": answers[-1]["correct"], "answers": answers}


@pytest.fixture
def six(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for i, name in enumerate(NAMES):
        quizzes = {QUIZ: {"title": "Final", "questions": {q: record(q, i) for q in RIGHT}}}
        (folder / f"learner{i}.json").write_text(json.dumps(
            {"format": "lora_tutorial.answers", "version": 2, "learner": name,
             "quizzes": quizzes}), encoding="utf-8")
    return folder


def by_hand(item, rest):
    """The point-biserial correlation as textbooks write it:
    (mean rest of those right - mean rest of those wrong) / SD(rest) * sqrt(p * q)."""
    n = len(item)
    right = [r for i, r in zip(item, rest) if i]
    wrong = [r for i, r in zip(item, rest) if not i]
    mean = sum(rest) / n
    sd = math.sqrt(sum((r - mean) ** 2 for r in rest) / n)
    p = len(right) / n
    return (sum(right) / len(right) - sum(wrong) / len(wrong)) / sd * math.sqrt(p * (1 - p))


def test_statistics_of_a_class_of_six_match_the_hand_computation(six):
    analysis = item_analysis(six)
    items = {item.question_id: item for item in analysis.items}
    assert [item.question_id for item in analysis.items] == sorted(
        RIGHT, key=[q.id for q in load_quiz(QUIZ).questions].index)
    totals = [sum(RIGHT[q][i] for q in RIGHT) for i in range(6)]
    assert totals == [3, 2, 4, 2, 1, 2]
    for qid in (Q1, Q2, Q3):
        rest = [total - mark for total, mark in zip(totals, RIGHT[qid])]
        assert items[qid].discrimination == pytest.approx(by_hand(RIGHT[qid], rest))
        assert items[qid].answered == 6 and items[qid].first_try_correct == sum(RIGHT[qid])
    assert items[Q1].discrimination == pytest.approx(0.2425, abs=1e-4)  # (1/3)/sqrt(17/36)/2
    assert items[Q2].discrimination == pytest.approx(0.0)  # rest means 2 and 2
    assert items[Q4].discrimination is None  # everyone right: no spread, no index
    assert items[Q4].first_try_percent == 100


def test_wrong_first_choices_and_flags(six):
    items = {item.question_id: item for item in item_analysis(six).items}
    q2 = options(Q2)
    letter = {i: f"{option_letter(i)}. {q2.options[i].text}" for i in range(4)}
    assert dict(items[Q2].wrong) == {letter[0]: 3, letter[1]: 1, letter[3]: 0}
    assert items[Q2].wrong[0] == (letter[0], 3)  # most chosen first
    assert dict(items[Q3].wrong) == {"241,000": 2, "7": 1}
    assert items[Q2].flags == (NOT_DISCRIMINATING, WRONG_BEATS_KEY)  # 0.0 < 0.2; 3 > 2
    assert items[Q1].flags == items[Q3].flags == items[Q4].flags == ()


def test_too_few_learners_are_not_flagged_for_discrimination(six):
    for extra in ("learner4.json", "learner5.json"):
        (six / extra).unlink()
    items = {item.question_id: item for item in item_analysis(six).items}
    assert items[Q2].discrimination is not None and items[Q2].discrimination < 0.2
    assert NOT_DISCRIMINATING not in items[Q2].flags


def test_point_biserial_is_undefined_without_spread():
    assert point_biserial([1, 1, 1], [0, 1, 2]) is None
    assert point_biserial([0, 1, 1], [2, 2, 2]) is None
    assert point_biserial([1], [3]) is None
    assert point_biserial([0, 1], [0, 5]) == pytest.approx(1.0)


def test_gradebook_and_items_csv_are_importable_and_injection_safe(six, tmp_path):
    analysis = item_analysis(six)
    size = len(load_quiz(QUIZ).questions)
    with open(analysis.write_gradebook(tmp_path / "grades.csv"), newline="",
              encoding="utf-8") as handle:
        grades = list(csv.reader(handle))
    assert grades[0] == ["learner", f"final (out of {size})"]
    assert [row[1] for row in grades[1:]] == ["3", "2", "4", "2", "1", "2"]
    assert [row[0] for row in grades[1:5]] == ["Ana", "Ben", "Caro", "Dan"]
    assert grades[5][0] == "'@Eve" and grades[6][0].startswith("'=HYPERLINK")
    with open(analysis.write_items(tmp_path / "items.csv"), newline="",
              encoding="utf-8") as handle:
        items = {row["question"]: row for row in csv.DictReader(handle)}
    assert items[Q4]["discrimination"] == ""  # undefined: an empty cell, never NaN
    assert items[Q1]["discrimination"] == "0.24" and items[Q2]["discrimination"] == "0.00"
    assert items[Q2]["first_try_correct_percent"] == "33.3"
    assert items[Q2]["flags"] == f"{NOT_DISCRIMINATING}; {WRONG_BEATS_KEY}"
    text = (tmp_path / "items.csv").read_text(encoding="utf-8").lower()
    assert "nan" not in text and "none" not in text
    assert csv_safe("-1+2") == "'-1+2" and csv_safe("\tx") == "'\tx" and csv_safe("ok") == "ok"


def test_table_shows_learners_text_without_obeying_it(six):
    text = str(item_analysis(six))
    assert "\x1b" not in text and "\\x1b[2J" in text
    assert "| final | final-frozen-parameter | 6 | 100% | n/a |" in text


def test_chart_is_titled_labelled_and_readable_without_colour(six, tmp_path):
    analysis = item_analysis(six)
    figure = analysis.figure()
    share, index = figure.axes
    assert figure.get_suptitle() and share.get_title() and index.get_title()
    assert share.get_xlabel() and share.get_ylabel() and index.get_xlabel()
    hatches = {bar.get_hatch() for bar in share.patches}
    assert len(hatches) == 2  # flagged and plain bars differ by hatching, not colour alone
    markers = {line.get_marker() for line in index.lines if line.get_marker() != "None"}
    assert markers == {"o", "^"}
    assert any(t.get_text() == "n/a" for t in index.texts)  # the undefined index is said
    assert analysis.plot(tmp_path / "items.png").read_bytes()[:4] == b"\x89PNG"


def test_analysis_command_writes_the_three_files(six, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "lora_tutorial.quiz", "analysis", str(six), "--items",
         str(tmp_path / "i.csv"), "--gradebook", str(tmp_path / "g.csv"), "--chart",
         str(tmp_path / "c.png")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Item analysis of 6 learner(s)" in result.stdout and "\x1b" not in result.stdout
    assert all((tmp_path / name).exists() for name in ("i.csv", "g.csv", "c.png"))
    bad = subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", "analysis", str(six),
                          "--gradebook", str(tmp_path / "no" / "g.csv")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "Cannot write" in bad.stderr and "Traceback" not in bad.stderr


def test_question_ids_and_typed_answers_from_files_are_shown_not_obeyed(tmp_path):
    answers = [{"chosen": "=1+1\x1b]0;pwned\x07", "correct": False}]
    quizzes = {QUIZ: {"title": "T", "questions": {"q\x1b[2J": {
        "attempts": 1, "first_try_correct": False, "correct": False, "answers": answers}}}}
    (tmp_path / "eve.json").write_text(json.dumps({"format": "lora_tutorial.answers",
                                                   "version": 2, "quizzes": quizzes}))
    analysis = item_analysis(tmp_path)
    text = str(analysis) + analysis._repr_html_()
    assert "\x1b" not in text and "\x07" not in text and "q\\x1b[2J" in text
    with open(analysis.write_items(tmp_path / "items.csv"), newline="") as handle:
        (row,) = csv.DictReader(handle)
    assert row["wrong_answers"].startswith("'=1+1")
