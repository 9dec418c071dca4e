"""Many adapters on one base: throughput and memory against the number of adapters and the mix.

:func:`measure_serving` times one batch served the four ways of
:mod:`lora_tutorial.serving.multi` (and the base model alone, for reference) for every number
of adapters and every batch mix; notebook 10 and ``benchmarks/bench_serving.py`` both call
it. :func:`serving_explorer` then lets a learner pick a number of adapters and a mix and see
the measured tokens per second of each way, and the bytes of N adapters against N merged
copies of the model (exact, from the tensors' sizes).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from torch import nn

from ...serving.multi import METHODS, serve_batch
from ...common.display import (COURSE_COLORS, REFERENCE_GREY, Picture, alt_text, course_style,
                               figure_to_html, figure_to_png, show_widget)
from ..measure import time_interleaved

MIXES = ("uniform", "one dominant")
"""How a batch's rows are spread over the adapters: round-robin over all of them, or three
quarters for adapter 0 and the rest round-robin over the others."""


def batch_mix(rows: int, n_adapters: int, mix: str) -> torch.Tensor:
    """The adapter index of each of ``rows`` requests, for one of :data:`MIXES`."""
    if mix not in MIXES:
        raise ValueError(f"mix must be one of {MIXES}, got {mix!r}.")
    if not 1 <= n_adapters <= rows:
        raise ValueError(f"n_adapters must be between 1 and the {rows} rows, got {n_adapters}.")
    ids = torch.arange(rows) % n_adapters
    if mix == "one dominant" and n_adapters > 1:
        dominant = rows * 3 // 4
        ids[:dominant] = 0
        ids[dominant:] = 1 + torch.arange(rows - dominant) % (n_adapters - 1)
    return ids


@dataclass
class ServingRun:
    """Median seconds per batch of each way (and ``"base"``) for one number of adapters and mix."""

    n_adapters: int
    mix: str
    seconds: dict[str, float]
    tokens: int

    def tokens_per_second(self, way: str) -> float:
        return self.tokens / self.seconds[way]


def measure_serving(bank_model: nn.Module, base_model: nn.Module, inputs: torch.Tensor,
                    cases: Sequence[tuple[int, str]], repeats: int = 5, warmup: int = 1,
                    progress: Callable | None = None) -> list[ServingRun]:
    """Time ``inputs`` served the four ways for every ``(number of adapters, mix)`` case.

    Live timings. ``bank_model`` holds a bank of at least as many adapters as the largest
    case asks for; the first N are used. The base model is timed in the same rounds, so the
    ratios compare like with like. ``progress`` wraps the list of cases (e.g. ``tqdm``).
    """
    runs = []
    for n, mix in (progress(cases) if progress else cases):
        ids = batch_mix(len(inputs), n, mix)
        candidates = {"base": lambda: base_model(inputs)}
        for way in METHODS:
            candidates[way] = (lambda way=way: serve_batch(bank_model, inputs, ids, way))
        with torch.no_grad():
            seconds = time_interleaved(candidates, repeats=repeats, warmup=warmup)
        runs.append(ServingRun(n, mix, seconds, inputs.numel()))
    return runs


def memory_line(n_adapters: int, adapter_bytes: int, model_bytes: int) -> str:
    """N adapters on one base against N merged copies, in exact bytes."""
    shared = model_bytes + n_adapters * adapter_bytes
    copies = n_adapters * model_bytes
    return (f"{n_adapters} adapters on one base: {shared:,d} bytes · {n_adapters} merged copies: "
            f"{copies:,d} bytes ({copies / shared:.1f}× more)")


class ServingExplorer:
    """Pick a number of adapters and a mix: tokens/s of each way, and the memory it takes."""

    def __init__(self, runs: Sequence[ServingRun], adapter_bytes: int, model_bytes: int):
        if not runs:
            raise ValueError("Pass the runs measure_serving returned (at least one).")
        self.runs = {(run.n_adapters, run.mix): run for run in runs}
        self.adapter_bytes, self.model_bytes = adapter_bytes, model_bytes
        counts = sorted({run.n_adapters for run in runs})
        mixes = [mix for mix in MIXES if any(run.mix == mix for run in runs)]
        self.count = widgets.SelectionSlider(options=counts, value=counts[-1],
                                             description="adapters", continuous_update=False)
        self.mix = widgets.Dropdown(options=mixes, value=mixes[0], description="batch mix")
        self.note = widgets.HTML()
        self.label = widgets.HTML()
        self.image = Picture()
        for control in (self.count, self.mix):
            control.observe(lambda change: self.update(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.count, self.mix]), self.note, self.label,
                                    self.image])
        self.update()

    def update(self) -> None:
        key = (self.count.value, self.mix.value)
        if key not in self.runs:       # not every count was measured with every mix
            self.note.value = (f"<p>{key[0]} adapters were not measured with the {key[1]} mix; "
                               "showing the uniform mix.</p>")
            key = (key[0], "uniform")
        else:
            self.note.value = ""
        run = self.runs[key]
        line = memory_line(run.n_adapters, self.adapter_bytes, self.model_bytes)
        self.label.value = f"<p>{line}</p>"
        self.figure = self.draw(run)
        self.image.show(figure_to_png(self.figure), alt_text(self.figure, self.alt_lead(run)))

    @staticmethod
    def alt_lead(run: ServingRun) -> str:
        """What the picture shows, for its text alternative. It names the bars but gives no
        rates: they are timings, which would make the stored static copy differ per run."""
        ways = ", ".join(["base", *METHODS])
        return (f"Bars of tokens per second measured on this run for each way of serving "
                f"({ways}), {run.n_adapters} adapters in one batch, {run.mix} mix")

    @course_style()
    def draw(self, run: ServingRun) -> Figure:
        figure = Figure(figsize=(7, 3))
        axis = figure.subplots()
        ways = ["base", *METHODS]
        values = [run.tokens_per_second(way) / 1e3 for way in ways]
        # Each bar is named on the axis: the colours only echo the course palette.
        colours = [REFERENCE_GREY, *COURSE_COLORS.values()]
        axis.barh(ways, values, color=[colours[i % len(colours)] for i in range(len(ways))])
        axis.invert_yaxis()
        axis.set_xlabel("thousand tokens per second (measured, this run)")
        axis.set_title(f"{run.n_adapters} adapters in one batch, {run.mix} mix", fontsize=10)
        figure.tight_layout()
        return figure


def serving_explorer(runs: Sequence[ServingRun], adapter_bytes: int, model_bytes: int) -> None:
    """Display the explorer, with a static view at the largest count for viewers without a
    kernel."""
    explorer = ServingExplorer(runs, adapter_bytes, model_bytes)
    run = explorer.runs[(explorer.count.value, explorer.mix.value)]
    static = (explorer.label.value +
              figure_to_html(explorer.figure, explorer.alt_lead(run)) +
              f"<p><em>A static view at {run.n_adapters} adapters, {run.mix} mix: run the "
              "notebook to change them.</em></p>")
    show_widget(explorer.widget, static)
