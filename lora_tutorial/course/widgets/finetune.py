"""Pick a LoRA configuration (target modules and rank) and see how its fine-tune went.

Notebook 05 (§8) trains many short runs: full fine-tuning, head-only training, and LoRA with
several ranks and target modules. This explorer only *reads* those results (nothing is
retrained), so moving a control is instant: it shows the chosen run's loss curve next to the
reference runs, its test accuracy and how many parameters it trained. A run is anything with
``losses``, ``accuracy``, ``trainable``, ``total`` and ``percent``: a :class:`RunResult`, or
the :class:`~lora_tutorial.course.experiments.finetune.Run` records the notebook makes.
"""

import itertools
from dataclasses import dataclass, field

import ipywidgets as widgets
from matplotlib.figure import Figure

from ...common.display import (COURSE_COLORS, LINE_STYLES, REFERENCE_GREY, Picture, alt_text,
                               course_style, figure_to_html, figure_to_png, show_widget)


@dataclass
class RunResult:
    """What one training run left behind: its losses, test accuracy and parameter counts."""

    losses: list[float] = field(repr=False)
    accuracy: float
    trainable: int
    total: int

    @property
    def percent(self) -> float:
        """Trainable parameters as a percentage of all parameters."""
        return 100 * self.trainable / self.total


def smooth(values: list[float], window: int = 10) -> list[float]:
    """Running mean over the last ``window`` values (shorter at the start), to calm the curve."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def describe(targets: str, r: int, run: RunResult, references: dict[str, RunResult]) -> str:
    """One HTML line about the chosen run, with the reference accuracies for comparison."""
    refs = ", ".join(f"{name}: {100 * ref.accuracy:.1f}%" for name, ref in references.items())
    return (f"<p><b>LoRA on {targets}, r = {r}</b>: {run.trainable:,d} trainable parameters "
            f"({run.percent:.2f}% of {run.total:,d}) · test accuracy "
            f"<b>{100 * run.accuracy:.1f}%</b>" + (f" · for comparison, {refs}" if refs else "")
            + "</p>")


class FinetuneExplorer:
    """Choose target modules and rank among the runs in ``results``.

    ``results`` maps ``(targets, r)`` (a label such as ``"q_proj, v_proj"`` and a rank) to a
    :class:`RunResult`; ``references`` maps names such as ``"full fine-tuning"`` to runs that
    are always drawn for comparison.
    """

    def __init__(self, results: dict[tuple[str, int], RunResult],
                 references: dict[str, RunResult] | None = None,
                 targets: str | None = None, r: int | None = None):
        if not results:
            raise ValueError("results is empty: train at least one LoRA run first.")
        self.results = results
        self.references = references or {}
        target_options = list(dict.fromkeys(t for t, _ in results))
        targets = targets if targets is not None else target_options[0]
        if targets not in target_options:
            raise ValueError(f"no results for targets {targets!r}; have {target_options}")
        self.targets = widgets.Dropdown(options=target_options, value=targets,
                                        description="targets",
                                        layout=widgets.Layout(width="320px"))
        ranks = self.ranks_for(targets)
        self.rank = widgets.SelectionSlider(options=ranks,
                                            value=r if r in ranks else ranks[-1],
                                            description="rank r", continuous_update=False)
        self.label = widgets.HTML()
        self.image = Picture()
        self._quiet = False
        self.targets.observe(self._targets_changed, names="value")
        self.rank.observe(lambda change: None if self._quiet else self.update(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.targets, self.rank]), self.label,
                                    self.image])
        self.update()

    def ranks_for(self, targets: str) -> list[int]:
        """The ranks that were trained with these target modules, smallest first."""
        return sorted(r for t, r in self.results if t == targets)

    def _targets_changed(self, change) -> None:
        ranks = self.ranks_for(change["new"])
        keep = self.rank.value if self.rank.value in ranks else ranks[-1]
        self._quiet = True              # new options reset the slider: redraw once, at the end
        try:
            self.rank.options = ranks
            self.rank.value = keep
        finally:
            self._quiet = False
        self.update()

    @property
    def selected(self) -> RunResult:
        return self.results[(self.targets.value, self.rank.value)]

    def update(self) -> None:
        targets, r = self.targets.value, self.rank.value
        self.label.value = describe(targets, r, self.selected, self.references)
        self.figure = self.draw(targets, r)
        self.image.show(figure_to_png(self.figure), alt_text(self.figure, self.alt_lead()))

    def alt_lead(self) -> str:
        """What the picture shows, for its text alternative."""
        return (f"The training loss and test accuracy of LoRA on {self.targets.value} with "
                f"r = {self.rank.value} ({100 * self.selected.accuracy:.1f}%), beside the "
                "reference runs")

    @course_style()
    def draw(self, targets: str, r: int) -> Figure:
        run = self.selected
        figure = Figure(figsize=(8, 3))
        loss_ax, acc_ax = figure.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
        names, accuracies = [], []
        for (name, ref), style in zip(self.references.items(), itertools.cycle(LINE_STYLES[1:])):
            loss_ax.plot(smooth(ref.losses), linestyle=style, marker="", color=REFERENCE_GREY,
                         label=name)
            names.append(name)
            accuracies.append(100 * ref.accuracy)
        chosen = f"LoRA r={r}"
        loss_ax.plot(smooth(run.losses), linestyle="-", marker="", color=COURSE_COLORS["blue"],
                     label=f"{chosen} on {targets}")
        loss_ax.set_yscale("log")
        loss_ax.set_title("training loss (running mean of 10 steps)", fontsize=10)
        loss_ax.set_xlabel("step")
        loss_ax.set_ylabel("cross-entropy (nats, log scale)")
        loss_ax.legend(fontsize=8)
        names.append(chosen)
        accuracies.append(100 * run.accuracy)
        colors = [REFERENCE_GREY] * (len(names) - 1) + [COURSE_COLORS["blue"]]
        bars = acc_ax.barh(names, accuracies, color=colors)
        acc_ax.bar_label(bars, fmt="%.1f", fontsize=8)
        acc_ax.set_xlim(0, 115)
        acc_ax.set_title("test accuracy", fontsize=10)
        acc_ax.set_xlabel("accuracy (%)")
        acc_ax.tick_params(axis="y", labelsize=8)
        figure.tight_layout()
        return figure


def finetune_explorer(results: dict[tuple[str, int], RunResult],
                      references: dict[str, RunResult] | None = None,
                      targets: str | None = None, r: int | None = None) -> None:
    """Display the explorer with a static fallback (its starting view)."""
    explorer = FinetuneExplorer(results, references, targets, r)
    static = (explorer.label.value
              + figure_to_html(explorer.figure, explorer.alt_lead())
              + f"<p><em>A static view of LoRA on {explorer.targets.value} with r = "
                f"{explorer.rank.value}: run the notebook to pick other target modules and "
                f"ranks.</em></p>")
    show_widget(explorer.widget, static)
