"""The core and its variants as a whole: every public object says where the course
introduces it, in one style ("Introduced in notebook 03, §4."), and that place exists."""

import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import pytest

import lora_tutorial

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"
INTRODUCED = re.compile(r"Introduced in notebook (\d\d), §(\d+)\.")
PARTS = ("core", "variants")


def modules():
    for part in PARTS:
        package = importlib.import_module(f"lora_tutorial.{part}")
        for info in pkgutil.iter_modules(package.__path__):
            yield importlib.import_module(f"lora_tutorial.{part}.{info.name}")


def public_objects():
    """Every public function and class defined in a core or variants module, and every
    name the package root exports from them."""
    found = {}
    for module in modules():
        for name, value in vars(module).items():
            if (not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
                    and value.__module__ == module.__name__):
                found[f"{module.__name__}.{name}"] = value
    for module, names in lora_tutorial._EXPORTS.items():
        if module.startswith(PARTS):
            for name in names:
                found[f"lora_tutorial.{name}"] = getattr(lora_tutorial, name)
    return found


def sections(notebook: Path) -> set[int]:
    cells = json.loads(notebook.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return {int(n) for n in re.findall(r"^## (\d+) · ", text, flags=re.MULTILINE)}


OBJECTS = public_objects()


def test_the_list_of_public_objects_is_the_whole_core():
    assert len(OBJECTS) > 60
    assert {"lora_tutorial.inject_lora", "lora_tutorial.core.settings.LoRASettings",
            "lora_tutorial.variants.quantize.Linear4bit"} <= set(OBJECTS)


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_every_public_object_says_where_the_course_introduces_it(name):
    doc = OBJECTS[name].__doc__ or ""
    places = INTRODUCED.findall(doc)
    assert len(places) == 1, f"{name}: no (or more than one) 'Introduced in notebook NN, §N.'"
    number, section = places[0]
    notebooks = sorted(SOLUTIONS.glob(f"{number}_*.ipynb"))
    assert len(notebooks) == 1, f"{name}: there is no notebook {number}"
    assert int(section) in sections(notebooks[0]), f"{name}: no §{section} in {notebooks[0].name}"


def test_one_style_only():
    for module in modules():
        source = inspect.getsource(module)
        assert not re.search(r"Built in notebook|[Ii]ntroduced in notebook \d+ §", source), \
            module.__name__
