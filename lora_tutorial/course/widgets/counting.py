"""A LoRA parameter calculator for GPT-style models: shapes, targets and rank in, counts out.

Every adapted d×k weight gets A (r×k) and B (d×r): ``r·(d + k)`` trainable numbers. In a
GPT-style block (the layout of :mod:`lora_tutorial.course.skeletons`) the projections are

==========  ==================  =====================
name        weight (out × in)   LoRA numbers per layer
==========  ==================  =====================
q, k, v, o  d_model × d_model   r·2·d_model each
fc1         d_ff × d_model      r·(d_ff + d_model)
fc2         d_model × d_ff      r·(d_model + d_ff)
==========  ==================  =====================

The functions here compute the counts from the shape alone; the notebook checks them against
models built on the ``meta`` device. In a notebook: ``lora_calculator()``; in code and tests:
``LoRACalculator``, whose controls can be set from Python.
"""


import ipywidgets as widgets
from matplotlib.figure import Figure

from ...core.counting import format_bytes, lora_parameter_count
from ...common.display import (COURSE_COLORS, Picture, alt_text, course_style, figure_to_png,
                               png_to_html, show_widget)
from ..facts import GPT2_SMALL, MODEL_SHAPES, DecoderShape

PROJECTIONS = ("q", "k", "v", "o", "fc1", "fc2")
PRESETS = {name: shape for name, shape in MODEL_SHAPES.items() if shape.feed_forward == "gelu"}
"""The GPT-shaped models of the course's table (their projections are the ones above)."""
BYTES_PER_NUMBER = {"fp32": 4, "fp16": 2}


def projection_shapes(shape: DecoderShape) -> dict[str, tuple[int, int]]:
    """The weight shape (out × in, i.e. d×k) of each projection in one block."""
    d, f = shape.d_model, shape.d_ff
    return {"q": (d, d), "k": (d, d), "v": (d, d), "o": (d, d), "fc1": (f, d), "fc2": (d, f)}


def gpt_parameter_count(shape: DecoderShape) -> int:
    """Parameters of the GPT-style model (tied output layer), counted from its shape.

    Per block: two LayerNorms (2·2·d), q, k, v, o with biases (4·(d² + d)), fc1 (f·d + f) and
    fc2 (d·f + d); then the token and position embeddings and the final LayerNorm
    (:attr:`~lora_tutorial.course.facts.DecoderShape.n_params` writes the sum out).
    """
    if shape.feed_forward != "gelu":
        raise ValueError(f"gpt_parameter_count counts GPT's layout; this shape has "
                         f"feed_forward={shape.feed_forward!r}. Use shape.n_params.")
    return shape.n_params


def lora_trainable_count(shape: DecoderShape, r: int, targets) -> int:
    """Trainable LoRA numbers when every block adapts the ``targets`` (from PROJECTIONS)."""
    unknown = set(targets) - set(PROJECTIONS)
    if unknown:
        raise ValueError(f"Unknown projections {sorted(unknown)}; choose from {PROJECTIONS}.")
    shapes = projection_shapes(shape)
    return shape.n_layers * sum(lora_parameter_count(*shapes[t], r) for t in targets)


def trainable_percent(shape: DecoderShape, r: int, targets) -> float:
    """Trainable % the way PEFT reports it: LoRA numbers / (base + LoRA numbers)."""
    lora = lora_trainable_count(shape, r, targets)
    return 100 * lora / (gpt_parameter_count(shape) + lora)


class LoRACalculator:
    """Pick a model shape, the projections to adapt and the rank; read the counts.

    Attributes: ``preset`` (a dropdown that fills in the shape), ``d_model``, ``d_ff``,
    ``n_layers``, ``vocab_size`` (number boxes), ``targets`` (a dict of checkboxes keyed by
    projection name), ``r`` (a slider), ``table`` (an HTML widget with the results),
    ``image`` (a plot of trainable % against r) and ``widget`` (everything in one box).
    """

    def __init__(self, preset: str = "GPT-2 small (124M)", r: int = 8,
                 targets=("q", "v")):
        start = PRESETS.get(preset, GPT2_SMALL)  # "custom" starts from GPT-2's shape
        self.n_positions = start.n_positions
        self.preset = widgets.Dropdown(options=[*PRESETS, "custom"], value=preset,
                                       description="model")
        number = {"style": {"description_width": "initial"},
                  "layout": widgets.Layout(width="14em")}
        self.d_model = widgets.BoundedIntText(start.d_model, min=1, max=10**6,
                                              description="d_model", **number)
        self.d_ff = widgets.BoundedIntText(start.d_ff, min=1, max=10**7,
                                           description="d_ff", **number)
        self.n_layers = widgets.BoundedIntText(start.n_layers, min=1, max=10**4,
                                               description="layers", **number)
        self.vocab_size = widgets.BoundedIntText(start.vocab_size, min=1, max=10**7,
                                                 description="vocab", **number)
        self.targets = {name: widgets.Checkbox(value=name in targets, description=name,
                                               indent=False, layout=widgets.Layout(width="5em"))
                        for name in PROJECTIONS}
        self.r = widgets.IntSlider(value=r, min=1, max=256, description="rank r",
                                   continuous_update=False)
        self.table = widgets.HTML()
        self.image = Picture()
        self._filling = False
        self.preset.observe(self._apply_preset, names="value")
        for box in (self.d_model, self.d_ff, self.n_layers, self.vocab_size):
            box.observe(self._shape_edited, names="value")
        for control in (*self.targets.values(), self.r):
            control.observe(lambda change: self.update(), names="value")
        self.widget = widgets.VBox([
            self.preset,
            widgets.HBox([self.d_model, self.d_ff, self.n_layers, self.vocab_size]),
            widgets.HBox([widgets.Label("adapt:"), *self.targets.values()]),
            self.r, self.table, self.image,
        ])
        self.update()

    @property
    def shape(self) -> DecoderShape:
        return DecoderShape(n_layers=self.n_layers.value, d_model=self.d_model.value,
                            d_ff=self.d_ff.value, vocab_size=self.vocab_size.value,
                            n_positions=self.n_positions)

    @property
    def chosen(self) -> list[str]:
        return [name for name, box in self.targets.items() if box.value]

    def _apply_preset(self, change) -> None:
        if change["new"] == "custom":
            return
        shape = PRESETS[change["new"]]
        self._filling = True  # one redraw after all four boxes change, not four
        self.n_positions = shape.n_positions
        self.d_model.value, self.d_ff.value = shape.d_model, shape.d_ff
        self.n_layers.value, self.vocab_size.value = shape.n_layers, shape.vocab_size
        self._filling = False
        self.update()

    def _shape_edited(self, _change) -> None:
        if self._filling:
            return
        if self.preset.value != "custom" and self.shape != PRESETS[self.preset.value]:
            self._filling = True
            self.preset.value = "custom"
            self._filling = False
        self.update()

    def table_html(self) -> str:
        shape, r, chosen = self.shape, self.r.value, self.chosen
        shapes = projection_shapes(shape)
        rows = []
        for name in chosen:
            d, k = shapes[name]
            per_layer = lora_parameter_count(d, k, r)
            rows.append(f"<tr><td>{name}</td><td>{d:,d} × {k:,d}</td>"
                        f"<td>{r}·({d:,d}+{k:,d}) = {per_layer:,d}</td>"
                        f"<td>{per_layer * shape.n_layers:,d}</td></tr>")
        base = gpt_parameter_count(shape)
        lora = lora_trainable_count(shape, r, chosen)
        percent = 100 * lora / (base + lora)
        sizes = ", ".join(f"{lora * b / 1e6:,.2f} MB in {name}"
                          for name, b in BYTES_PER_NUMBER.items())
        head = ("<tr><th>projection</th><th>weight d × k</th><th>LoRA numbers per layer</th>"
                f"<th>× {shape.n_layers} layers</th></tr>")
        if not rows:
            rows.append('<tr><td colspan="4">no projection chosen: nothing to train</td></tr>')
        return (f"<table>{head}{''.join(rows)}</table>"
                f"<p>base model: <b>{base:,d}</b> parameters &nbsp;|&nbsp; trainable with LoRA: "
                f"<b>{lora:,d}</b> = <b>{percent:.4f}%</b> of all parameters<br>"
                f"adapter weights: <b>{sizes}</b> (the base model in fp16: "
                f"{format_bytes(2 * base)})</p>")

    @course_style()
    def figure(self):
        shape, r, chosen = self.shape, self.r.value, self.chosen
        ranks = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        fig = Figure(figsize=(6, 3))
        ax = fig.subplots()
        if chosen:
            ax.plot(ranks, [trainable_percent(shape, q, chosen) for q in ranks], "o-",
                    markersize=4, label="adapt " + ", ".join(chosen))
            ax.plot([r], [trainable_percent(shape, r, chosen)], "*", markersize=12,
                    color=COURSE_COLORS["orange"], markeredgecolor="black",
                    label=f"r = {r}")
            ax.legend(fontsize=8)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ranks, [str(q) for q in ranks])
        ax.set_yscale("log")
        ax.set_title(f"Trainable share ({shape.n_layers} layers, d_model {shape.d_model})")
        ax.set_xlabel("rank r (log scale)")
        ax.set_ylabel("trainable parameters (% of all, log scale)")
        ax.grid(True, which="major", alpha=0.3)
        fig.tight_layout()
        return fig

    def update(self) -> None:
        """Redraw the table and the plot for the current controls."""
        self.table.value = self.table_html()
        self.drawn = self.figure()
        self.image.show(figure_to_png(self.drawn, bbox_inches="tight", dpi=80), self.alt())

    def alt(self) -> str:
        """The plot's text alternative: what it shows at the current controls."""
        chosen = ", ".join(self.chosen) or "nothing"
        lead = (f"Trainable share against rank for {self.preset.value}, adapting {chosen}; "
                f"the star marks r = {self.r.value}")
        return alt_text(self.drawn, lead)

    def static_html(self) -> str:
        """The table and plot at the current settings, for viewers without a kernel."""
        return (f"<p><b>{self.preset.value}</b>, adapting {', '.join(self.chosen) or 'nothing'} "
                f"at r = {self.r.value}:</p>" + self.table_html()
                + png_to_html(self.image.value, self.alt())
                + "<p><em>Run the notebook to change the model, the projections and the "
                  "rank.</em></p>")


def lora_calculator(**kwargs) -> None:
    """Display a :class:`LoRACalculator` with a static fallback (see its arguments)."""
    calculator = LoRACalculator(**kwargs)
    show_widget(calculator.widget, calculator.static_html())
