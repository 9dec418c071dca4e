"""Checker for notebook 3's exercise: write a LoRA layer yourself.

The learner's class is called as ``cls(base, r, alpha)`` (``dropout`` defaults to 0.0: no
dropout unless asked) and as ``cls(base, r, alpha, dropout=0.5)``, and must hold

* the frozen pretrained layer as ``base`` (or ``base_layer``, PEFT's name),
* ``A`` with shape r×k and ``B`` with shape d×r (or ``lora_A``/``lora_B``), either as
  ``nn.Parameter`` tensors or as bias-free ``nn.Linear`` layers (then their ``.weight``);
  ``A`` drawn Kaiming-uniform with ``a=√5`` as PEFT and ``nn.Linear`` draw it (uniform in
  ±1/√k), ``B`` zero;
* a ``forward(x)`` that computes ``base(x) + (alpha / r) · B·A·dropout(x)``: dropout acts on
  the input of the LoRA path only, never on the base path or on an output.

:func:`check_lora_layer` tries it on a small non-square layer and stops at the first problem
with a message that says what is wrong and why it matters.
"""

import itertools

import torch
from torch import nn

from . import ExerciseError, call_learner, checker

D, K, R, ALPHA = 6, 10, 4, 8  # non-square, and alpha/r = 2 differs from 1, alpha/√r and r/alpha


def _find(layer: nn.Module, names: tuple[str, ...], what: str):
    for name in names:
        if hasattr(layer, name):
            return name, getattr(layer, name)
    raise ExerciseError(f"Your layer has no attribute {' or '.join(repr(n) for n in names)}: "
                        f"store {what} as self.{names[0]} so the checker (and a reader) can find "
                        f"it.")


def _weight(value, name: str) -> torch.Tensor:
    if isinstance(value, nn.Linear):
        if value.bias is not None:
            raise ExerciseError(f"self.{name} is an nn.Linear with a bias. LoRA's A and B have no "
                                "bias (nn.Linear(..., bias=False)): the update is exactly "
                                "B·A.")
        return value.weight
    if isinstance(value, torch.Tensor):
        return value
    raise ExerciseError(f"self.{name} should be an nn.Parameter (or a bias-free nn.Linear), got "
                        f"{type(value).__name__}.")


def _parts(layer: nn.Module):
    _, base = _find(layer, ("base", "base_layer"), "the frozen pretrained nn.Linear")
    a_name, a = _find(layer, ("A", "lora_A"), "the r×k matrix A")
    b_name, b = _find(layer, ("B", "lora_B"), "the d×r matrix B")
    return base, a_name, _weight(a, a_name), b_name, _weight(b, b_name)


def _build(cls, base: nn.Linear, dropout: float | None) -> nn.Module:
    """``cls(base, R, ALPHA, dropout=dropout)``, or without ``dropout`` when it is ``None``
    (the default the interface states, 0.0, must then apply)."""
    given = {} if dropout is None else {"dropout": dropout}
    call = f"{cls.__name__}(base, r={R}, alpha={ALPHA}" + (
        "" if dropout is None else f", dropout={dropout}") + ")"
    try:
        return call_learner(cls, base, R, ALPHA, **given, context=f"Calling {call}")
    except ExerciseError as error:
        if isinstance(error.__cause__, TypeError):
            default = (" Give dropout its default, so that a layer without dropout needs no "
                       "argument." if dropout is None else "")
            raise ExerciseError(f"Calling {call} failed ({error.__cause__}). The signature should "
                                f"be " f"__init__(self, base, r, alpha, dropout=0.0).{default}")
        raise


def _base_layer(generator: torch.Generator) -> nn.Linear:
    """A k→d linear layer with values from the checker's own generator."""
    base = nn.Linear(K, D)
    with torch.no_grad():
        base.weight.copy_(torch.randn(D, K, generator=generator) / K ** 0.5)
        base.bias.copy_(0.1 * torch.randn(D, generator=generator))
    return base


def _forward(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return call_learner(layer, x, context=f"Your layer's forward on an input of shape "
                                          f"{tuple(x.shape)}")


def _check_scale_of_A(A: torch.Tensor) -> None:
    """A must look Kaiming-uniform with a=√5: uniform in ±1/√k, so its std is 1/√(3k)."""
    bound = 1 / K ** 0.5
    largest, std = A.abs().max().item(), A.std().item()
    if largest > bound * (1 + 1e-6) or std < bound / 3 ** 0.5 / 2:
        raise ExerciseError(
            f"Your A has the wrong scale: its values reach {largest:.3f} with a standard "
            f"deviation of {std:.3f}, but Kaiming-uniform with a=√5 (what PEFT and nn.Linear "
            f"use) draws them uniformly from ±1/√k = ±{bound:.3f} for k={K} inputs (standard "
            f"deviation 1/√(3k) = {bound / 3 ** 0.5:.3f}). torch.randn gives standard "
            "deviation 1, so A·x, and with it every update B·A·x, starts about √(3k) times too "
            "large and training starts off balance. Initialise with "
            "nn.init.kaiming_uniform_(self.A, a=math.sqrt(5)).")


def _only_on_the_lora_input(layer: nn.Module, base: nn.Linear, A: torch.Tensor,
                            B: torch.Tensor, x: torch.Tensor, p: float) -> bool:
    """Whether each row of ``layer(x) - base(x)`` (training mode) is ``(alpha/r)·B·A·m·x/(1-p)``
    for *some* 0/1 mask ``m`` of the k inputs: dropout on the LoRA path's input, as PEFT does.

    With k = 10 there are only 1,024 masks, so all of them are tried; dropout after A, or on
    the LoRA output, gives a difference that no mask of the input explains.
    """
    masks = torch.tensor(list(itertools.product((0.0, 1.0), repeat=K)))
    delta = _forward(layer, x) - base(x)
    for row, change in zip(x, delta):
        possible = (ALPHA / R) * ((masks * row) @ A.T @ B.T) / (1 - p)
        if (possible - change).abs().amax(dim=1).min() > 1e-5:
            return False
    return True


@checker("write MyLoRALinear above")
def check_lora_layer(cls) -> str:
    """Check a learner's LoRA layer class; raise ``ExerciseError`` with advice if wrong.

    The checks draw their data from their own generator; the caller's random state is left
    as it was.
    """
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)   # what the learner's constructor draws (A) is the same on every run
    base = _base_layer(generator)
    w0 = base.weight.detach().clone()
    layer = _build(cls, base, dropout=None)   # dropout left at its default, 0.0
    if not isinstance(layer, nn.Module):
        raise ExerciseError("Your class should subclass nn.Module (call super().__init__() "
                            "first), so that A and B are registered as parameters and "
                            ".train()/.eval() work.")
    base_part, a_name, A, b_name, B = _parts(layer)

    if any(p.requires_grad for p in base_part.parameters()):
        raise ExerciseError("The base layer is not frozen: its weight still has "
                            "requires_grad=True, so W0 would get gradients and optimizer state "
                            "and be changed by training — exactly what LoRA avoids. Call "
                            "base.requires_grad_(False).")
    if not torch.equal(base_part.weight.detach(), w0):
        raise ExerciseError("The base weight changed when your layer was built. LoRA keeps W0 "
                            "exactly as pretrained; only A and B are new.")
    trainable = {id(p) for p in layer.parameters() if p.requires_grad}
    for name, w in ((a_name, A), (b_name, B)):
        if id(w) not in trainable:
            raise ExerciseError(f"self.{name} is not a trainable parameter of the layer. Wrap it "
                                f"in " "nn.Parameter (assigned as an attribute) so the optimizer "
                                "sees it.")

    if tuple(A.shape) != (R, K):
        hint = (" It looks transposed." if tuple(A.shape) == (K, R) else "")
        raise ExerciseError(f"A has shape {tuple(A.shape)}, expected r×k = ({R}, {K}) for a base "
                            f"layer with k={K} inputs and d={D} outputs: A maps the k inputs down "
                            f"to r numbers.{hint}")
    if tuple(B.shape) != (D, R):
        hint = (" It looks transposed." if tuple(B.shape) == (R, D) else "")
        raise ExerciseError(f"B has shape {tuple(B.shape)}, expected d×r = ({D}, {R}): B maps "
                            f"the r numbers back up to the d outputs, so B·A has W0's shape "
                            f"d×k.{hint}")

    if torch.count_nonzero(B.detach()) > 0:
        raise ExerciseError("Your B is not zero-initialised, so the adapted model no longer "
                            "starts equal to the base: before any training, B·A ≠ 0 already "
                            "changes every output. Initialise B with zeros (nn.init.zeros_).")
    if torch.count_nonzero(A.detach()) == 0:
        raise ExerciseError("Your A is all zeros. With A = 0 and B = 0, both gradients are zero "
                            "(B's gradient needs A·x, A's needs B), so the adapter never learns. "
                            "Initialise A randomly (nn.init.kaiming_uniform_(A, a=math.sqrt(5))).")

    _check_scale_of_A(A.detach())

    x = torch.randn(5, K, generator=generator)
    layer.eval()
    with torch.no_grad():
        start = _forward(layer, x)
        if start.shape != (5, D):
            raise ExerciseError(f"forward returned shape {tuple(start.shape)} for an input of "
                                f"shape (5, {K}); expected (5, {D}), like the base layer's output.")
        if torch.count_nonzero(start) == 0:
            raise ExerciseError("With B = 0 your layer returns zeros: forward must add the frozen "
                                "path base(x) — LoRA adds an update to the pretrained layer, it "
                                "does not replace it.")
        if not torch.allclose(start, base(x), atol=1e-6):
            raise ExerciseError("With B = 0 your layer's output differs from the base layer's. At "
                                "the start the LoRA path adds exactly zero, so forward must "
                                "return base(x) + the LoRA term, nothing else (does forward use "
                                "W0 through self.base?).")

        # Now pretend B was trained, and compare against the formula and its usual mistakes.
        B.copy_(torch.randn(D, R, generator=generator) * 0.5)
        out = _forward(layer, x)
        lora = x @ A.T @ B.T
        candidates = {
            "right": base(x) + (ALPHA / R) * lora,
            "no scaling": base(x) + lora,
            "rsLoRA": base(x) + (ALPHA / R ** 0.5) * lora,
            "inverted": base(x) + (R / ALPHA) * lora,
        }
        found = next((name for name, value in candidates.items()
                      if torch.allclose(out, value, atol=1e-5)), None)
    messages = {
        "no scaling": "You forgot the scaling: the output is base(x) + B·A·x, but LoRA "
                      f"multiplies the update by alpha/r (here {ALPHA}/{R} = {ALPHA / R:g}).",
        "rsLoRA": "You scaled by alpha/√r, rsLoRA's rule. This exercise (and the LoRA paper) "
                  f"uses alpha/r (here {ALPHA}/{R} = {ALPHA / R:g}).",
        "inverted": f"Your scaling is upside down: r/alpha instead of alpha/r = {ALPHA / R:g}.",
    }
    if found != "right":
        raise ExerciseError(messages.get(found, "With a non-zero B your output does not match "
                                         "base(x) + (alpha/r)·B·A·x. Check the order of the "
                                         "factors (x @ A.T @ B.T) and the scaling."))
    layer.train()
    with torch.no_grad():
        if not torch.allclose(_forward(layer, x), candidates["right"], atol=1e-5):
            raise ExerciseError("Built without a dropout argument, your layer changes its output "
                                "in training mode: the default must be dropout=0.0, no dropout "
                                "unless the caller asks for it.")

    # Dropout: only on the LoRA path, only in training mode.
    base = _base_layer(generator)
    layer = _build(cls, base, dropout=0.5)
    _, _, A, _, B = _parts(layer)
    layer.train()
    with torch.no_grad():
        if not torch.allclose(_forward(layer, x), base(x), atol=1e-6):
            raise ExerciseError("In training mode, with B = 0, your layer's output differs from "
                                "the base layer's: dropout seems to act on the base path too "
                                "(on the whole input x, or on the whole output). LoRA's dropout "
                                "regularises only the low-rank path, B·A·dropout(x); the frozen "
                                "path must compute exactly what the pretrained layer computes.")
        B.copy_(torch.randn(D, R, generator=generator) * 0.5)
        first, second = _forward(layer, x), _forward(layer, x)
        if torch.equal(first, second):
            raise ExerciseError("With dropout=0.5 in training mode, two calls gave identical "
                                "outputs: the dropout argument seems to be ignored. Apply "
                                "nn.Dropout(dropout) to x on the LoRA path: B·A·dropout(x).")
        if not _only_on_the_lora_input(layer, base, A, B, x, p=0.5):
            raise ExerciseError("With dropout=0.5 in training mode, your LoRA term is not "
                                "B·A·dropout(x) for any dropout mask of the input x: dropout "
                                "seems to act after A, or on the LoRA path's output. Apply it "
                                "to the input of the LoRA path, as PEFT does: "
                                "self.dropout(x) @ self.A.T @ self.B.T.")
        layer.eval()
        expected = base(x) + (ALPHA / R) * (x @ A.T @ B.T)
        if not torch.allclose(_forward(layer, x), expected, atol=1e-5):
            raise ExerciseError("In eval mode your layer is not deterministic or not equal "
                                "to base(x) + (alpha/r)·B·A·x: use nn.Dropout (which switches "
                                "off in eval mode) rather than a hand-made random mask.")
    return ("W0 frozen, A r×k Kaiming-uniform, B d×r zero (the layer starts equal to the "
            "base), update scaled by alpha/r, dropout only on the LoRA path's input.")
