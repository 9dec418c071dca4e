"""Pick a rank and target modules; read the LoraConfig and PEFT's trainable-parameter line.

For every choice the explorer writes the ``peft.LoraConfig`` you would put in your code and
the course's equivalent ``inject_lora`` call, then *builds* the PEFT model on a fresh copy
of the course model (a few milliseconds) and shows the line that PEFT's
``print_trainable_parameters()`` prints for it.

In a notebook: ``peft_config_explorer()``; in code and tests: ``PeftConfigExplorer``, whose
controls can be set from Python.
"""

import contextlib
import copy
import html
import io

import ipywidgets as widgets
from torch import nn

from ...common.display import show_widget
from ...core.inject import linear_module_names

RANKS = (1, 2, 4, 8, 16, 32, 64)


def short_names(model: nn.Module) -> list[str]:
    """The distinct last parts of the model's linear-layer names, in model order."""
    return list(dict.fromkeys(name.rsplit(".", 1)[-1] for name in linear_module_names(model)))


def config_source(r: int, targets: list[str]) -> str:
    """The ``LoraConfig(...)`` call for rank ``r`` on ``targets``, with alpha = 2r."""
    listed = ", ".join(f'"{t}"' for t in targets)
    return (f"LoraConfig(r={r}, lora_alpha={2 * r}, target_modules=[{listed}], "
            "lora_dropout=0.0)")


def inject_source(r: int, targets: list[str]) -> str:
    """The course's equivalent: ``inject_lora`` plus ``mark_only_lora_as_trainable``."""
    listed = ", ".join(f'"{t}"' for t in targets)
    return (f"inject_lora(model, [{listed}], r={r}, alpha={2 * r})\n"
            "mark_only_lora_as_trainable(model)")


def peft_trainable_line(model: nn.Module, r: int, targets: list[str]) -> str:
    """What ``print_trainable_parameters()`` prints for a PEFT copy of ``model``."""
    import peft

    config = peft.LoraConfig(r=r, lora_alpha=2 * r, target_modules=list(targets),
                             lora_dropout=0.0)
    peft_model = peft.get_peft_model(copy.deepcopy(model), config)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        peft_model.print_trainable_parameters()
    return printed.getvalue().strip()


class PeftConfigExplorer:
    """A rank selector and one checkbox per target module name; the config and count below.

    Attributes: ``r`` (a selection slider), ``targets`` (a dict of checkboxes keyed by
    short module name), ``output`` (HTML with the config, the ``inject_lora`` call and PEFT's
    line), ``line`` (the last trainable-parameter line, or ``None``) and ``widget``.
    """

    def __init__(self, model: nn.Module | None = None, r: int = 8,
                 targets=("q_proj", "v_proj")):
        if model is None:
            from ..models import load_pretrained

            model = load_pretrained(device="cpu")
        self.model = model
        names = short_names(model)
        unknown = set(targets) - set(names)
        if unknown:
            raise ValueError(f"Unknown target modules {sorted(unknown)}; the model's linear "
                             f"layers are named {names}.")
        self.r = widgets.SelectionSlider(options=RANKS, value=r, description="rank r",
                                         continuous_update=False)
        self.targets = {name: widgets.Checkbox(value=name in targets, description=name,
                                               indent=False,
                                               layout=widgets.Layout(width="110px"))
                        for name in names}
        self.output = widgets.HTML()
        self.line: str | None = None
        for control in (self.r, *self.targets.values()):
            control.observe(lambda change: self.update(), names="value")
        self.widget = widgets.VBox([self.r, widgets.HBox(list(self.targets.values())),
                                    self.output])
        self.update()

    def chosen(self) -> list[str]:
        return [name for name, box in self.targets.items() if box.value]

    def update(self) -> None:
        targets, r = self.chosen(), self.r.value
        if not targets:
            self.line = None
            self.output.value = ("<p>Tick at least one target module: LoRA needs layers to "
                                 "adapt.</p>")
            return
        self.line = peft_trainable_line(self.model, r, targets)
        def pre(text: str) -> str:
            return "<pre>" + html.escape(text, quote=False) + "</pre>"

        self.output.value = (
            "<p>PEFT:</p>" + pre(config_source(r, targets)) +
            "<p>The course's package, the same adapter:</p>" + pre(inject_source(r, targets)) +
            "<p>PEFT's <code>print_trainable_parameters()</code> for the course model:</p>" +
            pre(self.line))


def peft_config_explorer(model: nn.Module | None = None, r: int = 8,
                         targets=("q_proj", "v_proj")) -> None:
    """Display the explorer, with a static view for readers without a kernel."""
    explorer = PeftConfigExplorer(model, r, targets)
    static = (explorer.output.value +
              f"<p><em>A static view (r = {r}, targets {', '.join(targets)}): run the notebook "
              "to pick other ranks and modules.</em></p>")
    show_widget(explorer.widget, static)
