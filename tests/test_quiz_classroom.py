"""The instructor's summary of a folder of learners' answer files: per question how many
answered, first-try correct %, the most chosen wrong option; a table and a PNG chart."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lora_tutorial.quiz import QuizError, class_summary, export_answers, load_quiz
from lora_tutorial.quiz.model import option_letter
from lora_tutorial.quiz.progress import record_answer, reset_progress


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", *args],
                          capture_output=True, text=True, timeout=300, **kwargs)


def question(qid, quiz="final"):
    (found,) = load_quiz(quiz, ids=[qid]).questions
    return found


def answer(qid, positions, quiz="final"):
    """Record a choice by display positions, as the widget does."""
    q = question(qid, quiz)
    chosen = [q.options[i].text for i in sorted(positions)]
    record_answer(quiz, "T", qid, q.check(set(positions)), chosen)


def wrongs(qid):
    q = question(qid)
    return [i for i in range(len(q.options)) if i not in q.correct_indices]


@pytest.fixture
def classroom(private_progress, tmp_path):
    """Three learners' answer files in a folder, plus one file that is not an answer file."""
    folder = tmp_path / "answers"
    folder.mkdir()
    right = sorted(question("final-summary").correct_indices)
    popular, other = wrongs("final-summary")[:2]
    plans = {
        "ana": [("final-summary", [popular]), ("final-summary", right)],
        "ben": [("final-summary", [popular]), ("final-summary", [other]),
                ("final-summary", right)],
        "caro": [("final-summary", right), ("final-init", wrongs("final-init")[:1])],
    }
    for name, answers in plans.items():
        reset_progress()
        for qid, positions in answers:
            answer(qid, positions)
        record_answer("final", "T", "final-count", False, "241,000")
        export_answers(folder / f"{name}.json", name=name.title())
    (folder / "notes.json").write_text('{"hello": 1}')
    (folder / "broken.json").write_text("{")
    return folder, popular


def test_summary_counts_answers_first_tries_and_the_most_chosen_wrong_option(classroom):
    folder, popular = classroom
    summary = class_summary(folder)
    assert summary.learners == ["Ana", "Ben", "Caro"]
    rows = {row.question_id: row for row in summary.rows}
    row = rows["final-summary"]
    assert (row.answered, row.first_try_correct) == (3, 1)
    assert round(row.first_try_percent) == 33
    text = question("final-summary").options[popular].text
    assert row.top_wrong == f"{option_letter(popular)}. {text}" and row.top_wrong_count == 2
    assert rows["final-init"].answered == 1 and rows["final-init"].top_wrong_count == 1
    assert rows["final-count"].top_wrong == "241,000" and rows["final-count"].top_wrong_count == 3
    ids = [q.id for q in load_quiz("final").questions]
    assert [r.question_id for r in summary.rows] == sorted(rows, key=ids.index)
    assert len(summary.skipped) == 2 and any("broken.json" in s for s in summary.skipped)


def test_right_options_ticked_in_a_wrong_multiple_answer_are_not_misconceptions(
        private_progress, tmp_path):
    q = question("final-init")
    some_right = sorted(q.correct_indices)[:1]
    answer("final-init", some_right)
    export_answers(tmp_path / "dan.json")
    (row,) = class_summary(tmp_path).rows
    assert row.first_try_correct == 0 and row.top_wrong is None


def test_table_and_chart(classroom, tmp_path):
    folder, _ = classroom
    summary = class_summary(folder)
    table = str(summary)
    assert "| Quiz | Question | Answered | First try correct | Most chosen wrong answer |" in table
    assert "| final | final-summary | 3 | 33% |" in table
    assert summary._repr_html_().count("<tr>") == len(summary.rows) + 1
    png = summary.plot(tmp_path / "chart.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_class_command_prints_the_table_and_writes_the_chart(classroom, tmp_path):
    folder, _ = classroom
    chart = tmp_path / "class.png"
    result = cli("class", str(folder), "--chart", str(chart))
    assert result.returncode == 0, result.stderr
    assert "3 learner(s): Ana, Ben, Caro" in result.stdout and "final-summary" in result.stdout
    assert chart.read_bytes()[:4] == b"\x89PNG"
    bad = cli("class", str(tmp_path / "nowhere"))
    assert bad.returncode == 1 and "is not a folder" in bad.stderr
    unwritable = cli("class", str(folder), "--chart", str(tmp_path / "no" / "x.png"))
    assert unwritable.returncode == 1 and "Traceback" not in unwritable.stderr


def test_a_folder_without_answer_files_is_an_error(tmp_path):
    with pytest.raises(QuizError, match="No answer files"):
        class_summary(tmp_path)


def test_matplotlib_is_imported_only_for_the_chart():
    code = ("import sys, lora_tutorial.quiz.classroom\n"
            "print('matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


# --- what learners hand in is shown, never obeyed --------------------------------------------

def answer_file(folder, name, quizzes, learner="Eve"):
    path = folder / name
    path.write_text(json.dumps({"format": "lora_tutorial.answers", "version": 2,
                                "learner": learner, "quizzes": quizzes}), encoding="utf-8")
    return path


def one_answer(chosen="C", correct=False, title="T"):
    return {"title": title, "questions": {"q1": {
        "attempts": 1, "first_try_correct": correct, "correct": correct,
        "answers": [{"chosen": chosen, "correct": correct}]}}}


def test_a_quiz_named_by_a_path_is_skipped_and_never_read(tmp_path, monkeypatch):
    import lora_tutorial.quiz.loader as loader

    secret = tmp_path / "secret.yaml"
    secret.write_text("title: Secret\nquestions: []\n")
    folder = tmp_path / "answers"
    folder.mkdir()
    answer_file(folder, "eve.json", {str(secret.with_suffix("")): one_answer(),
                                     str(secret): one_answer(),
                                     "../secret": one_answer(), "final": one_answer()})
    read = []
    real = loader.read_quiz
    monkeypatch.setattr(loader, "read_quiz", lambda path: read.append(path) or real(path))
    summary = class_summary(folder)
    assert secret not in read and all(path.parent.name == "quizzes" for path in read)
    assert [row.quiz for row in summary.rows] == ["final"]
    assert sum("not the name of a quiz in the bank" in item for item in summary.skipped) == 3


def test_control_characters_from_learners_never_reach_the_terminal(tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    answer_file(folder, "eve.json", {"final": one_answer(chosen="\x1b[2J\x07")},
                learner="Eve\x1b]0;pwned\x07\r\x9b")
    (folder / "bad\x1b[31m.json").write_text("{")
    summary = class_summary(folder)
    for text in (str(summary), cli("class", str(folder), "--chart",
                                   str(tmp_path / "c.png")).stdout):
        assert not any(ord(c) < 32 and c != "\n" or 0x7f <= ord(c) <= 0x9f for c in text)
        assert "Eve\\x1b]0;pwned\\x07\\r\\x9b" in text and "\\x1b[2J" in text
        assert "bad\\x1b[31m.json" in text


def test_a_formula_breaking_answer_is_drawn_as_text(tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    answer_file(folder, "eve.json", {"final": one_answer(chosen="$\\frac{$")},
                learner="$x^$")
    result = cli("class", str(folder), "--chart", str(tmp_path / "chart.png"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_deeply_nested_json_is_skipped_with_a_note(tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    summary = class_summary(folder)
    assert any("deep.json" in item and "nested too deeply" in item for item in summary.skipped)
    result = cli("class", str(folder))
    assert result.returncode == 0 and "Traceback" not in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_in_the_answers_folder_is_skipped_not_read(tmp_path):
    folder = tmp_path / "answers"
    folder.mkdir()
    os.mkfifo(folder / "pipe.json")
    answer_file(folder, "eve.json", {"final": one_answer()})
    result = subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", "class", str(folder),
                             "--chart", str(tmp_path / "c.png")],  # reading the pipe would hang
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "pipe.json: not a regular file" in result.stdout


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                    | st.text(max_size=10), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=15)
NAME = st.text(max_size=12) | st.sampled_from(["final", "02_low_rank", "/etc/passwd", "..",
                                               "../quizzes/final", "final.yaml"])
RECORD = st.fixed_dictionaries({
    "attempts": st.integers(0, 3) | JSON, "first_try_correct": st.booleans() | JSON,
    "correct": st.booleans(),
    "answers": st.lists(st.fixed_dictionaries({"chosen": st.text(max_size=10) | st.lists(
        st.text(max_size=10), max_size=2) | JSON, "correct": st.booleans()}), max_size=2)})
ANSWERS = st.fixed_dictionaries({
    "format": st.just("lora_tutorial.answers") | JSON, "learner": st.text(max_size=12) | JSON,
    "quizzes": st.dictionaries(NAME, st.fixed_dictionaries({
        "title": st.text(max_size=8), "questions": st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["final-summary", "final-count"]),
            RECORD, max_size=2)}), max_size=2) | JSON})


@settings(max_examples=100, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(files=st.lists(ANSWERS.map(json.dumps).map(str.encode) | st.binary(max_size=100),
                      min_size=1, max_size=3))
def test_any_answer_files_give_a_summary_or_a_quiz_error(tmp_path_factory, files):
    folder = tmp_path_factory.mktemp("answers")
    for number, content in enumerate(files):
        (folder / f"learner{number}.json").write_bytes(content)
    try:
        summary = class_summary(folder)
    except QuizError:
        return
    text = str(summary)
    assert not any(ord(c) < 32 and c != "\n" for c in text)
    summary._repr_html_()
