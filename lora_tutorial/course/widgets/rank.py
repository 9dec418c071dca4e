"""Rebuild an image from its top-r singular components, with a rank slider.

An image is just a matrix of brightness values, so the SVD applies to it like to any weight.
Moving the slider shows how quickly the picture (and the error) settles as r grows, and what
it costs: a rank-r factorisation stores r·(d + k) numbers instead of d·k.
"""


import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure

from ...core.counting import lora_parameter_count
from ...common.display import (Picture, alt_text, course_style, figure_to_html, figure_to_png,
                               show_widget)


def load_image_matrix(step: int = 4) -> torch.Tensor:
    """scikit-learn's bundled photo ``china.jpg`` (no download) as a grayscale matrix.

    The 427×640 colour photo is converted to brightness in [0, 1] (ITU-R 601 weights) and
    shrunk by averaging ``step``×``step`` blocks: 106×160 for the default ``step=4``.
    """
    from sklearn.datasets import load_sample_image

    rgb = load_sample_image("china.jpg").astype(np.float64) / 255
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    d, k = (gray.shape[0] // step) * step, (gray.shape[1] // step) * step
    small = gray[:d, :k].reshape(d // step, step, k // step, step).mean(axis=(1, 3))
    return torch.tensor(small, dtype=torch.float32)


def rank_r_summary(d: int, k: int, r: int, error: float) -> str:
    """One line: the relative error and the storage of a rank-r factorisation."""
    stored = lora_parameter_count(d, k, r)  # the same count as a LoRA update's A and B
    return (f"rank r = {r}: relative error {100 * error:.1f}% · stores r·(d + k) = "
            f"{stored:,d} numbers, {100 * stored / (d * k):.1f}% of d·k = {d * k:,d}")


class RankExplorer:
    """A rank slider and the matrix rebuilt from that many singular components."""

    def __init__(self, matrix: torch.Tensor, r: int = 10):
        self.matrix = matrix.detach().float().cpu()  # drawn with matplotlib, on the CPU
        self.u, self.s, self.vh = torch.linalg.svd(self.matrix, full_matrices=False)
        self.rank = int(torch.linalg.matrix_rank(self.matrix))
        self.slider = widgets.IntSlider(value=r, min=1, max=len(self.s), description="rank r",
                                        continuous_update=False)
        self.image = Picture()
        self.label = widgets.HTML()
        self.slider.observe(lambda change: self.update(), names="value")
        self.widget = widgets.VBox([self.slider, self.label, self.image])
        self.update()

    def approximation(self, r: int) -> torch.Tensor:
        return (self.u[:, :r] * self.s[:r]) @ self.vh[:r]

    def update(self) -> None:
        r = self.slider.value
        approx = self.approximation(r)
        self.error = (torch.linalg.matrix_norm(self.matrix - approx) /
                      torch.linalg.matrix_norm(self.matrix)).item()
        d, k = self.matrix.shape
        self.label.value = f"<p>{rank_r_summary(d, k, r, self.error)}</p>"
        self.figure = self.draw(approx, r)
        self.image.show(figure_to_png(self.figure), alt_text(self.figure, self.alt_lead(r)))

    def alt_lead(self, r: int) -> str:
        """What the picture shows, for its text alternative."""
        d, k = self.matrix.shape
        return (f"The {d}×{k} matrix shown as a greyscale image beside its rebuild from the "
                f"top {r} singular components ({100 * self.error:.1f}% relative error)")

    @course_style()
    def draw(self, approx: torch.Tensor, r: int) -> Figure:
        figure = Figure(figsize=(8, 3))
        axes = figure.subplots(1, 2)
        d, k = self.matrix.shape
        for ax, image, title in zip(axes, (self.matrix, approx),
                                    (f"original ({d}×{k}, rank {self.rank})",
                                     f"rank {r}: {100 * self.error:.1f}% error")):
            ax.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("column (pixel)")
            ax.set_ylabel("row (pixel)")
        figure.tight_layout()
        return figure


def rank_explorer(matrix: torch.Tensor | None = None, r: int = 10) -> None:
    """Display the rank explorer (``matrix`` defaults to the grayscale photo)."""
    explorer = RankExplorer(load_image_matrix() if matrix is None else matrix, r)
    static = (explorer.label.value +
              figure_to_html(explorer.figure, explorer.alt_lead(r)) +
              "<p><em>A static view at r = "
              f"{r}: run the notebook to move the slider.</em></p>")
    show_widget(explorer.widget, static)
