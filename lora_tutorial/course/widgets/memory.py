"""How much memory inference, full fine-tuning and LoRA need, for a model of any size.

The accounting (activations left out, they depend on batch size and sequence length):

* **weights**: every parameter, in the chosen precision (fp32: 4 bytes; bf16/fp16: 2 bytes);
* **gradients**: one number per *trainable* parameter, in the same precision;
* **Adam state**: two numbers per trainable parameter (the running mean and the running
  mean of squares), kept in fp32 (4 bytes each) as mixed-precision trainers do;
* **fp32 master copy** (optional, 16-bit precisions only): mixed-precision training usually
  updates an fp32 copy of each trainable weight and rounds it to 16 bits for the next step,
  4 bytes more per trainable weight. In fp32 the weights are their own master copy.

LoRA here adapts ``W_q`` and ``W_v`` in every layer, as the LoRA paper's main experiments do
(Hu et al., 2021): each d×d projection gains r·(d + d) trainable numbers.
"""

import math
from dataclasses import dataclass

import ipywidgets as widgets
from matplotlib.figure import Figure

from ...core.counting import format_bytes, lora_parameter_count
from ...common.display import (COURSE_COLORS, HATCHES, REFERENCE_GREY, Picture, alt_text,
                               course_style, figure_to_html, figure_to_png, show_widget)
from ..facts import ADAM_STATE_BYTES, FP32_BYTES, MODEL_SHAPES

BYTES_PER_WEIGHT = {"fp32": FP32_BYTES, "bf16 / fp16": 2}
GPU_BYTES = 80e9  # one 80 GB accelerator (A100/H100 class)
SCENARIOS = ("inference", "full fine-tuning", "LoRA fine-tuning")
PARTS = ("weights", "fp32 master copy", "gradients", "Adam state")
CUSTOM = "custom size"


@dataclass(frozen=True)
class ModelSize:
    """A model's parameter count and the two shapes LoRA's count depends on."""

    n_params: int
    d_model: int
    n_layers: int


PRESETS = {name: ModelSize(shape.n_params, shape.d_model, shape.n_layers)
           for name, shape in MODEL_SHAPES.items()}
"""The course's table of real models, with the exact counts of their published shapes."""


def estimate_shape(n_params: float) -> ModelSize:
    """Guess (d_model, n_layers) for a model of ``n_params`` parameters.

    Assumes a GPT-style decoder with N ≈ 12·layers·d_model² and d_model = 128·layers, the
    proportions of GPT-3 6.7B–175B and LLaMA-2-7B. Only the LoRA count uses the guess.
    """
    n_layers = max(1, round((n_params / (12 * 128 ** 2)) ** (1 / 3)))
    return ModelSize(int(n_params), 128 * n_layers, n_layers)


def lora_qv_parameters(size: ModelSize, r: int) -> int:
    """Trainable numbers of LoRA with rank ``r`` on W_q and W_v (d×d each) in every layer."""
    return size.n_layers * 2 * lora_parameter_count(size.d_model, size.d_model, r)


def memory_breakdown(n_params: int, bytes_per_weight: int, lora_trainable: int,
                     master_copy: bool = False) -> dict[str, dict[str, int]]:
    """Bytes of weights, master copy, gradients and Adam state per scenario (no activations).

    ``master_copy`` adds an fp32 copy of every trainable weight (mixed precision); it is
    ignored for fp32 weights, which need no separate copy.
    """
    master = FP32_BYTES if master_copy and bytes_per_weight < FP32_BYTES else 0

    def train(frozen: int, trainable: int) -> dict[str, int]:
        return {"weights": (frozen + trainable) * bytes_per_weight,
                "fp32 master copy": trainable * master,
                "gradients": trainable * bytes_per_weight,
                "Adam state": trainable * ADAM_STATE_BYTES}

    return {"inference": train(n_params, 0),
            "full fine-tuning": train(0, n_params),
            "LoRA fine-tuning": train(n_params, lora_trainable)}


@course_style()
def memory_figure(breakdown: dict[str, dict[str, int]], title: str) -> Figure:
    """A stacked bar chart of ``breakdown`` in GB (made without pyplot: no stray figures)."""
    figure = Figure(figsize=(6.4, 3.2))
    ax = figure.subplots()
    bottoms = [0.0] * len(SCENARIOS)
    # Each part differs in colour and in pattern, so the legend reads in greyscale too.
    for part, color, hatch in zip(PARTS, COURSE_COLORS.values(), HATCHES):
        heights = [breakdown[s][part] / 1e9 for s in SCENARIOS]
        ax.bar(SCENARIOS, heights, bottom=bottoms, color=color, hatch=hatch, edgecolor="white",
               linewidth=0.5, label=part)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    for x, total in enumerate(bottoms):
        ax.annotate(f"{total:,.3g} GB", (x, total), ha="center", va="bottom", fontsize=9)
    ax.set_ylim(0, max(bottoms) * 1.18)
    if 0.25 < max(bottoms) * 1e9 / GPU_BYTES < 4:  # only where the line is readable
        ax.axhline(GPU_BYTES / 1e9, color=REFERENCE_GREY, linestyle="--", marker="",
                   linewidth=1)
        ax.annotate("one 80 GB GPU", (2.45, GPU_BYTES / 1e9), ha="right", va="bottom",
                    fontsize=8, color="dimgray")
    ax.set_ylabel("memory (GB, activations excluded)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    figure.tight_layout()
    return figure


def breakdown_table(breakdown: dict[str, dict[str, int]]) -> str:
    """The breakdown as an HTML table, with how many 80 GB accelerators it fills."""
    cells = lambda tag, row: "<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in row) + "</tr>"
    html = ["<table>", cells("th", ["", *PARTS, "total", "80 GB GPUs"])]
    for scenario in SCENARIOS:
        parts = breakdown[scenario]
        total = sum(parts.values())
        html.append(cells("td", [scenario, *(format_bytes(parts[p]) for p in PARTS),
                                 format_bytes(total), math.ceil(total / GPU_BYTES)]))
    return "\n".join(html + ["</table>"])


class MemoryExplorer:
    """Controls (model, precision, LoRA rank) and the chart + table they drive."""

    def __init__(self, preset: str = "LLaMA-2-7B", dtype: str = "bf16 / fp16", r: int = 8,
                 master_copy: bool = True):
        self.preset = widgets.Dropdown(options=[*PRESETS, CUSTOM], value=preset,
                                       description="model")
        self.custom_billions = widgets.BoundedFloatText(
            value=13.0, min=0.001, max=10_000.0, step=1.0, description="size (B)",
            disabled=preset != CUSTOM, layout=widgets.Layout(width="180px"))
        self.dtype = widgets.ToggleButtons(options=list(BYTES_PER_WEIGHT), value=dtype,
                                           description="precision")
        self.r = widgets.SelectionSlider(options=[1, 2, 4, 8, 16, 32, 64, 128], value=r,
                                         description="LoRA r")
        self.master_copy = widgets.Checkbox(
            value=master_copy, description="fp32 master copy of trainable weights (mixed "
            "precision)", indent=False, layout=widgets.Layout(width="auto"))
        self.image = Picture()
        self.table = widgets.HTML()
        self.note = widgets.HTML()
        for control in (self.preset, self.custom_billions, self.dtype, self.r, self.master_copy):
            control.observe(lambda change: self.update(), names="value")
        self.widget = widgets.VBox([
            widgets.HBox([self.preset, self.custom_billions]), self.dtype, self.master_copy, self.r,
            self.image, self.table, self.note])
        self.update()

    def size(self) -> ModelSize:
        if self.preset.value == CUSTOM:
            return estimate_shape(self.custom_billions.value * 1e9)
        return PRESETS[self.preset.value]

    def title(self) -> str:
        name = self.preset.value if self.preset.value != CUSTOM else \
            f"{self.custom_billions.value:g}B-parameter model"
        return f"{name}, {self.dtype.value}, Adam: memory by scenario"

    def alt_lead(self) -> str:
        """What the chart shows, for its text alternative (with each scenario's total)."""
        totals = ", ".join(f"{scenario} {format_bytes(sum(self.breakdown[scenario].values()))}"
                           for scenario in SCENARIOS)
        return (f"Stacked bars of memory by part ({', '.join(PARTS)}) for {self.title()}: "
                f"{totals}")

    def update(self) -> None:
        """Redraw the chart, the table and the note for the current controls."""
        self.custom_billions.disabled = self.preset.value != CUSTOM
        self.master_copy.disabled = BYTES_PER_WEIGHT[self.dtype.value] == FP32_BYTES
        size = self.size()
        trainable = lora_qv_parameters(size, self.r.value)
        self.breakdown = memory_breakdown(size.n_params, BYTES_PER_WEIGHT[self.dtype.value],
                                          trainable, self.master_copy.value)
        figure = memory_figure(self.breakdown, self.title())
        self.figure = figure
        lead = self.alt_lead()
        self.figure_html = figure_to_html(figure, lead)
        self.image.show(figure_to_png(figure), alt_text(figure, lead))
        self.table.value = breakdown_table(self.breakdown)
        guess = " (shape estimated: d_model = 128·layers)" if self.preset.value == CUSTOM else ""
        self.note.value = (
            f"<p>LoRA r = {self.r.value} on W_q and W_v of {size.n_layers} layers, "
            f"d_model = {size.d_model:,d}{guess}: {trainable:,d} trainable parameters, "
            f"{100 * trainable / size.n_params:.4f}% of {size.n_params:,d}. "
            "Adam state in fp32 (8 bytes per trainable weight); activations excluded "
            "(they depend on batch size and sequence length).</p>")


def memory_explorer(preset: str = "LLaMA-2-7B", dtype: str = "bf16 / fp16", r: int = 8,
                    master_copy: bool = True) -> None:
    """Display the memory explorer, with its starting view as a static fallback."""
    explorer = MemoryExplorer(preset, dtype, r, master_copy)
    static = (explorer.figure_html + explorer.table.value + explorer.note.value +
              "<p><em>A static view at the starting values: run the notebook to change the "
              "model, the precision and the rank.</em></p>")
    show_widget(explorer.widget, static)
