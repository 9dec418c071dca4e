"""``unchanged``: the one check that a refused operation left everything as it was.

A call that refuses its input must leave the model and the files exactly as they were: no
weight changed, no ``requires_grad`` flipped, no LoRA layer merged, unmerged, enabled or
disabled, no file written, removed or renamed. Wrap the refused call::

    with unchanged(model, tmp_path), pytest.raises(ValueError, match="..."):
        inject_lora(model, ["q_proj"], r=10**9)

and the block fails the test if anything moved.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

LORA_FLAGS = ("merged", "disabled")


def model_state(model: nn.Module) -> dict:
    """Everything about ``model`` a refusal could change: tensors, flags and structure."""
    return {
        "tensors": {name: tensor.detach().clone()
                    for name, tensor in model.state_dict(keep_vars=True).items()},
        "requires_grad": {name: p.requires_grad for name, p in model.named_parameters()},
        "modules": [(name, type(module).__name__) for name, module in model.named_modules()],
        "flags": {(name, flag): getattr(module, flag)
                  for name, module in model.named_modules()
                  for flag in LORA_FLAGS if hasattr(module, flag)},
        "training": {name: module.training for name, module in model.named_modules()},
    }


def tree_state(folder: Path) -> dict:
    """Every entry below ``folder``: files by content hash, links by target, folders as such."""
    state = {}
    for path in sorted(Path(folder).rglob("*")):
        key = path.relative_to(folder).as_posix()
        if path.is_symlink():
            state[key] = ("link", str(path.readlink()))
        elif path.is_dir():
            state[key] = ("dir",)
        elif path.is_file():
            state[key] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
        else:
            state[key] = ("other",)
    return state


def _same_models(before: dict, after: dict) -> list[str]:
    problems = []
    for key in ("requires_grad", "modules", "flags", "training"):
        if before[key] != after[key]:
            problems.append(f"{key} changed: {before[key]} -> {after[key]}")
    if before["tensors"].keys() != after["tensors"].keys():
        problems.append(f"state_dict keys changed: {sorted(before['tensors'])} -> "
                        f"{sorted(after['tensors'])}")
    else:
        for name, tensor in before["tensors"].items():
            other = after["tensors"][name]
            if tensor.device.type == "meta" or other.device.type == "meta":
                same = tensor.shape == other.shape and tensor.device == other.device
            else:
                same = tensor.shape == other.shape and torch.equal(tensor, other)
            if not same:
                problems.append(f"tensor {name!r} changed")
    return problems


@contextlib.contextmanager
def unchanged(*things: nn.Module | Path | str) -> Iterator[None]:
    """Fail if any model or folder in ``things`` differs after the block from before it.

    The block may raise (it usually should: put ``pytest.raises`` inside this one); the
    comparison happens either way, and then the exception goes on.
    """
    models = [t for t in things if isinstance(t, nn.Module)]
    folders = [Path(t) for t in things if not isinstance(t, nn.Module)]
    before = [model_state(m) for m in models], [tree_state(f) for f in folders]
    try:
        yield
    finally:
        problems = []
        for model, state in zip(models, before[0]):
            problems += _same_models(state, model_state(model))
        for folder, state in zip(folders, before[1]):
            after = tree_state(folder)
            if after != state:
                added = sorted(after.keys() - state.keys())
                removed = sorted(state.keys() - after.keys())
                changed = sorted(k for k in state.keys() & after.keys() if state[k] != after[k])
                problems.append(f"{folder}: added {added}, removed {removed}, changed {changed}")
        if problems:
            raise AssertionError("a refused call changed things:\n  " + "\n  ".join(problems))
