"""Checker for notebook 4's exercise: count LoRA's trainable parameters from layer shapes.

The learner writes ``lora_param_count(shapes, r, targets) -> int`` where

* ``shapes`` maps module names (dotted, e.g. ``"blocks.0.attn.q_proj"``) to the weight's
  shape ``(d, k)`` = (out_features, in_features), as ``module.weight.shape`` gives it;
* ``r`` is the rank;
* ``targets`` lists module names; a module is adapted when its name *is* a target or ends in
  ``"." + target``, the rule of notebook 3 (``inject_lora``) and of PEFT's ``target_modules``
  list: ``"q_proj"`` and ``"attn.q_proj"`` both match ``"blocks.0.attn.q_proj"``, and neither
  matches ``"blocks.0.attn.xq_proj"``.

:func:`check_lora_param_count` runs it on cases chosen so that each usual mistake gives a
different wrong number, and names the mistake.
"""

import numbers

from . import ExerciseError, call_learner, checker
from ..facts import GPT2_SMALL

_D, _F = GPT2_SMALL.d_model, GPT2_SMALL.d_ff   # 768, 3,072
_BLOCK = {"attn.q_proj": (_D, _D), "attn.k_proj": (_D, _D), "attn.v_proj": (_D, _D),
          "attn.o_proj": (_D, _D), "fc1": (_F, _D), "fc2": (_D, _F)}


# Names that only the right rule tells apart: a substring match or a suffix without the dot
# also picks xq_proj (and a substring q_proj_gate); comparing only the last part of the name
# misses a dotted target such as "attn.q_proj".
_NEAR_MISSES = {"blocks.0.attn.q_proj": (64, 64), "blocks.0.attn.xq_proj": (32, 64),
                "blocks.0.mlp.q_proj_gate": (96, 64), "blocks.1.attn.q_proj": (64, 64),
                "blocks.1.attn.v_proj": (64, 64), "head": (10, 64)}
_WRONG_RULES = {
    "substring": (lambda name, target: target in name,
                  "you matched the targets as substrings, so {target!r} also picked {extra}, "
                  "which are other layers"),
    "suffix without a dot": (lambda name, target: name.endswith(target),
                             "name.endswith(target) also picked {extra}: compare with "
                             "'.' + target, so that the target is a whole part of the name"),
    "last part only": (lambda name, target: name.split(".")[-1] == target,
                       "you compared only the last part of each name, which never equals a "
                       "dotted target such as {target!r}"),
}


def _matches(name: str, target: str) -> bool:
    """Notebook 3's rule (``inject_lora``, PEFT): the whole name, or a dotted ending."""
    return name == target or name.endswith("." + target)


def _check_matching_rule(fn) -> None:
    """Targets that a substring, a suffix without the dot or a last-part rule get wrong."""
    r = 2
    for targets in (["q_proj"], ["attn.q_proj"], ["blocks.1.attn.q_proj"], ["head"]):
        got = _call(fn, _NEAR_MISSES, r, targets)
        picked = [n for n in _NEAR_MISSES if any(_matches(n, t) for t in targets)]
        expected = sum(r * sum(_NEAR_MISSES[n]) for n in picked)
        if got == expected:
            continue
        reason = "match a name when it equals a target or ends in '.' + target"
        for rule, message in _WRONG_RULES.values():
            chosen = [n for n in _NEAR_MISSES if any(rule(n, t) for t in targets)]
            if chosen != picked and got == sum(r * sum(_NEAR_MISSES[n]) for n in chosen):
                extra = ", ".join(sorted(set(chosen) - set(picked))) or "nothing"
                reason = message.format(target=targets[0], extra=extra)
                break
        raise ExerciseError(
            f"For the layers {list(_NEAR_MISSES)} with targets={targets} at r={r} you returned "
            f"{got:,d}, expected {expected:,d} (only {', '.join(picked)}): {reason}. Notebook "
            "3's rule, the one inject_lora and PEFT use: a layer is adapted when its name is a "
            "target or ends in '.' + target — any(name == t or name.endswith('.' + t) for t "
            "in targets).")


def gpt2_shapes() -> dict[str, tuple[int, int]]:
    """The weight shapes of GPT-2 small's linear layers, named like the meta skeleton's."""
    return {f"blocks.{i}.{name}": shape for i in range(GPT2_SMALL.n_layers)
            for name, shape in _BLOCK.items()}


def _call(fn, shapes, r, targets):
    result = call_learner(fn, dict(shapes), r, list(targets),
                          context=f"lora_param_count(shapes, r={r}, targets={targets})")
    if isinstance(result, bool) or not isinstance(result, numbers.Integral):
        if hasattr(result, "item") and float(result) == int(result):
            raise ExerciseError(f"Return a plain Python int (got {type(result).__name__}); "
                                "call int(...) on it.")
        if isinstance(result, float) and result.is_integer():
            raise ExerciseError(f"Return an int, not the float {result}: parameter counts are "
                                f"whole " "numbers (use integer arithmetic, no '/').")
        raise ExerciseError(f"lora_param_count should return an int, got {result!r}.")
    return int(result)


def _one_matrix(fn, d: int, k: int, r: int) -> None:
    got = _call(fn, {"layer": (d, k)}, r, ["layer"])
    expected = r * (d + k)
    if got == expected:
        return
    mistakes = {
        d * k: "that is d·k, the full matrix. LoRA trains A (r×k) and B (d×r) instead",
        r * d * k: "that is r·d·k. A has r·k numbers and B has d·r, and they are added, "
                   "not multiplied",
        2 * r * d: "that is 2·r·d: you used d for both matrices, but A is r×k",
        2 * r * k: "that is 2·r·k: you used k for both matrices, but B is d×r",
        r * k: "that is only A (r×k): add B's d·r numbers",
        r * d: ("that is only B (d×r): add A's r·k numbers" if d != k else
                "that is only one of the two matrices: add the other's r·d numbers"),
        r * r * (d + k): "that is r²·(d+k): multiply by r once",
        0: "no layer matched, but the one layer here is called 'layer', exactly the target: a "
           "name matches when it equals a target or ends in '.' + target",
    }
    reason = mistakes.get(got, "it should be r·(d+k): A is r×k and B is d×r")
    raise ExerciseError(f"For one {d}×{k} weight at r={r} you returned {got:,d}, expected "
                        f"{expected:,d}: {reason}.")


@checker("write lora_param_count above")
def check_lora_param_count(fn) -> str:
    """Check ``lora_param_count(shapes, r, targets)``; raise ``ExerciseError`` if wrong."""
    _one_matrix(fn, 4096, 4096, 8)   # the LoRA course's running example: 65,536
    _one_matrix(fn, 3072, 768, 4)    # non-square, like GPT-2's fc1: catches d/k mix-ups

    block = {f"blocks.0.{name}": shape for name, shape in _BLOCK.items()}
    got = _call(fn, block, 2, ["q_proj", "v_proj"])
    expected = 2 * 2 * (768 + 768)
    if got != expected:
        every = sum(2 * (d + k) for d, k in block.values())
        if got == every:
            raise ExerciseError(f"You counted every layer ({got:,d}); only those whose name is "
                                f"in a target (here q_proj and v_proj) are adapted: expected "
                                f"{expected:,d}.")
        if got == 0:
            raise ExerciseError("No layer matched the targets. Names are dotted "
                                "('blocks.0.attn.q_proj'): a layer is adapted when its name is "
                                "a target or ends in '.' + target.")
        raise ExerciseError(f"For one GPT-2 block with targets q_proj, v_proj at r=2 you returned "
                            f"{got:,d}, expected {expected:,d} = 2 layers × 2·(768+768).")

    shapes = gpt2_shapes()
    got = _call(fn, shapes, 8, ["q_proj", "v_proj"])
    expected = 12 * 2 * 8 * (768 + 768)
    if got != expected:
        raise ExerciseError(f"For all of GPT-2 small (12 blocks), q_proj and v_proj at r=8, you "
                            f"returned {got:,d}, expected {expected:,d}. Does your function add "
                            f"up every block?")
    got = _call(fn, shapes, 4, ["fc1", "fc2"])
    expected = 12 * 2 * 4 * (3072 + 768)
    if got != expected:
        raise ExerciseError(f"For GPT-2 small's fc1 and fc2 at r=4 you returned {got:,d}, "
                            f"expected {expected:,d}. Targets can be any layer names, not only "
                            f"attention ones.")
    _check_matching_rule(fn)
    if _call(fn, shapes, 8, ["no_such_layer"]) != 0:
        raise ExerciseError("A target that matches no layer should add nothing (return 0 when "
                            "nothing matches).")
    return ("r·(d+k) for every weight whose name is a target or ends in '.' + target, summed "
            "over all layers.")
