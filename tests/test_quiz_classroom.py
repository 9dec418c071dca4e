"""The instructor's summary of a folder of learners' answer files: per question how many
answered, first-try correct %, the most chosen wrong option; a table and a PNG chart."""

import subprocess
import sys

import pytest

from lora_tutorial.quiz import QuizError, class_summary, export_answers, load_quiz
from lora_tutorial.quiz.model import option_letter
from lora_tutorial.quiz.progress import record_answer, reset_progress


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", *args],
                          capture_output=True, text=True, **kwargs)


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
