"""Explore how the rank changes what a LoRA adapter learns under ``alpha / r`` and ``alpha / √r``.

Notebook 03, §6: the explorer trains one LoRA adapter on a small task (a frozen 48×64 layer
whose targets add a rank-8 change, :func:`~lora_tutorial.course.experiments.initialisation.
regression_task`) from the usual start (A Kaiming-uniform, B zero), with Adam and the same
learning rate for every setting, twice: once scaled by LoRA's ``alpha / r`` and once by
rsLoRA's ``alpha / √r`` (Kalajdzievski, 2023). It draws, step by step, the size of the
update ``‖scaling · B·A‖`` and the loss relative to the base layer's, beside the rank-1
adapter (where both rules give the same scaling) for reference.

The rank slider is what the text cannot show: slide ``r`` from 1 to 32 and watch whether a
larger rank lets the adapter move further and learn more under each rule, with nothing else
retuned. Each setting trains once (a fraction of a second) and is kept.

In a notebook: ``lora_layer_explorer()``. In code and tests: ``LoRALayerExplorer``, whose
controls (``r``, ``alpha``) can be set from Python.
"""


import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from ...common.display import (REFERENCE_GREY, Picture, alt_text, course_style, figure_to_png,
                               png_to_html, show_widget)
from ...core.counting import lora_parameter_count
from ..experiments.initialisation import RULES, kaiming_uniform, rank_scaling, regression_task, \
    train_lora


class LoRALayerExplorer:
    """Sliders for ``r`` and ``alpha``; the training curves of both scaling rules at that rank.

    Attributes: ``r``, ``alpha`` (sliders), ``summary`` (an HTML widget with the scalings,
    the parameter count and where each rule got to), ``image`` (the figure as a PNG) and
    ``widget`` (everything in one box). ``traces(r, alpha)`` returns the two runs
    (rule name -> :class:`~lora_tutorial.course.experiments.initialisation.Trace`).
    """

    def __init__(self, d: int = 48, k: int = 64, max_r: int = 32, r: int = 4,
                 alpha: float = 16, steps: int = 40, lr: float = 1e-3, seed: int = 0):
        self.d, self.k, self.max_r, self.steps, self.lr, self.seed = d, k, max_r, steps, lr, seed
        self.task = regression_task(d=d, k=k, change_rank=8, n=128)
        self._cache = {}
        self.r = widgets.IntSlider(value=r, min=1, max=max_r, description="rank r",
                                   continuous_update=False)
        self.alpha = widgets.IntSlider(value=int(alpha), min=1, max=128, description="alpha",
                                       continuous_update=False)
        self.summary = widgets.HTML()
        self.image = Picture()
        for control in (self.r, self.alpha):
            control.observe(lambda change: self.update(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.r, self.alpha]), self.summary,
                                    self.image])
        self.update()

    def traces(self, r: int, alpha: float) -> dict:
        """Train (once per setting) a rank-``r`` adapter under each rule of ``RULES``."""
        key = (r, alpha)
        if key not in self._cache:
            A = kaiming_uniform((r, self.k), torch.Generator().manual_seed(self.seed))
            B = torch.zeros(self.d, r)
            runs = {}   # by scaling: at r = 1 both rules are the same number, trained once
            for rule in RULES:
                scaling = rank_scaling(alpha, r, rule)
                if scaling not in runs:
                    runs[scaling] = train_lora(self.task, A, B, scaling, self.steps, self.lr)
            self._cache[key] = {rule: runs[rank_scaling(alpha, r, rule)] for rule in RULES}
        return self._cache[key]

    def summary_html(self) -> str:
        r, alpha, d, k = self.r.value, self.alpha.value, self.d, self.k
        traces = self.traces(r, alpha)
        n_lora, n_full = lora_parameter_count(d, k, r), d * k
        warning = (" — <b>more than W itself</b>: LoRA only saves when r ≪ min(d, k)"
                   if n_lora >= n_full else "")
        rows = "".join(
            f"<br>{rule} = {rank_scaling(alpha, r, rule):.3f}: after {self.steps} steps "
            f"‖ΔW‖<sub>F</sub> = <b>{trace.update_norms[-1]:.2f}</b>, loss / base loss = "
            f"<b>{trace.losses[-1]:.2f}</b>"
            for rule, trace in traces.items())
        return (f"<p>r = {r}, alpha = {alpha}, the same learning rate ({self.lr:g}) for every "
                f"setting{rows}<br>trainable: r·(d+k) = <b>{n_lora:,d}</b> numbers, against "
                f"d·k = {n_full:,d} in W ({100 * n_lora / n_full:.1f}%){warning}</p>")

    @course_style()
    def figure(self):
        """Update size and loss against the step, both rules at rank r, rank 1 for reference."""
        r, alpha = self.r.value, self.alpha.value
        traces, reference = self.traces(r, alpha), self.traces(1, alpha)
        fig = Figure(figsize=(9, 3.4))
        left, right = fig.subplots(1, 2)
        steps = range(self.steps + 1)
        for rule, trace in traces.items():
            left.plot(steps, trace.update_norms, label=f"{rule}, r = {r}", markevery=8)
            right.plot(steps, trace.losses, label=f"{rule}, r = {r}", markevery=8)
        ref = next(iter(reference.values()))        # at r = 1 both rules are alpha
        for axis, values in ((left, ref.update_norms), (right, ref.losses)):
            axis.plot(steps, values, color=REFERENCE_GREY, linestyle=":", marker="",
                      label="r = 1 (both rules)")
            axis.set_xlabel("Adam step")
            axis.legend(fontsize=8)
        left.set_title(f"size of the update, alpha = {alpha}")
        left.set_ylabel("‖scaling·B·A‖_F (no unit)")
        right.set_title("what the adapter has learned")
        right.set_ylabel("loss / base layer's loss")
        fig.tight_layout()
        return fig

    def update(self) -> None:
        """Redraw the summary and the figure for the current controls."""
        self.summary.value = self.summary_html()
        self.drawn = self.figure()
        self.image.show(figure_to_png(self.drawn, bbox_inches="tight", dpi=80), self.alt())

    def alt(self) -> str:
        """The figure's text alternative: what it shows at the current controls."""
        lead = (f"Training a LoRA adapter on a {self.d}×{self.k} layer at r = {self.r.value}, "
                f"alpha = {self.alpha.value}: the size of the update and the loss against the "
                "step, under alpha/r and alpha/√r, with the rank-1 adapter for reference")
        return alt_text(self.drawn, lead)

    def static_html(self) -> str:
        """The summary and the figure at the current controls, for viewers without a kernel."""
        html = png_to_html(self.image.value, self.alt())
        return (self.summary_html() + html
                + "<p><em>Run the notebook to move the sliders (this is the view at "
                  f"r = {self.r.value}, alpha = {self.alpha.value}).</em></p>")


def lora_layer_explorer(**kwargs) -> None:
    """Display a :class:`LoRALayerExplorer` with a static fallback (see its arguments)."""
    explorer = LoRALayerExplorer(**kwargs)
    show_widget(explorer.widget, explorer.static_html())
