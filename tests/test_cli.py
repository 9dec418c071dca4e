"""The top-level handler of every command line (``lora_tutorial.common.cli``): a line that
names the problem and a non-zero exit status, never a traceback; and every command uses it."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from lora_tutorial.common.cli import INTERRUPTED, command

ROOT = Path(__file__).resolve().parents[1]
TOOLS = sorted(path.stem for path in (ROOT / "tools").glob("*.py") if path.stem != "__init__")


def failing(error: BaseException):
    @command("prog")
    def main(argv):
        raise error
    return main


def test_an_error_raised_on_purpose_is_printed_as_its_message(capsys):
    assert failing(ValueError("x.ipynb is not JSON; fix it"))([]) == 1
    assert capsys.readouterr().err == "prog: error: x.ipynb is not JSON; fix it\n"
    assert failing(FileNotFoundError(2, "No such file or directory", "x.json"))([]) == 1
    assert capsys.readouterr().err == "prog: error: x.json: No such file or directory\n"


def test_control_characters_and_deep_input_are_named_not_obeyed(capsys):
    assert failing(ValueError("no quiz named 'q\x1b[2J'"))([]) == 1
    assert capsys.readouterr().err == "prog: error: no quiz named 'q\\x1b[2J'\n"
    assert failing(RecursionError("maximum recursion depth exceeded"))([]) == 1
    assert capsys.readouterr().err == "prog: error: the input is nested too deeply to read\n"


@pytest.mark.parametrize("error, line", [
    (KeyError("cells"), "KeyError: 'cells'"),
    (ZeroDivisionError(), "ZeroDivisionError"),
    (ValueError(), "ValueError"),
    (AssertionError("Torch not compiled with CUDA enabled"),
     "AssertionError: Torch not compiled with CUDA enabled"),
])
def test_any_other_exception_is_named_by_its_type(capsys, error, line):
    assert failing(error)([]) == 1
    assert capsys.readouterr().err == f"prog: error: {line}\n"


def test_ctrl_c_ends_quietly_with_the_shells_status(capsys):
    assert failing(KeyboardInterrupt())([]) == INTERRUPTED == 130
    assert capsys.readouterr().err == "prog: interrupted\n"


def test_argparse_exits_pass_through():
    with pytest.raises(SystemExit) as info:
        failing(SystemExit(2))([])
    assert info.value.code == 2


@pytest.mark.parametrize("returned, status", [(None, 0), (0, 0), (1, 1), (3, 3)])
def test_the_body_decides_the_status_when_it_returns(returned, status):
    seen = []

    @command("prog")
    def main(argv):
        seen.append(argv)
        return returned
    assert main(["--flag"]) == status
    assert seen == [["--flag"]]


@pytest.mark.parametrize("name", TOOLS)
def test_every_tool_runs_its_main_through_the_handler(name):
    module = importlib.import_module(f"tools.{name}")
    if not hasattr(module, "main"):
        assert name == "notebook_files", f"tools/{name}.py has no main()"
        return
    assert getattr(module.main, "__wrapped__", None) is not None, (
        f"tools/{name}.py: decorate main with lora_tutorial.common.cli.command")
    source = (ROOT / "tools" / f"{name}.py").read_text()
    assert source.endswith('if __name__ == "__main__":\n    sys.exit(main())\n'), name


def test_the_package_command_line_runs_through_the_handler(monkeypatch, capsys):
    from lora_tutorial.__main__ import main
    from lora_tutorial.course import check

    def broken():
        raise RuntimeError("the check broke")

    monkeypatch.setattr(check, "main", broken)
    assert main(["check"]) == 1
    assert capsys.readouterr().err == ("python -m lora_tutorial: error: RuntimeError: the "
                                       "check broke\n")


def _bad_inputs(tmp: Path) -> dict[str, tuple[list[str], str]]:
    """For each cheap command: arguments that make it fail, and what its message must say."""
    (tmp / "a_file").write_text("x")
    (tmp / "not_a_notebook.ipynb").write_text("x")
    return {
        "learner_copy": (["--source", str(tmp / "empty"), "--out", str(tmp / "out")],
                         f"No notebooks found in {tmp / 'empty'}."),
        "make_learner_notebooks": (["--source", str(tmp / "empty"), "--out", str(tmp / "o")],
                                   f"No notebooks found in {tmp / 'empty'}."),
        "execute_notebooks": ([str(tmp / "not_a_notebook.ipynb")],
                              f"{tmp / 'not_a_notebook.ipynb'} is not a notebook nbformat can "
                              "read: Notebook does not appear to be JSON"),
        "extract_corpora": (["--out", str(tmp / "a_file")],
                            f"--out {tmp / 'a_file'} is a file, not a folder"),
        "colab_links": (["--root", str(tmp)],
                        f"{tmp / 'pyproject.toml'}: No such file or directory"),
    }


@pytest.mark.parametrize("name", ["learner_copy", "make_learner_notebooks", "execute_notebooks",
                                  "extract_corpora", "colab_links"])
def test_a_tool_given_bad_input_prints_one_line_and_no_traceback(tmp_path, name):
    argv, message = _bad_inputs(tmp_path)[name]
    result = subprocess.run([sys.executable, "-m", f"tools.{name}", *argv], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.startswith(f"python -m tools.{name}: error: "), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
