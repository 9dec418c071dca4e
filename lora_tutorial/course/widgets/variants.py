"""Bits per weight against quantization error: NormalFloat and integer levels, any width.

Pick the number of bits per code and the block size. The left plot shows, for every width
from 2 to 8 bits, the storage per weight (code plus absmax scale) against the relative
error for both kinds of levels; the right plot shows where the chosen levels sit on the
histogram of the block-normalised weights. Narrow blocks cost more scale bits but fit
each block's range tighter; NormalFloat levels crowd where normally distributed weights are.
"""

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from ...common.display import (COURSE_COLORS, LINE_STYLES, MARKERS, REFERENCE_GREY, Picture,
                               alt_text, course_style, figure_to_html, figure_to_png, show_widget)
from ...variants.quantize import (bits_per_weight, dequantize_blockwise, integer_levels,
                        normal_float_levels, quantize_blockwise)

BITS = range(2, 9)
BLOCK_SIZES = (16, 32, 64, 128, 256)
KINDS = {"NormalFloat": normal_float_levels, "integer": integer_levels}


def quantization_error(weight: torch.Tensor, levels: torch.Tensor, block_size: int) -> float:
    """Relative error ‖Ŵ − W‖ / ‖W‖ of block-wise absmax quantization to ``levels``."""
    flat = weight.detach().float().flatten()
    codes, absmax = quantize_blockwise(flat, levels, block_size)
    restored = dequantize_blockwise(codes, absmax, levels, block_size)
    return ((restored - flat).norm() / flat.norm()).item()


def quantization_summary(bits: int, block_size: int, errors: dict[str, float]) -> str:
    """One line: storage per weight and the error of each kind of levels."""
    parts = ", ".join(f"{kind} {100 * error:.1f}%" for kind, error in errors.items())
    return (f"{bits}-bit codes, blocks of {block_size}: {bits_per_weight(bits, block_size):.2f} "
            f"bits per weight ({bits} + 32/{block_size} for the fp32 scale) · relative error: "
            f"{parts}")


class QuantizationExplorer:
    """Sliders for bits and block size; the error curve and the levels on the histogram."""

    def __init__(self, weight: torch.Tensor, bits: int = 4, block_size: int = 64,
                 name: str = "weight"):
        if bits not in BITS or block_size not in BLOCK_SIZES:
            raise ValueError(f"bits must be in 2–8 and block_size one of {BLOCK_SIZES}, got "
                             f"bits={bits!r}, block_size={block_size!r}.")
        self.weight = weight.detach().float().cpu()
        self.name = name
        self.bits = widgets.IntSlider(value=bits, min=min(BITS), max=max(BITS),
                                      description="bits", continuous_update=False)
        self.block = widgets.Dropdown(options=BLOCK_SIZES, value=block_size,
                                      description="block size")
        self.label = widgets.HTML()
        self.image = Picture()
        for control in (self.bits, self.block):
            control.observe(lambda change: self.update(), names="value")
        self.widget = widgets.VBox([widgets.HBox([self.bits, self.block]), self.label,
                                    self.image])
        self._curves: dict[int, dict[str, list[float]]] = {}
        self.update()

    def curves(self, block_size: int) -> dict[str, list[float]]:
        """The error at every width in ``BITS`` for each kind of levels (cached)."""
        if block_size not in self._curves:
            self._curves[block_size] = {
                kind: [quantization_error(self.weight, make(bits), block_size) for bits in BITS]
                for kind, make in KINDS.items()}
        return self._curves[block_size]

    def update(self) -> None:
        bits, block_size = self.bits.value, self.block.value
        curves = self.curves(block_size)
        self.errors = {kind: curve[bits - min(BITS)] for kind, curve in curves.items()}
        self.label.value = f"<p>{quantization_summary(bits, block_size, self.errors)}</p>"
        self.figure = self.draw(bits, block_size, curves)
        self.image.show(figure_to_png(self.figure), alt_text(self.figure, self.alt_lead()))

    def alt_lead(self) -> str:
        """What the picture shows, for its text alternative (the errors rounded as the label
        rounds them: the static copy is compared by nbval)."""
        errors = ", ".join(f"{kind} {100 * error:.1f}%" for kind, error in self.errors.items())
        return (f"Quantization of {self.name} at {self.bits.value} bits in blocks of "
                f"{self.block.value}: relative error {errors}")

    @course_style()
    def draw(self, bits: int, block_size: int, curves: dict[str, list[float]]) -> Figure:
        figure = Figure(figsize=(9, 3.4))
        left, right = figure.subplots(1, 2)
        storage = [bits_per_weight(b, block_size) for b in BITS]
        colours, styles = list(COURSE_COLORS.values()), LINE_STYLES
        for n, (kind, curve) in enumerate(curves.items()):
            left.plot(storage, [100 * e for e in curve], color=colours[n], linestyle=styles[n],
                      marker=MARKERS[n], label=kind)
            left.plot([bits_per_weight(bits, block_size)], [100 * self.errors[kind]], "o",
                      color="black", markersize=9, fillstyle="none")
        left.set_yscale("log")
        left.set_title(f"{self.name}: error against storage (blocks of {block_size})",
                       fontsize=10)
        left.set_xlabel("bits per weight (code + scale)")
        left.set_ylabel("relative error ‖Ŵ − W‖/‖W‖ (%, log)")
        left.legend(fontsize=8)

        blocks = self.weight.flatten()
        blocks = blocks[: len(blocks) // block_size * block_size].view(-1, block_size)
        normalised = (blocks / blocks.abs().amax(dim=1, keepdim=True)).flatten()
        right.hist(normalised.numpy(), bins=80, color=REFERENCE_GREY, alpha=0.6)
        for (kind, make), color, style in zip(KINDS.items(), colours, (styles[0], styles[2])):
            for i, level in enumerate(make(bits).tolist()):
                right.axvline(level, color=color, linestyle=style, linewidth=0.8,
                              label=f"{kind} levels" if i == 0 else None)
        right.set_title(f"weights ÷ block absmax, and the {bits}-bit levels", fontsize=10)
        right.set_xlabel("normalised weight")
        right.set_ylabel("count")
        right.legend(fontsize=8, loc="upper left")
        figure.tight_layout()
        return figure


def quantization_explorer(weight: torch.Tensor, bits: int = 4, block_size: int = 64,
                          name: str = "weight") -> None:
    """Display the explorer for ``weight`` (with a static view for viewers without a kernel)."""
    explorer = QuantizationExplorer(weight, bits, block_size, name)
    static = (explorer.label.value +
              figure_to_html(explorer.figure, explorer.alt_lead()) +
              f"<p><em>A static view at {bits} bits, blocks of {block_size}: run the notebook "
              "to move the sliders.</em></p>")
    show_widget(explorer.widget, static)
