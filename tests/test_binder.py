"""binder/ follows repo2docker's conventions and cannot drift from requirements.txt.

repo2docker (what Binder and many JupyterHubs build images with) reads *only* the binder/
folder when there is one: runtime.txt picks the Python version, requirements.txt is
installed with pip from the repository root. Ours includes the top-level requirements.txt
and changes only where PyTorch comes from (its CPU-only build).
"""

import re
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from lora_tutorial.course.check import TESTED_PYTHON

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# Configuration files repo2docker reads from binder/ when it exists (ignoring the top level).
REPO2DOCKER_FILES = ("environment.yml", "Pipfile", "Pipfile.lock", "setup.py", "postBuild",
                     "apt.txt", "runtime.txt", "start", "install.R", "Project.toml",
                     "DESCRIPTION", "requirements.txt", "requirements3.txt", "Dockerfile")


def lines(path: Path) -> list[str]:
    """Non-empty lines without comments."""
    stripped = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in stripped if line]


def pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file, by lower-case name."""
    found = {}
    for line in lines(path):
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*==\s*(\S+)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def test_runtime_is_the_tested_python_and_allowed_by_the_package():
    (runtime,) = lines(BINDER / "runtime.txt")
    assert runtime == "python-{}.{}".format(*TESTED_PYTHON)
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert Version(runtime.removeprefix("python-")) in SpecifierSet(requires)


def test_binder_installs_the_top_level_requirements_and_the_package():
    includes = [line.split(None, 1)[1] for line in lines(BINDER / "requirements.txt")
                if line.startswith("-r ")]
    assert [(BINDER / path).resolve() for path in includes] == [ROOT / "requirements.txt"]
    # repo2docker runs pip from the repository root, where "." is this package.
    assert {"-e .", "."} & set(lines(ROOT / "requirements.txt"))


def test_binder_pins_are_the_top_level_pins_with_pytorch_for_the_cpu():
    binder, top = pins(BINDER / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert set(binder) <= set(top), "binder/ may only re-pin packages requirements.txt pins"
    for name, version in binder.items():
        assert Version(version).public == Version(top[name]).public, name
    assert Version(binder["torch"]).local == "cpu"
    assert f"--extra-index-url {CPU_INDEX}" in lines(BINDER / "requirements.txt")


def test_no_top_level_configuration_is_silently_ignored():
    ignored = [name for name in REPO2DOCKER_FILES
               if (ROOT / name).exists() and name != "requirements.txt"
               and not (BINDER / name).exists()]
    assert not ignored, f"repo2docker ignores these with binder/ present: {ignored}"
