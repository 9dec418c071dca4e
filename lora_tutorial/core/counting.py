"""Count parameters and the bytes that training needs, the way PEFT reports them.

Everything here reads only shapes, dtypes and ``requires_grad`` flags, so it works just as
well on a model built on the ``meta`` device, which has shapes but no memory.
"""

from dataclasses import dataclass, field

import torch
from torch import nn

from ..common.tables import markdown_table

# Adam and AdamW keep two running averages per trainable weight: the first moment (a
# momentum) and the second moment (a per-weight scale). SGD with momentum keeps one.
OPTIMIZER_STATES_PER_PARAM = {"adam": 2, "adamw": 2, "sgd_momentum": 1, "sgd": 0}


@dataclass
class ParameterCount:
    """Trainable and total parameter counts, with a per-module breakdown.

    ``str(count)`` is exactly the line PEFT's ``print_trainable_parameters()`` prints.

    Introduced in notebook 01, §3.
    """

    trainable: int
    total: int
    by_module: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)

    @property
    def percent(self) -> float:
        return 100 * self.trainable / self.total if self.total else 0.0

    def __str__(self) -> str:
        return (f"trainable params: {self.trainable:,d} || all params: {self.total:,d} "
                f"|| trainable%: {self.percent:.4f}")

    def table(self, max_rows: int = 20) -> str:
        """The per-module breakdown as a Markdown table (trainable, total, trainable %)."""
        # A module whose parameters are all empty (numel 0) has no share to show.
        rows = [(name, f"{t:,d}", f"{n:,d}", f"{100 * t / n:.2f}" if n else "–")
                for name, (t, n) in list(self.by_module.items())[:max_rows]]
        hidden = len(self.by_module) - len(rows)
        if hidden > 0:
            rows.append((f"... {hidden} more modules", "", "", ""))
        rows.append(("**total**", f"{self.trainable:,d}", f"{self.total:,d}",
                     f"{self.percent:.2f}"))
        return markdown_table(["module", "trainable", "total", "trainable %"], rows)


def count_parameters(model: nn.Module, depth: int | None = None) -> ParameterCount:
    """Count the model's trainable and total parameters.

    ``by_module`` groups parameters by the module that owns them; ``depth`` cuts the dotted
    names to that many parts (``depth=2`` turns ``blocks.0.attn.q_proj.lora_A.weight``
    into ``blocks.0``), which keeps the table short for big models.

    Introduced in notebook 01, §3.
    """
    trainable = total = 0
    by_module: dict[str, tuple[int, int]] = {}
    for name, param in model.named_parameters():
        n = param.numel()
        t = n if param.requires_grad else 0
        trainable += t
        total += n
        owner = name.rsplit(".", 1)[0] if "." in name else "(top level)"
        if depth is not None:
            owner = ".".join(owner.split(".")[:depth])
        old_t, old_n = by_module.get(owner, (0, 0))
        by_module[owner] = (old_t + t, old_n + n)
    return ParameterCount(trainable, total, by_module)


def lora_parameter_count(d: int, k: int, r: int) -> int:
    """Trainable numbers LoRA adds to one d×k weight: A is r×k and B is d×r.

    Introduced in notebook 04, §1.
    """
    return r * (d + k)


@dataclass
class TrainingMemory:
    """Bytes held by weights, gradients and optimizer state (activations not included).

    Introduced in notebook 01, §1.
    """

    weights: int
    gradients: int
    optimizer_state: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer_state


def training_memory(model: nn.Module, optimizer: str = "adam") -> TrainingMemory:
    """Predict the memory training needs from the parameters alone.

    Gradients and optimizer state exist only for trainable parameters and use the
    parameter's dtype — which is why freezing most weights saves so much.

    Introduced in notebook 01, §1.
    """
    if optimizer not in OPTIMIZER_STATES_PER_PARAM:
        raise ValueError(f"Unknown optimizer {optimizer!r}; choose one of "
                         f"{sorted(OPTIMIZER_STATES_PER_PARAM)}.")
    weights = gradients = 0
    for param in model.parameters():
        size = param.numel() * param.element_size()
        weights += size
        gradients += size if param.requires_grad else 0
    return TrainingMemory(weights, gradients, gradients * OPTIMIZER_STATES_PER_PARAM[optimizer])


def gradient_bytes(model: nn.Module) -> int:
    """Bytes of the ``.grad`` tensors that actually exist right now.

    Introduced in notebook 01, §3.
    """
    return sum(p.grad.numel() * p.grad.element_size()
               for p in model.parameters() if p.grad is not None)


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes of the tensors an optimizer actually holds in its state (e.g. Adam's moments).

    Introduced in notebook 01, §3.
    """
    return sum(value.numel() * value.element_size()
               for state in optimizer.state.values() for value in state.values()
               if torch.is_tensor(value))


def format_bytes(n: float) -> str:
    """Human-readable size: ``format_bytes(3_500_000) == '3.50 MB'`` (powers of 1000).

    Introduced in notebook 01, §1.
    """
    units = ["B", "kB", "MB", "GB", "TB"]
    step = 0
    while abs(n) >= 1000 and step < len(units) - 1:
        n /= 1000
        step += 1
    return f"{n:.0f} B" if step == 0 else f"{n:.2f} {units[step]}"

