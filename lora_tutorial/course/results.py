"""The course's recorded measurements: one committed file per experiment, one home per figure.

Some figures are quoted far from the run that measured them: the quiz bank, notebook 10, the
README and the instructor guide cite a step-time ratio, a loss, a forgetting figure. If each
of them typed the number, they would drift apart the first time anyone re-ran anything. So a
measurement that is quoted, or a sweep too slow for a notebook, is *recorded*: the script or
notebook that measured it writes ``results/<name>.json`` here, with the conditions it ran
under, and everything that quotes it reads that file (a test checks the quotes).

A record holds:

* ``figures``: the numbers, by name (nested dictionaries and lists are fine);
* ``conditions``: what they depend on: the exact command, the seeds, the batch, the threads;
* ``machine``: where they were measured (CPU, cores, PyTorch), and ``minutes``: how long it took.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from ..common.files import write_text

RESULTS_DIR = Path(__file__).resolve().parent / "results"
"""Where the recorded measurements live (shipped with the package, so notebooks find them)."""


@dataclass(frozen=True)
class Recorded:
    """One recorded experiment: its figures, and the conditions and machine they hold for."""

    name: str
    figures: dict
    conditions: dict
    machine: str
    minutes: float


def machine() -> str:
    """A one-line description of this machine, as a record states where it was measured."""
    cpu = platform.processor() or platform.machine()
    return (f"{platform.system()} {cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} "
            f"PyTorch threads, torch {torch.__version__}")


def path_of(name: str) -> Path:
    """The file that holds the record called ``name``."""
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"a record's name is letters, digits and underscores, such as "
                         f"'step_time'; got {name!r}")
    return RESULTS_DIR / f"{name}.json"


def load(name: str) -> Recorded:
    """Read the record ``name`` (for example ``load("step_time").figures``)."""
    path = path_of(name)
    if not path.exists():
        known = sorted(p.stem for p in RESULTS_DIR.glob("*.json"))
        raise FileNotFoundError(f"no recorded results called {name!r}; the course has {known}. "
                                f"A benchmark under benchmarks/ writes each of them.")
    data = json.loads(path.read_text(encoding="utf-8"))
    return Recorded(name=name, figures=data["figures"], conditions=data["conditions"],
                    machine=data["machine"], minutes=data["minutes"])


def record(name: str, figures: dict, conditions: dict, minutes: float,
           directory: str | Path | None = None) -> Path:
    """Write the record ``name`` atomically (the old file stays whole if anything fails).

    ``conditions`` must name the ``command`` that re-measures the figures, so that anyone
    can check them. Returns the path written.
    """
    if "command" not in conditions:
        raise ValueError("a record's conditions must include the 'command' that measured it, "
                         "so that the figures can be measured again")
    path = path_of(name) if directory is None else Path(directory) / f"{name}.json"
    text = json.dumps({"figures": figures, "conditions": conditions, "machine": machine(),
                       "minutes": round(minutes, 1)}, indent=2, ensure_ascii=False)
    write_text(path, text + "\n")
    return path
