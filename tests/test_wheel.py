"""`pip install .` is a complete install, and so is `pip install -e .`.

A wheel is built from a copy of the repository (what a clone, or `pip install` from the
repository's URL, would build from) and installed into a fresh virtual environment. From
a folder outside the repository, that environment then takes the quiz CLI, the
environment check and a small notebook on a kernel of its own, so every file they need
(weights, quiz bank, corpora) must have come with the wheel.

It stays fast and offline: the fresh environment gets no copy of PyTorch. It is created
without pip, the wheel goes in with `--no-deps --no-index`, and one `.pth` line appends
this environment's site-packages *after* its own, for the dependencies only. The tests
check that `lora_tutorial` itself is imported from the fresh environment.

The quiz bank lives outside the package, in the repository's `quizzes/` folder, and is
mapped into it as the data package `lora_tutorial.quizzes`; an editable install of a copy of
the repository, into another fresh environment, shows that `pip install -e .` finds it too.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lora_tutorial"
BANK = ROOT / "quizzes"

# What a clone does not have (.gitignore) and the build must not see.
NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".hypothesis", ".ipynb_checkpoints", "test-artifacts",
)
KERNEL = "lora-wheel-test"


def run(args, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure, fail the test with its output."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=300, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"`{' '.join(map(str, args))}` exited with {result.returncode}:\n"
                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


class FreshInstall:
    """A virtual environment with only the wheel installed, and a folder to work in."""

    def __init__(self, base: Path, editable: bool = False):
        source = base / "source"
        shutil.copytree(ROOT, source, ignore=NOT_IN_A_CLONE)
        self.source = source
        # Without PYTHONPATH: pip must not see a checkout on it as lora_tutorial installed.
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ("PYTHONPATH", "LORA_TUTORIAL_QUIZ_DIR", "JUPYTER_PATH")}
        self.venv = base / "venv"
        run([sys.executable, "-m", "venv", "--without-pip", self.venv])
        scripts = "Scripts" if os.name == "nt" else "bin"
        self.python = self.venv / scripts / ("python.exe" if os.name == "nt" else "python")
        site = Path(run([self.python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                            "['purelib'])"]).stdout.strip())
        ours = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
        dependencies = "".join(f"{p}\n" for p in sorted(ours))
        if editable:
            # The editable build runs in the fresh environment and needs setuptools from ours;
            # --ignore-installed: the lora_tutorial seen through that line is not replaced.
            (site / "zz_course_dependencies.pth").write_text(dependencies)
            run([sys.executable, "-m", "pip", "--python", self.python, "install", "--no-deps",
                 "--no-index", "--no-build-isolation", "--ignore-installed", "--editable",
                 source], env=self.env)
        else:
            run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "--no-index", "--wheel-dir", base / "dist", source])
            (self.wheel,) = (base / "dist").glob("lora_tutorial-*.whl")
            # pip from this environment installs into the fresh one (--python), before the
            # .pth line exists, so it sees nothing installed there.
            run([sys.executable, "-m", "pip", "--python", self.python, "install", "--no-deps",
                 "--no-index", "--no-compile", self.wheel], env=self.env)
            (site / "zz_course_dependencies.pth").write_text(dependencies)

        kernel_dir = self.venv / "share" / "jupyter" / "kernels" / KERNEL
        kernel_dir.mkdir(parents=True)
        spec = {"argv": [str(self.python), "-m", "ipykernel_launcher", "-f",
                         "{connection_file}"],
                "display_name": "fresh install", "language": "python"}
        (kernel_dir / "kernel.json").write_text(json.dumps(spec))

        self.workdir = base / "elsewhere"
        self.workdir.mkdir()
        self.env.update(LORA_TUTORIAL_PROGRESS=str(base / "progress.json"),
                        IPYTHONDIR=str(base / "ipython"),
                        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
                        LORA_TUTORIAL_DEVICE="cpu", OMP_NUM_THREADS="1")

    def python_run(self, *args) -> subprocess.CompletedProcess:
        """Run the fresh environment's Python in the folder outside the repository."""
        return run([self.python, *args], cwd=self.workdir, env=self.env)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> FreshInstall:
    return FreshInstall(tmp_path_factory.mktemp("wheel"))


def test_every_file_of_the_package_is_in_the_wheel(fresh):
    shipped = set(zipfile.ZipFile(fresh.wheel).namelist())
    in_source = {path.relative_to(ROOT).as_posix() for path in PACKAGE.rglob("*")
                 if path.is_file() and "__pycache__" not in path.parts}
    missing = sorted(in_source - shipped)
    assert not missing, (f"{len(missing)} file(s) of lora_tutorial/ are not in the wheel; "
                         "add their folder to [tool.setuptools] packages, or the files to "
                         f"[tool.setuptools.package-data]: {missing[:10]}")
    for needed in ("lora_tutorial/course/weights/tiny_vit_digits.safetensors",
                   "lora_tutorial/course/weights/tiny_vit_digits.json"):
        assert needed in shipped


def test_the_quiz_bank_is_in_the_wheel(fresh):
    shipped = set(zipfile.ZipFile(fresh.wheel).namelist())
    bank = sorted(path.name for path in BANK.glob("*.yaml"))
    assert len(bank) >= 2 and "final.yaml" in bank
    assert sorted(name.rsplit("/", 1)[1] for name in shipped
                  if name.startswith("lora_tutorial/quizzes/")) == bank


def test_pyproject_lists_every_package_folder():
    """Packages are listed by hand (the bank's mapping needs it): a new folder of Python
    files must be added there, or the wheel silently lacks it."""
    tomllib = pytest.importorskip("tomllib")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
                 ["tool"]["setuptools"]["packages"])
    folders = {".".join(path.parent.relative_to(ROOT).parts) for path in PACKAGE.rglob("*")
               if path.is_file() and "__pycache__" not in path.parts}
    assert folders - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert "lora_tutorial.quizzes" in listed


def test_the_package_is_imported_from_the_fresh_environment(fresh):
    out = fresh.python_run("-c", "import lora_tutorial, lora_tutorial.quiz as q; "
                                 "print(lora_tutorial.__file__); print(q.bank_dir())")
    module_file, bank = out.stdout.split()
    assert Path(module_file).is_relative_to(fresh.venv), module_file
    assert Path(bank).is_relative_to(Path(module_file).parent) and Path(bank).is_dir(), (
        f"the quiz bank should ship inside the installed package; it is looked up at {bank}")


def test_quiz_cli_validates_the_shipped_bank(fresh):
    out = fresh.python_run("-m", "lora_tutorial.quiz", "validate")
    assert "problem" not in out.stdout + out.stderr
    assert "All quiz files are valid." in out.stdout
    handout = fresh.python_run("-m", "lora_tutorial.quiz", "export", "--format", "markdown")
    titles = [line for line in handout.stdout.splitlines() if line.startswith("# ")]
    assert len(titles) == len(list(BANK.glob("*.yaml")))


def test_an_editable_install_finds_the_bank_from_another_folder(tmp_path_factory):
    editable = FreshInstall(tmp_path_factory.mktemp("editable"), editable=True)
    out = editable.python_run("-c", "import lora_tutorial, lora_tutorial.quiz as q; "
                                    "print(lora_tutorial.__file__); print(q.bank_dir()); "
                                    "print(' '.join(q.available_quizzes()))")
    module_file, bank, names = out.stdout.strip().splitlines()
    assert Path(module_file).is_relative_to(editable.source), module_file
    assert Path(bank) == editable.source / "quizzes"
    assert names.split() == sorted(path.stem for path in BANK.glob("*.yaml"))
    out = editable.python_run("-m", "lora_tutorial.quiz", "validate")
    assert "All quiz files are valid." in out.stdout


def test_environment_check_passes(fresh):
    out = fresh.python_run("-m", "lora_tutorial", "check")
    assert out.stdout.strip().splitlines()[-1].startswith("Verdict: OK"), out.stdout
    assert str(fresh.venv) in out.stdout  # the package line shows where it was imported from


NOTEBOOK_CELLS = [
    "import sys\nimport lora_tutorial\nprint(sys.executable)\nprint(lora_tutorial.__file__)",
    "from lora_tutorial import evaluate, load_pretrained, load_task\n"
    "model = load_pretrained(device='cpu')\n"
    "digits = load_task('digits')\n"
    "print(f'accuracy {evaluate(model, digits.x_test, digits.y_test):.2f}')",
    "from lora_tutorial import quiz\nquiz.show('final')",
]


def test_a_notebook_runs_on_a_kernel_of_the_fresh_environment(fresh):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS])
    path = fresh.workdir / "first_steps.ipynb"
    nbformat.write(notebook, path)
    # nbclient runs in the fresh environment too (it is among the dependencies on the
    # .pth path) and starts the kernel from the fresh environment's kernelspec.
    fresh.python_run("-c", (
        "import nbclient, nbformat\n"
        f"nb = nbformat.read({str(path)!r}, as_version=4)\n"
        f"nbclient.NotebookClient(nb, kernel_name={KERNEL!r}, timeout=300).execute()\n"
        f"nbformat.write(nb, {str(path)!r})\n"))
    cells = nbformat.read(path, as_version=4).cells

    executable, module_file = cells[0].outputs[0]["text"].split()
    assert Path(executable).is_relative_to(fresh.venv), f"the kernel ran {executable}"
    assert Path(module_file).is_relative_to(fresh.venv), module_file

    accuracy = float(cells[1].outputs[0]["text"].split()[-1])
    assert accuracy > 0.8, "the shipped weights should classify the digits well"

    html = "".join(output.get("data", {}).get("text/html", "") for output in cells[2].outputs)
    assert "<summary>Hint</summary>" in html, "the quiz did not display"
