"""The quiz command line answers every input with output or a one-line message and a non-zero
exit status, never with a traceback: one handler around every command."""

import pytest

from lora_tutorial.quiz.__main__ import main


@pytest.mark.parametrize("failure, status, message", [
    (RuntimeError("something unforeseen"), 1,
     "python -m lora_tutorial.quiz: error: RuntimeError: something unforeseen"),
    (PermissionError(13, "Permission denied", "/some/file"), 1,
     "python -m lora_tutorial.quiz: error: /some/file: Permission denied"),
    (RecursionError(), 1, "nested too deeply"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_any_failure_is_a_message_and_a_non_zero_exit(monkeypatch, capsys, failure, status,
                                                      message):
    def fail(paths=None):
        raise failure

    monkeypatch.setattr("lora_tutorial.quiz.__main__.validate", fail)
    assert main(["validate"]) == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_messages_show_control_characters_as_escapes(capsys):
    assert main(["run", "no_such_quiz\x1b[2J"]) == 1
    err = capsys.readouterr().err
    assert "no_such_quiz\\x1b[2J" in err and "\x1b" not in err


def test_validate_prints_problems_with_control_characters_escaped(monkeypatch, capsys):
    from lora_tutorial.quiz.model import Problem

    monkeypatch.setattr("lora_tutorial.quiz.__main__.validate",
                        lambda paths=None: [Problem("q\x1b[31m.yaml", "bad\x07")])
    assert main(["validate"]) == 1
    out = capsys.readouterr().out
    assert "q\\x1b[31m.yaml: bad\\x07" in out and "\x1b" not in out
