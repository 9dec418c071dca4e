"""Explore how ``r`` and ``alpha`` set the size of the LoRA update ``ΔW = scaling · B·A``.

The explorer draws ``ΔW`` for one fixed set of random factors: ``A`` initialised the way
LoRA does (Kaiming-uniform, entries within ±1/√k) and ``B`` filled with small random numbers,
as if a little training had moved it away from zero. A rank-``r`` adapter uses the first
``r`` rows of ``A`` and the first ``r`` columns of ``B``, so moving the rank slider adds or
removes rank-one pieces of the same update.

With random factors, ``B·A`` is a sum of ``r`` independent rank-one pieces, so its size
grows like √r. Multiplying by ``alpha / r`` makes the update *shrink* like 1/√r as ``r``
grows; rsLoRA's ``alpha / √r`` (Kalajdzievski, 2023) keeps it the same size at every rank.
The heatmap's colour scale is fixed, so the fading is visible.

In a notebook: ``lora_layer_explorer()``. In code and tests: ``LoRALayerExplorer``, whose
controls (``r``, ``alpha``, ``rule``) can be set from Python.
"""

import math

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from ...core.counting import lora_parameter_count
from ...common.display import (Picture, alt_text, course_style, figure_to_png, png_to_html,
                               show_widget)
from ...core.layers import lora_scaling

RULES = {"alpha / r  (LoRA)": False, "alpha / √r  (rsLoRA)": True}


class LoRALayerExplorer:
    """Sliders for ``r`` and ``alpha`` and a choice of scaling rule, showing ``ΔW``.

    Attributes: ``r``, ``alpha`` (sliders), ``rule`` (toggle buttons), ``summary`` (an HTML
    widget with the scaling and the parameter counts), ``image`` (the figure as a PNG) and
    ``widget`` (everything in one box).
    """

    def __init__(self, d: int = 48, k: int = 64, max_r: int = 32, r: int = 4,
                 alpha: float = 16, use_rslora: bool = False, seed: int = 0):
        self.d, self.k, self.max_r = d, k, max_r
        generator = torch.Generator().manual_seed(seed)
        bound = 1 / math.sqrt(k)  # what kaiming_uniform_(a=√5) gives for fan_in = k
        self.A = (torch.rand(max_r, k, generator=generator) * 2 - 1) * bound
        # B "after a little training": small random numbers whose size does not depend on r.
        self.B = 0.05 * torch.randn(d, max_r, generator=generator)
        self.ranks = list(range(1, max_r + 1))
        # ||B_r·A_r|| for every rank, computed once; the scaling only multiplies it.
        self._norms = [float(torch.linalg.matrix_norm(self.B[:, :q] @ self.A[:q]))
                       for q in self.ranks]
        # A fixed colour scale (half the largest entry LoRA's rule gives at r = 1, alpha = 16),
        # so that a smaller update looks paler.
        self.vmax = float((self.B[:, :1] @ self.A[:1]).abs().max()) * 8

        self.r = widgets.IntSlider(value=r, min=1, max=max_r, description="rank r",
                                   continuous_update=False)
        self.alpha = widgets.IntSlider(value=int(alpha), min=1, max=64, description="alpha",
                                       continuous_update=False)
        rule = [name for name, flag in RULES.items() if flag == use_rslora][0]
        self.rule = widgets.ToggleButtons(options=list(RULES), value=rule,
                                          description="scaling")
        self.summary = widgets.HTML()
        self.image = Picture()
        for control in (self.r, self.alpha, self.rule):
            control.observe(lambda change: self.update(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.r, self.alpha]), self.rule,
                                    self.summary, self.image])
        self.update()

    @property
    def use_rslora(self) -> bool:
        return RULES[self.rule.value]

    def delta_weight(self) -> torch.Tensor:
        """ΔW = scaling · B·A for the current controls (shape d×k)."""
        r = self.r.value
        return lora_scaling(self.alpha.value, r, self.use_rslora) * (self.B[:, :r] @ self.A[:r])

    def summary_html(self) -> str:
        r, alpha, d, k = self.r.value, self.alpha.value, self.d, self.k
        lora, rs = lora_scaling(alpha, r), lora_scaling(alpha, r, True)
        n_lora, n_full = lora_parameter_count(d, k, r), d * k
        norm = float(torch.linalg.matrix_norm(self.delta_weight()))
        warning = (" — <b>more than W itself</b>: LoRA only saves when r ≪ min(d, k)"
                   if n_lora >= n_full else "")
        return (
            f"<p>scaling: alpha/r = {alpha}/{r} = <b>{lora:.3f}</b> &nbsp;|&nbsp; "
            f"rsLoRA alpha/√r = {alpha}/{math.sqrt(r):.3f} = <b>{rs:.3f}</b><br>"
            f"trainable: A ({r}×{k}) + B ({d}×{r}) = r·(d+k) = <b>{n_lora:,d}</b> numbers, "
            f"against d·k = {n_full:,d} in W ({100 * n_lora / n_full:.1f}%){warning}<br>"
            f"size of the update with the chosen rule: ‖ΔW‖<sub>F</sub> = <b>{norm:.3f}</b></p>"
        )

    @course_style()
    def figure(self):
        """The heatmap of ΔW and ‖ΔW‖ against r under both rules, at the current controls."""
        r, alpha = self.r.value, self.alpha.value
        fig = Figure(figsize=(9, 3.4))
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
        image = left.imshow(self.delta_weight().numpy(), cmap="RdBu_r", vmin=-self.vmax,
                            vmax=self.vmax, aspect="auto")
        fig.colorbar(image, ax=left, label="entry of ΔW (no unit)")
        left.set_title(f"ΔW = scaling·B·A, r={r}, alpha={alpha}")
        left.set_xlabel(f"input feature (k = {self.k})")
        left.set_ylabel(f"output feature (d = {self.d})")
        for flag, style in ((False, "o-"), (True, "s-")):
            label = [name for name, f in RULES.items() if f == flag][0]
            sizes = [lora_scaling(alpha, q, flag) * n for q, n in zip(self.ranks, self._norms)]
            right.plot(self.ranks, sizes, style, markersize=3, label=label)
        right.axvline(r, color="grey", linestyle=":", label=f"current r = {r}")
        right.set_xscale("log", base=2)
        ticks = [q for q in self.ranks if q & (q - 1) == 0]  # the powers of two
        right.set_xticks(ticks, [str(q) for q in ticks])
        right.set_yscale("log")
        right.set_title(f"size of ΔW against rank (alpha = {alpha})")
        right.set_xlabel("rank r (log scale)")
        right.set_ylabel("‖ΔW‖_F (log scale)")
        right.legend(fontsize=8)
        fig.tight_layout()
        return fig

    def update(self) -> None:
        """Redraw the summary and the figure for the current controls."""
        self.summary.value = self.summary_html()
        self.drawn = self.figure()
        self.image.show(figure_to_png(self.drawn, bbox_inches="tight", dpi=80), self.alt())

    def alt(self) -> str:
        """The figure's text alternative: what it shows at the current controls."""
        lead = (f"A heatmap of the {self.d}×{self.k} LoRA update ΔW at r = {self.r.value}, "
                f"alpha = {self.alpha.value} ({self.rule.value} scaling), and the size of ΔW "
                "against rank under both scaling rules")
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
