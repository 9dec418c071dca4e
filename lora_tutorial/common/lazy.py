"""Lazy exports for a package's ``__init__`` (PEP 562's module ``__getattr__``).

A package lists which submodule defines each public name; a submodule is imported only when
one of its names is first used. So ``import lora_tutorial.quiz`` never pays for PyTorch, and
the command line never loads ipywidgets.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, tuple[str, ...]],
                 namespace: dict, modules: tuple[str, ...] = ()
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose globals are ``namespace``.

    ``exports`` maps a submodule (relative, e.g. ``"core.layers"``) to the names it defines;
    ``modules`` names submodules reachable as attributes (``lora_tutorial.core``). A name is
    imported on first use, then cached in ``namespace`` so the next use is a plain lookup.
    """
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        if name in modules:
            return importlib.import_module(f".{name}", package)
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(module_of) | set(modules))

    return __getattr__, __dir__
