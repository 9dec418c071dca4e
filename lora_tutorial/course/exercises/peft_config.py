"""Checker for notebook 7's exercise: write the ``LoraConfig`` that matches an ``inject_lora`` call.

The call to reproduce is :data:`TARGET_CALL`. The learner writes a ``peft.LoraConfig`` and
:func:`check_lora_config` compares it field by field (including PEFT's own settings that would
build another adapter: ``init_lora_weights``, ``rank_pattern``, ``alpha_pattern``), then builds both models on fresh
copies of the course model and checks that they adapt the same modules with the same
number of trainable parameters.
"""

import copy

from . import ExerciseError, checker, require_attempted
from ...core.counting import count_parameters
from ...core.inject import inject_lora, mark_only_lora_as_trainable

TARGETS = ["q_proj", "v_proj", "fc1", "fc2"]
R, ALPHA, DROPOUT = 4, 16, 0.05
TARGET_CALL = (f"inject_lora(model, target_modules={TARGETS}, r={R}, alpha={ALPHA}, "
               f"dropout={DROPOUT})").replace("'", '"')
"""The call whose PEFT equivalent the learner writes."""


def _adapted_by_peft(peft_model) -> list[str]:
    import peft

    inner = peft_model.base_model.model
    return [name for name, module in inner.named_modules()
            if isinstance(module, peft.tuners.lora.LoraLayer)]


def _shown(target_modules) -> str:
    """target_modules as text; PEFT keeps a list as a set, so sort it for a stable order."""
    if isinstance(target_modules, str):
        return repr(target_modules)
    return repr(sorted(target_modules))


def _check_fields(config) -> None:
    r, alpha = config.r, config.lora_alpha
    if r != R:
        if r == ALPHA and alpha == R:
            raise ExerciseError(f"r and lora_alpha are swapped: the call has rank r={R} and "
                                f"alpha={ALPHA}, so write r={R}, lora_alpha={ALPHA}.")
        if r == 8:
            raise ExerciseError(f"r is 8, PEFT's default: did you forget to set it? The call uses "
                                f"r={R}.")
        raise ExerciseError(f"r is {r!r}, but the call uses rank r={R}.")
    if alpha != ALPHA:
        if alpha == ALPHA / R:
            raise ExerciseError(f"lora_alpha is {alpha!r}: that is the scaling alpha/r = "
                                f"{ALPHA}/{R}. PEFT's lora_alpha is alpha itself ({ALPHA}); PEFT "
                                f"divides by r on its own.")
        if alpha == 8:
            raise ExerciseError(f"lora_alpha is 8, PEFT's default: set lora_alpha={ALPHA} "
                                f"(inject_lora's " "alpha).")
        raise ExerciseError(f"lora_alpha is {alpha!r}, but the call uses alpha={ALPHA}.")
    if config.lora_dropout != DROPOUT:
        if config.lora_dropout == 0.0:
            raise ExerciseError(f"lora_dropout is 0.0 (the default). inject_lora's "
                                f"dropout={DROPOUT} is PEFT's lora_dropout={DROPOUT}.")
        raise ExerciseError(f"lora_dropout is {config.lora_dropout!r}, but the call uses "
                            f"dropout={DROPOUT}.")
    if getattr(config, "use_rslora", False):
        raise ExerciseError("use_rslora=True scales by alpha/√r; the call uses the classic "
                            "alpha/r (inject_lora's use_rslora=False). Leave use_rslora at False.")
    if getattr(config, "use_dora", False):
        raise ExerciseError("use_dora=True turns the adapter into DoRA (magnitude + direction); "
                            "the call builds plain LoRA. Leave use_dora at False.")
    if config.bias != "none":
        raise ExerciseError(f"bias={config.bias!r} makes biases trainable too; inject_lora with "
                            "mark_only_lora_as_trainable trains none, which is bias=\"none\".")
    init = getattr(config, "init_lora_weights", True)
    if init is False:
        raise ExerciseError("init_lora_weights=False starts B random, so the adapted model no "
                            "longer starts equal to the base; the call starts B at zero. Leave "
                            "init_lora_weights at its default, True.")
    if init is not True:
        raise ExerciseError(f"init_lora_weights={init!r} draws A (or both factors) another way "
                            "than the call, which draws A Kaiming-uniform and sets B to zero: "
                            "PEFT's default, init_lora_weights=True. Leave it out.")
    patterns = {name: getattr(config, name, None) for name in ("rank_pattern", "alpha_pattern")}
    patterns = {name: value for name, value in patterns.items() if value}
    if patterns:
        shown = ", ".join(f"{name}={value!r}" for name, value in patterns.items())
        raise ExerciseError(f"{shown} gives some modules another rank or alpha; the call uses "
                            f"r={R} and alpha={ALPHA} for every module. Leave it out.")
    if config.modules_to_save:
        raise ExerciseError(f"modules_to_save={config.modules_to_save!r} would train full copies "
                            f"of those " "modules; the call trains only LoRA's A and B. Leave it "
                            "out.")


@checker("write my_config above")
def check_lora_config(config) -> str:
    """Check a learner's ``LoraConfig`` against :data:`TARGET_CALL`."""
    import peft

    require_attempted(config)

    from ..models import load_pretrained

    if not isinstance(config, peft.LoraConfig):
        raise ExerciseError(f"Expected a peft.LoraConfig, got {type(config).__name__}. Build it "
                            f"with " "peft.LoraConfig(r=..., lora_alpha=..., ...).")
    if config.target_modules is None:
        raise ExerciseError(f"target_modules is not set. For this model PEFT cannot guess the "
                            f"targets: list the modules the call adapts, {TARGETS}.")
    _check_fields(config)

    base = load_pretrained(device="cpu")
    ours = copy.deepcopy(base)
    expected = inject_lora(ours, TARGETS, r=R, alpha=ALPHA, dropout=DROPOUT)
    mark_only_lora_as_trainable(ours)
    regex_hint = ""
    if isinstance(config.target_modules, str):
        regex_hint = (" A single string is a regular expression that must match the *whole* "
                      "module name (such as 'blocks.0.attn.q_proj'); a list of short names "
                      "is simpler.")
    try:
        peft_model = peft.get_peft_model(copy.deepcopy(base), copy.deepcopy(config))
    except ValueError as error:
        raise ExerciseError(f"PEFT could not apply your config to the course model: "
                            f"{error}{regex_hint}")
    got = _adapted_by_peft(peft_model)
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    if missing or extra:
        raise ExerciseError(f"Your target_modules={_shown(config.target_modules)} adapts other "
                            f"modules than the call. Missing: {missing or 'none'}. Extra: "
                            f"{extra or 'none'}.{regex_hint}")

    trainable, total = peft_model.get_nb_trainable_parameters()
    ours_count = count_parameters(ours)
    if (trainable, total) != (ours_count.trainable, ours_count.total):
        raise ExerciseError(f"Same modules, but PEFT trains {trainable:,d} of {total:,d} "
                            f"parameters and the call {ours_count.trainable:,d} of "
                            f"{ours_count.total:,d}. Check r and bias.")
    return (f"r={R}, lora_alpha={ALPHA} (scaling {ALPHA // R}), lora_dropout={DROPOUT}, "
            f"target_modules={_shown(config.target_modules)}: the same {len(expected)} "
            f"modules and {trainable:,d} trainable parameters as the inject_lora call.")
