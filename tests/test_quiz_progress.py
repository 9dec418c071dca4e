"""Learner progress: written to the file named by the environment variable, never the repo."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from lora_tutorial.quiz import progress, progress_path, reset_progress
from lora_tutorial.quiz.progress import PROGRESS_ENV, load_progress, record_answer

REPO = Path(__file__).resolve().parents[1]


def cli(*args, **kwargs):
    """Run ``python -m lora_tutorial.quiz ARGS`` and capture its output."""
    return subprocess.run([sys.executable, "-m", "lora_tutorial.quiz", *args],
                          capture_output=True, text=True, **kwargs)


@pytest.fixture
def path(monkeypatch, tmp_path):
    target = tmp_path / "nested" / "progress.json"
    monkeypatch.setenv(PROGRESS_ENV, str(target))
    return target


def test_test_session_never_uses_the_real_progress_file():
    configured = Path(os.environ[PROGRESS_ENV]).resolve()
    assert configured.is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert not configured.is_relative_to(REPO)


def test_default_path_is_in_the_user_data_directory(monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV)
    default = progress_path()
    assert default.name == "progress.json" and "lora_tutorial" in default.parts
    assert not default.resolve().is_relative_to(REPO)


def test_records_attempts_and_first_try(path):
    record_answer("02_low_rank", "Low rank", "lr-rank-definition", False)
    record_answer("02_low_rank", "Low rank", "lr-rank-definition", True)
    record_answer("02_low_rank", "Low rank", "lr-spectra", True)
    data = json.loads(path.read_text())
    assert data["version"] == 1
    questions = data["quizzes"]["02_low_rank"]["questions"]
    assert questions["lr-rank-definition"] == {
        "attempts": 2, "first_try_correct": False, "correct": True}
    assert questions["lr-spectra"] == {"attempts": 1, "first_try_correct": True, "correct": True}


def test_progress_table_per_notebook(path):
    record_answer("02_low_rank", "Low rank", "lr-rank-definition", False)
    record_answer("02_low_rank", "Low rank", "lr-spectra", True)
    record_answer("my_quiz", "My own quiz", "mine-1", True)
    report = progress()
    rows = {row.quiz: row for row in report.rows}
    low_rank = rows["02_low_rank"]
    assert (low_rank.questions, low_rank.answered, low_rank.first_try_correct) == (9, 2, 1)
    assert (rows["final"].answered, rows["final"].first_try_correct) == (0, 0)
    mine = rows["my_quiz"]
    assert (mine.title, mine.questions, mine.answered) == ("My own quiz", None, 1)
    text = str(report)
    assert text.splitlines()[0] == "| Quiz | Questions | Answered | Correct on first try |"
    assert "| My own quiz (my_quiz) | ? | 1 | 1 |" in text
    html = report._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") == len(report.rows) + 1


def test_reset_one_quiz_or_everything(path):
    record_answer("02_low_rank", "Low rank", "lr-spectra", True)
    record_answer("final", "Final", "final-summary", True)
    reset_progress("02_low_rank")
    assert set(load_progress()) == {"final"}
    reset_progress()
    assert not path.exists()
    assert all(row.answered == 0 for row in progress().rows)
    reset_progress()  # nothing to reset is fine


def test_unreadable_file_warns_and_counts_as_empty(path):
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.warns(UserWarning, match="unreadable quiz progress"):
        assert load_progress() == {}


def test_unwritable_location_warns_instead_of_failing(monkeypatch, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(PROGRESS_ENV, str(blocker / "progress.json"))
    with pytest.warns(UserWarning, match="Could not record quiz progress"):
        record_answer("final", "Final", "final-summary", True)


def test_progress_command_shows_and_resets(path):
    record_answer("final", "Final", "final-summary", True)
    shown = cli("progress")
    assert shown.returncode == 0 and "| 1 | 1 |" in shown.stdout and str(path) in shown.stdout
    reset = cli("progress", "--reset")
    assert reset.returncode == 0 and not path.exists()
