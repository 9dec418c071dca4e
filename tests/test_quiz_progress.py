"""Learner progress: written to the file named by the environment variable, never the repo;
no answer lost when two kernels write at once; broken files moved aside, never overwritten;
the learner's export file for the instructor."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from refusal import unchanged

from lora_tutorial.quiz import QuizError, export_answers, progress, progress_path, reset_progress
from lora_tutorial.common.tables import html_table, markdown_table
from lora_tutorial.quiz.progress import PROGRESS_ENV, VERSION, load_progress, record_answer

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
    assert record_answer("02_low_rank", "Low rank", "lr-rank-definition", False, ["Wrong"]) is None
    record_answer("02_low_rank", "Low rank", "lr-rank-definition", True, ["Right"])
    record_answer("02_low_rank", "Low rank", "lr-spectra", True)
    record_answer("02_low_rank", "Low rank", "lr-product-rank", False, "5")
    data = json.loads(path.read_text())
    assert data["version"] == VERSION == 2
    questions = data["quizzes"]["02_low_rank"]["questions"]
    assert questions["lr-rank-definition"] == {
        "attempts": 2, "first_try_correct": False, "correct": True,
        "answers": [{"chosen": ["Wrong"], "correct": False}, {"chosen": ["Right"], "correct": True}]}
    assert questions["lr-spectra"] == {"attempts": 1, "first_try_correct": True, "correct": True}
    assert questions["lr-product-rank"]["answers"] == [{"chosen": "5", "correct": False}]


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


def test_a_title_with_a_pipe_stays_in_its_column(path):
    record_answer("my_quiz", "LoRA | QLoRA <basics>", "mine-1", True)
    text = str(progress())
    line = next(line for line in text.splitlines() if "(my_quiz)" in line)
    assert line == "| LoRA \\| QLoRA <basics> (my_quiz) | ? | 1 | 1 |"
    unescaped = [row.replace("\\|", "").count("|") for row in text.splitlines()]
    assert set(unescaped) == {5}          # every row, the header and the rule: 4 columns
    assert "<td>LoRA | QLoRA &lt;basics&gt; (my_quiz)</td>" in progress()._repr_html_()


def test_table_helpers_align_columns_and_refuse_a_wrong_alignment():
    table = markdown_table(("a", "b"), [("x", "1")], align="lr")
    assert table.splitlines() == ["| a | b |", "|---|---:|", "| x | 1 |"]
    assert html_table(("a&b",), [("<i>",)]) == (
        "<table><thead><tr><th>a&amp;b</th></tr></thead>"
        "<tbody><tr><td>&lt;i&gt;</td></tr></tbody></table>")
    for align in ("l", "lc"):
        with pytest.raises(ValueError, match="one letter, 'l' or 'r', per column"):
            markdown_table(("a", "b"), [], align=align)


def test_reset_one_quiz_or_everything(path):
    record_answer("02_low_rank", "Low rank", "lr-spectra", True)
    record_answer("final", "Final", "final-summary", True)
    reset_progress("02_low_rank")
    assert set(load_progress()) == {"final"}
    reset_progress()
    assert not path.exists()
    assert all(row.answered == 0 for row in progress().rows)
    reset_progress()  # nothing to reset is fine


@pytest.mark.parametrize("content, reason", [
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "is not a JSON object"),
    ('{"quizzes": {"final": {"title": "F", "questions": {"q": {"attempts": "3", '
     '"first_try_correct": true, "correct": true}}}}}', "'attempts' is not a whole number"),
    ('{"quizzes": {"final": {"title": "F", "questions": ["q"]}}}', "not a mapping"),
    ('{"quizzes": {"final": {"title": "F", "questions": {"q": {"attempts": 1, '
     '"first_try_correct": "yes", "correct": true}}}}}', "'first_try_correct' is not true"),
])
def test_a_broken_file_is_moved_aside_with_a_message(path, content, reason):
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.warns(UserWarning, match=reason):
        assert load_progress() == {}
    (aside,) = path.parent.glob("progress.json.broken-*")
    assert aside.read_text() == content and not path.exists()
    path.write_text(content)
    note = record_answer("final", "Final", "final-summary", True)
    assert reason in note and "moved to progress.json.broken-" in note
    assert len(list(path.parent.glob("progress.json.broken-*"))) == 2
    assert load_progress()["final"]["questions"]["final-summary"]["attempts"] == 1


def test_wrong_types_never_silence_the_check_button(path):
    from lora_tutorial.quiz import QuizWidget, load_quiz

    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "quizzes": {"final": {"title": "F", "questions": '
                    '{"final-count": {"attempts": "x", "first_try_correct": 1, "correct": 0}}}}}')
    widget = QuizWidget(load_quiz("final", ids=["final-count"]))
    question = widget.questions[0]
    question.number.value = "241,664"
    question.check_button.click()
    assert "Right." in question.feedback.value and "moved to progress.json.broken-" in \
        question.feedback.value
    assert load_progress()["final"]["questions"]["final-count"]["attempts"] == 1


def test_unwritable_location_gives_a_note_instead_of_failing(monkeypatch, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(PROGRESS_ENV, str(blocker / "progress.json"))
    note = record_answer("final", "Final", "final-summary", True)
    assert note.startswith("Could not record quiz progress")


def test_reset_on_an_unwritable_path_is_a_message(monkeypatch, tmp_path):
    folder = tmp_path / "progress.json"
    folder.mkdir()  # a folder where the file should be: unlink fails
    (folder / "keep").write_text("")
    monkeypatch.setenv(PROGRESS_ENV, str(folder))
    with pytest.raises(QuizError, match="Cannot reset the quiz progress"):
        reset_progress()
    result = cli("progress", "--reset")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Cannot reset" in result.stderr


WRITER = """
import sys
from lora_tutorial.quiz.progress import record_answer
for i in range(150):
    record_answer("q" + sys.argv[1], "T", f"id-{i}", i % 2 == 0, [f"option {i}"])
"""


def test_two_processes_writing_at_once_lose_no_answer(path):
    workers = [subprocess.Popen([sys.executable, "-c", WRITER, name]) for name in ("a", "b")]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    recorded = load_progress()
    assert {name: len(entry["questions"]) for name, entry in recorded.items()} == {
        "qa": 150, "qb": 150}


def test_export_answers_writes_a_small_named_file(path, tmp_path):
    record_answer("final", "Final", "final-summary", False, ["Wrong one"])
    target = export_answers(tmp_path / "alice.json", name="Alice B.")
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["format"] == "lora_tutorial.answers" and data["learner"] == "Alice B."
    assert data["quizzes"] == load_progress()
    assert json.loads(export_answers(tmp_path / "bob.json").read_text())["learner"] == "bob"
    result = cli("answers", "-o", str(tmp_path / "carol.json"), "--name", "Carol")
    assert result.returncode == 0 and "carol.json" in result.stdout
    with pytest.raises(QuizError, match="Cannot write"):
        export_answers(tmp_path)  # a folder, not a file


def test_progress_command_shows_and_resets(path):
    record_answer("final", "Final", "final-summary", True)
    shown = cli("progress")
    assert shown.returncode == 0 and "| 1 | 1 |" in shown.stdout and str(path) in shown.stdout
    reset = cli("progress", "--reset")
    assert reset.returncode == 0 and not path.exists()


# --- what is not this version's progress file is left alone --------------------------------

def test_a_folder_at_the_progress_path_is_refused_and_left_as_it_is(monkeypatch, tmp_path):
    folder = tmp_path / "progress.json"
    folder.mkdir()
    (folder / "my_notes.txt").write_text("mine")
    monkeypatch.setenv(PROGRESS_ENV, str(folder))
    with unchanged(tmp_path):
        note = record_answer("final", "Final", "final-summary", True)
        assert "is a folder, not a progress file" in note and PROGRESS_ENV in note
        with pytest.raises(QuizError, match="is a folder, not a progress file"):
            load_progress()
        with pytest.raises(QuizError, match="is a folder"):
            export_answers(tmp_path / "out" / "me.json")
        with pytest.raises(QuizError, match="Cannot reset the quiz progress .* is a folder"):
            reset_progress("final")
    result = cli("progress", env={**os.environ, PROGRESS_ENV: str(folder)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is a folder, not a progress file" in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_at_the_progress_path_is_refused_not_read(monkeypatch, tmp_path):
    pipe = tmp_path / "progress.json"
    os.mkfifo(pipe)
    monkeypatch.setenv(PROGRESS_ENV, str(pipe))
    with unchanged(tmp_path):
        assert "not a regular file" in record_answer("final", "Final", "final-summary", True)


def test_unknown_top_level_fields_are_kept(path):
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 2, "quizzes": {}, "settings": {"theme": "dark"}}))
    assert record_answer("final", "Final", "final-summary", True) is None
    data = json.loads(path.read_text())
    assert data["settings"] == {"theme": "dark"} and data["version"] == VERSION
    reset_progress("final")
    assert json.loads(path.read_text())["settings"] == {"theme": "dark"}


def test_a_file_of_a_newer_version_is_read_but_never_written(path, tmp_path):
    path.parent.mkdir(parents=True)
    newer = {"version": VERSION + 1, "streak": 3, "quizzes": {"final": {"title": "F", "questions": {
        "final-summary": {"attempts": 1, "first_try_correct": True, "correct": True}}}}}
    path.write_text(json.dumps(newer))
    assert load_progress()["final"]["questions"]["final-summary"]["attempts"] == 1
    with unchanged(tmp_path):
        note = record_answer("final", "Final", "final-count", True)
        assert "written by a newer version" in note and "left as it is" in note
        with pytest.raises(QuizError, match="written by a newer version"):
            reset_progress("final")
    # one this version cannot even read is not moved aside either
    path.write_text(json.dumps({"version": VERSION + 1, "quizzes": ["a", "new", "shape"]}))
    with unchanged(tmp_path):
        with pytest.warns(UserWarning, match="newer version"):
            assert load_progress() == {}
        assert "newer version" in record_answer("final", "Final", "final-count", True)


def test_a_deeply_nested_file_is_moved_aside_like_any_broken_file(path):
    path.parent.mkdir(parents=True)
    path.write_text("[" * 100_000 + "]" * 100_000)
    note = record_answer("final", "Final", "final-summary", True)
    assert "is not valid JSON" in note and "moved to progress.json.broken-" in note


def test_a_typed_lone_surrogate_is_recorded_and_reads_back(path):
    assert record_answer("final", "Final", "final-count", False, "12\ud800") is None
    recorded = load_progress()["final"]["questions"]["final-count"]["answers"][0]["chosen"]
    assert recorded == "12\ud800"


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=15)


def mostly(valid):
    """``valid`` three times in four, anything JSON the fourth, so that the fields deep inside
    a file are reached with a sound file around them."""
    return st.one_of(valid, valid, valid, JSON)


RECORD = st.fixed_dictionaries(
    {"attempts": mostly(st.integers(0, 3)), "first_try_correct": mostly(st.booleans()),
     "correct": mostly(st.booleans())},
    optional={"answers": mostly(st.lists(st.fixed_dictionaries(
        {"chosen": mostly(st.text(max_size=5)), "correct": mostly(st.booleans())}), max_size=2))})
QUIZ = st.fixed_dictionaries({"title": mostly(st.text(max_size=8)), "questions": mostly(
    st.dictionaries(st.just("final-summary") | st.text(max_size=8), RECORD,
                    min_size=1, max_size=2))})
DOCUMENT = st.fixed_dictionaries(
    {"version": mostly(st.integers(1, VERSION)) | st.integers(0, 4),
     "quizzes": mostly(st.dictionaries(st.just("final") | st.text(max_size=12), QUIZ,
                                       min_size=1, max_size=2))},
    optional={"extra": JSON})
FILE = DOCUMENT.map(json.dumps).map(str.encode) | st.text(max_size=200).map(str.encode) \
    | st.binary(max_size=200)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=FILE)
def test_any_progress_file_gives_a_record_a_note_or_a_quiz_error(path, content):
    import warnings

    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.iterdir():
        stale.unlink()
    path.write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_progress()
        str(progress())
        note = record_answer("final", "Final", "final-summary", True, ["x"])
        assert note is None or isinstance(note, str)
        load_progress()
