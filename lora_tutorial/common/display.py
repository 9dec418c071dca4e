"""Show an interactive widget that still reads well where no kernel runs, to every learner.

A widget lives in the kernel: GitHub, nbviewer or an HTML export of a notebook shows only a
placeholder for it. :func:`show_widget` displays the widget *and*, in the same output, a
static HTML version (for example the plot at the widget's starting values). JupyterLab
draws the live widget; a viewer without widget support falls back to the HTML.

Accessibility lives here too, in one place for every widget:

* both the live widget and its static copy carry the CSS class :data:`COURSE_CLASS`, so
  that tools (and the browser tests' axe-core check) can tell the course's own elements
  from the page around them;
* every picture gets a text alternative that says what it shows: the widget's own sentence
  (which values it is drawn at) followed by :func:`describe_figure`, the titles, axes and
  series read from the figure itself;
* :data:`COURSE_STYLE` is the course's matplotlib style: the Okabe–Ito colours that
  colour-blind readers tell apart, chosen so that they also differ in greyscale, and every
  line series with its own line style and marker, so no series is told by colour alone.
  Widgets draw under :func:`course_style`; a notebook can switch it on for its own plots
  with :func:`use_course_style`.
"""

import base64
import html
import io

import ipywidgets as widgets
import matplotlib
import traitlets
from cycler import cycler
from IPython.display import display

COURSE_CLASS = "lora-course"

# Okabe & Ito's colour-blind-safe colours, picked so that their greyscale lightness (CIE L*)
# differs by at least 10 between any two: blue 46, bluish green 58, orange 71, black 0.
COURSE_COLORS = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "black": "#000000"}
REFERENCE_GREY = "#999999"  # reference curves and guide lines, always with their own style
LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HATCHES = ("", "//", "..", "xx", "\\\\", "++")  # for bars that a legend tells apart

# Eight series before the cycle repeats; each differs from the others in line style or marker.
_colors = list(COURSE_COLORS.values()) * 2
COURSE_STYLE = {
    "axes.prop_cycle": (cycler(color=_colors) + cycler(linestyle=LINE_STYLES * 2)
                        + cycler(marker=MARKERS)),
    "lines.markersize": 4,
    "lines.linewidth": 1.6,
    "image.cmap": "cividis",  # blue to yellow: readable with colour-blindness and in grey
}


def course_style():
    """A context manager (or decorator) that draws with :data:`COURSE_STYLE`."""
    return matplotlib.rc_context(COURSE_STYLE)


def use_course_style() -> None:
    """Switch :data:`COURSE_STYLE` on for every plot that follows (a notebook's own plots)."""
    matplotlib.rcParams.update(COURSE_STYLE)


def course_html(static_html: str) -> str:
    """``static_html`` inside a ``<div>`` marked with :data:`COURSE_CLASS`."""
    return f'<div class="{COURSE_CLASS}">{static_html}</div>'


def show_widget(widget, static_html: str) -> None:
    """Display ``widget`` with ``static_html`` as its kernel-free fallback; both are marked
    with :data:`COURSE_CLASS` (the static copy by :func:`course_html`)."""
    widget.add_class(COURSE_CLASS)
    bundle = widget._repr_mimebundle_()
    bundle["text/html"] = course_html(static_html)
    display(bundle, raw=True)


class Picture(widgets.Image):
    """A PNG picture in a live widget, with a text alternative.

    ipywidgets' ``Image`` has no ``alt``; its ``tooltip`` becomes the ``<img>``'s ``title``,
    which screen readers (and axe-core) take as the picture's name when there is no alt.
    ipywidgets' front end reads the ``description`` of any widget whose tooltip is set, and
    an ``Image`` has none, so its view fails to draw: this widget sends an empty one.
    """

    description = traitlets.Unicode("").tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(format="png", **kwargs)

    def show(self, png: bytes, alt: str) -> None:
        """Show ``png``, described by ``alt`` (required: see :func:`png_to_html`)."""
        if not alt.strip():
            raise ValueError("alt is empty: say what the picture shows (its title, axes and "
                             "the values it is drawn at).")
        self.value = png
        self.tooltip = alt


def describe_figure(figure) -> str:
    """What a figure shows, in words read from it: each panel's title, axes and the series
    its legend names (a picture's text alternative ends with this)."""
    panels = []
    for axes in figure.axes:
        if axes.get_label() == "<colorbar>":
            label = axes.get_ylabel() or axes.get_xlabel()
            panels.append(f"colour scale: {label}" if label else "a colour scale")
            continue
        parts = [axes.get_title() or "a panel"]
        if axes.get_xlabel():
            parts.append(f"x axis: {axes.get_xlabel()}")
        if axes.get_ylabel():
            parts.append(f"y axis: {axes.get_ylabel()}")
        legend = axes.get_legend()
        if legend is not None:
            names = [text.get_text() for text in legend.get_texts()]
            parts.append("series: " + ", ".join(names))
        panels.append("; ".join(parts))
    return ". ".join(f"Panel {n}: {panel}" if len(panels) > 1 else panel
                     for n, panel in enumerate(panels, start=1))


def alt_text(figure, lead: str) -> str:
    """A picture's text alternative: ``lead`` (what the widget shows, at which values)
    followed by :func:`describe_figure`."""
    return f"{lead.rstrip('.')}. {describe_figure(figure)}."


def figure_to_png(figure, **savefig_options) -> bytes:
    """A matplotlib figure as PNG bytes (for an ``ipywidgets.Image`` or an ``<img>`` tag)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", **savefig_options)
    return buffer.getvalue()


def png_to_html(png: bytes, alt: str) -> str:
    """PNG bytes as an inline ``<img>`` tag with text alternative ``alt`` (required: a
    picture without one says nothing to a screen reader)."""
    if not alt.strip():
        raise ValueError("alt is empty: say what the picture shows (its title, axes and "
                         "the values it is drawn at).")
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{encoded}"/>'


def figure_to_html(figure, lead: str) -> str:
    """A matplotlib figure as an inline ``<img>`` tag whose text alternative is
    :func:`alt_text` (``lead``, then the figure's titles, axes and series)."""
    return png_to_html(figure_to_png(figure, bbox_inches="tight"), alt_text(figure, lead))
