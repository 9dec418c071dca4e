"""The package's layout: imports between its parts go one way only.

``common`` (files, tables, display, the command-line handler) needs no other part; the LoRA
``core`` builds on it; ``variants`` on the core; ``serving`` on both; the quiz engine only on
``common``; the ``course`` on all of them. An import against that order (say the core
reaching into the course's models) would tie LoRA to the workshop around it. This test reads
every module's imports (without running them) and names any that go the wrong way.
"""

import ast
from pathlib import Path

import lora_tutorial

PACKAGE = Path(lora_tutorial.__file__).parent

ALLOWED = {
    "common": set(),
    "core": {"common"},
    "variants": {"common", "core"},
    "serving": {"common", "core", "variants"},
    "quiz": {"common"},
    "course": {"common", "core", "variants", "serving", "quiz"},
}


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "lora_tutorial" and len(parts) > 1 else None


def _imported_modules(source: str, package: str) -> set[str]:
    """Absolute names of the lora_tutorial modules that ``source``, a module of ``package``,
    imports (``from ..common import files`` in ``lora_tutorial.core`` counts as
    ``lora_tutorial.common``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("lora_tutorial.")}


def test_every_module_belongs_to_a_known_part():
    parts = {path.relative_to(PACKAGE).parts[0] for path in PACKAGE.rglob("*.py")
             if len(path.relative_to(PACKAGE).parts) > 1}
    assert parts == set(ALLOWED), (f"new part(s) {sorted(parts - set(ALLOWED))}: add them to "
                                   "ALLOWED with the parts they may import, and to the README")


def test_imports_between_parts_go_one_way():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        inside = path.relative_to(PACKAGE).parts
        if len(inside) == 1:
            continue  # the package's face (__init__, __main__) may reach every part
        part = inside[0]
        package = ".".join(("lora_tutorial", *inside[:-1]))
        for module in _imported_modules(path.read_text(encoding="utf-8"), package):
            other = _part(module)
            if other and other != part and other not in ALLOWED[part]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module} ({part} -> {other})")
    assert not wrong, "imports against the layout's order:\n  " + "\n  ".join(wrong)


def test_relative_and_absolute_imports_are_both_resolved():
    source = ("from ..common.tables import markdown_table\n"
              "from ...course.models import gpt\n"
              "from . import settings\n"
              "import lora_tutorial.quiz.model\n"
              "import torch\n")
    assert _imported_modules(source, "lora_tutorial.core.sub") == {
        "lora_tutorial.core.common.tables", "lora_tutorial.course.models",
        "lora_tutorial.core.sub", "lora_tutorial.quiz.model"}
    assert _imported_modules("from ..course import facts\n", "lora_tutorial.core") == {
        "lora_tutorial.course"}
