"""tools/colab_links.py: the Colab set-up cell and the Colab/Binder links, from one URL."""

import shutil
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from refusal import unchanged
from tools import colab_links

ROOT = Path(__file__).resolve().parents[1]

URL_LINE = 'Repository = "https://github.com/example-org/lora-course"\n'
NOTEBOOKS = ["01_full_finetuning_and_freezing.ipynb", "03_lora_layer.ipynb"]


def make_repo(tmp_path: Path, url_line: str | None = URL_LINE) -> Path:
    """A small copy of the repository: pyproject.toml (with a URL if given), README, notebooks."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    if url_line is not None:
        pyproject += "\n[project.urls]\n" + url_line
    (tmp_path / "pyproject.toml").write_text(pyproject)
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "notebooks").mkdir()
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / name, tmp_path / "notebooks" / name)
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_without_a_repository_url_it_refuses_and_changes_nothing(tmp_path, capsys):
    root = make_repo(tmp_path, url_line=None)
    with unchanged(root):
        assert colab_links.main(["--root", str(root)]) == 1
    assert "[project.urls] Repository" in capsys.readouterr().err


@pytest.mark.parametrize("pyproject, message", [
    ("[project\nname = 1\n", "is not valid TOML"),
    ("[tool.other]\nx = 1\n", "has no [project.urls] Repository entry"),
])
def test_a_pyproject_without_a_readable_url_is_named(tmp_path, capsys, pyproject, message):
    root = make_repo(tmp_path)
    (root / "pyproject.toml").write_text(pyproject)
    with unchanged(root):
        assert colab_links.main(["--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"python -m tools.colab_links: error: {root / 'pyproject.toml'} ")
    assert message in err and "Traceback" not in err


def test_links_in_the_repository_are_replaced_not_written_through(tmp_path):
    (tmp_path / "repo").mkdir()
    root = make_repo(tmp_path / "repo")
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("README.md", f"notebooks/{NOTEBOOKS[0]}"):
        target = outside / Path(name).name
        shutil.move(root / name, target)
        (root / name).symlink_to(target)
    with unchanged(outside):
        assert colab_links.main(["--root", str(root)]) == 0
    assert not (root / "README.md").is_symlink()
    assert colab_links.MARKER in (root / "README.md").read_text()
    assert colab_links.MARKER in (root / "notebooks" / NOTEBOOKS[0]).read_text()


def test_a_url_colab_cannot_open_is_refused(tmp_path, capsys):
    root = make_repo(tmp_path, 'Repository = "https://gitlab.com/example-org/lora-course"\n')
    assert colab_links.main(["--root", str(root)]) == 1
    assert "github.com" in capsys.readouterr().err


def test_it_adds_the_cell_and_links_once(tmp_path):
    root = make_repo(tmp_path)
    assert colab_links.main(["--root", str(root), "--check"]) == 1
    assert colab_links.main(["--root", str(root)]) == 0
    after_first = snapshot(root)
    assert colab_links.main(["--root", str(root)]) == 0
    assert snapshot(root) == after_first, "a second run must change nothing"
    assert colab_links.main(["--root", str(root), "--check"]) == 0

    for name in NOTEBOOKS:
        original = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        updated = nbformat.read(root / "notebooks" / name, as_version=4)
        nbformat.validate(updated)
        assert len(updated.cells) == len(original.cells) + 1
        code = [c for c in updated.cells if c.cell_type == "code"]
        assert code[0].metadata["tags"] == [colab_links.SETUP_TAG] and not code[0].outputs
        assert "git+https://github.com/example-org/lora-course" in code[0].source
        assert [c.source for c in code[1:]] == [c.source for c in original.cells
                                                if c.cell_type == "code"]
        title = updated.cells[0].source
        assert (f"https://colab.research.google.com/github/example-org/lora-course/blob/main/"
                f"notebooks/{name}") in title
        binder = "https://mybinder.org/v2/gh/example-org/lora-course/main"
        assert f"{binder}?labpath=notebooks%2F{name}" in title
        assert title.startswith(original.cells[0].source.split("\n")[0] + "\n\n[![Open in Colab]")
    readme = (root / "README.md").read_text()
    assert ("https://mybinder.org/v2/gh/example-org/lora-course/main"
            "?urlpath=lab/tree/notebooks") in readme
    assert f"lora-course/blob/main/notebooks/{NOTEBOOKS[0]})" in readme  # the first notebook


def test_a_changed_url_replaces_the_old_one(tmp_path):
    root = make_repo(tmp_path)
    colab_links.main(["--root", str(root)])
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("example-org", "other-org"))
    assert colab_links.main(["--root", str(root)]) == 0
    text = "".join(p.read_text() for p in root.rglob("*.ipynb")) + (root / "README.md").read_text()
    assert "example-org" not in text and "other-org" in text
    nb = nbformat.read(root / "notebooks" / NOTEBOOKS[0], as_version=4)
    assert sum(colab_links.SETUP_TAG in c.metadata.get("tags", []) for c in nb.cells) == 1


def run_setup_cell(monkeypatch, in_colab: bool) -> list:
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append(args))
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(colab_links.setup_source("example-org", "lora-course"), {})
    return calls


def test_the_setup_cell_does_nothing_outside_colab(monkeypatch):
    assert run_setup_cell(monkeypatch, in_colab=False) == []


def test_the_setup_cell_installs_the_package_in_colab(monkeypatch):
    (call,) = run_setup_cell(monkeypatch, in_colab=True)
    command = call[0]
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    assert "lora-tutorial @ git+https://github.com/example-org/lora-course" in command


def test_the_repository_is_in_a_consistent_state():
    """With a URL configured every notebook must be up to date; without, none has a cell."""
    try:
        colab_links.repository(ROOT / "pyproject.toml")
    except colab_links.LinksError:
        for path in (ROOT / "notebooks").glob("*.ipynb"):
            text = path.read_text()
            assert colab_links.SETUP_TAG not in text and colab_links.MARKER not in text, path
        assert colab_links.MARKER not in (ROOT / "README.md").read_text()
        return
    assert colab_links.main(["--check"]) == 0, "run tools/colab_links.py"


def test_the_inserted_cell_runs_silently_in_a_fresh_python(tmp_path):
    """No output outside Colab: nbval compares the cell's (empty) stored output."""
    root = make_repo(tmp_path)
    colab_links.main(["--root", str(root)])
    notebook = nbformat.read(root / "notebooks" / NOTEBOOKS[0], as_version=4)
    setup = next(c for c in notebook.cells if c.cell_type == "code")
    result = subprocess.run([sys.executable, "-c", setup.source], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""
