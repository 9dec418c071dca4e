"""Show an interactive widget that still reads well where no kernel runs.

A widget lives in the kernel: GitHub, nbviewer or an HTML export of a notebook shows only a
placeholder for it. :func:`show_widget` displays the widget *and*, in the same output, a
static HTML version (for example the plot at the widget's starting values). JupyterLab
draws the live widget; a viewer without widget support falls back to the HTML.
"""

import base64
import io

from IPython.display import display


def show_widget(widget, static_html: str) -> None:
    """Display ``widget`` with ``static_html`` as its kernel-free fallback."""
    bundle = widget._repr_mimebundle_()
    bundle["text/html"] = static_html
    display(bundle, raw=True)


def figure_to_png(figure, **savefig_options) -> bytes:
    """A matplotlib figure as PNG bytes (for an ``ipywidgets.Image`` or an ``<img>`` tag)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", **savefig_options)
    return buffer.getvalue()


def png_to_html(png: bytes, alt: str) -> str:
    """PNG bytes as an inline ``<img>`` tag, for static fallbacks."""
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{alt}" src="data:image/png;base64,{encoded}"/>'


def figure_to_html(figure, alt: str) -> str:
    """A matplotlib figure as an inline ``<img>`` tag, for static fallbacks."""
    return png_to_html(figure_to_png(figure, bbox_inches="tight"), alt)
