"""Every learner can use the course's widgets: text alternatives for every picture, a
colour-blind-safe palette that also reads in greyscale, and no line series told apart by
colour alone (common/display.py; the browser side is tests/browser/test_browser_accessibility.py).

Each widget in ``lora_tutorial/course/widgets`` is displayed the way a notebook displays it,
with small inputs; the test captures the displayed bundle (live widget + static copy) and
every figure the widget drew (by recording ``Figure.savefig``).
"""

from __future__ import annotations

import html.parser
import itertools
import pkgutil

import ipywidgets as widgets
import pytest
import torch
from matplotlib.colors import to_rgb
from ipywidgets.widgets.widget import _instances  # every live widget by model id
from matplotlib.figure import Figure

import lora_tutorial.common.display as display_module
import lora_tutorial.course.widgets as widgets_package
from lora_tutorial.common.display import (COURSE_CLASS, COURSE_COLORS, COURSE_STYLE, Picture,
                                          alt_text, png_to_html)
from lora_tutorial.quiz import QuizWidget, load_quiz

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


# --- displaying each widget as a notebook does ---------------------------------------------

def _adapters(tmp_path):
    from toy_models import save_task_adapters

    from lora_tutorial.course.data import load_task
    from lora_tutorial.course.widgets.adapters import adapter_explorer

    dirs = save_task_adapters(tmp_path)
    tasks = {name: load_task(name) for name in ("digits", "rotated", "inverted")}
    adapter_explorer(dirs, tasks, adapter="rotated", index=3)
    return ["rotated test image #3", "true label", "predicts"]


def _counting(tmp_path):
    from lora_tutorial.course.widgets.counting import lora_calculator
    lora_calculator(r=16)
    return ["r = 16", "GPT-2 small"]


def _finetune(tmp_path):
    from lora_tutorial.course.widgets.finetune import RunResult, finetune_explorer
    losses = [2.0 * 0.97 ** step for step in range(40)]
    results = {("q_proj, v_proj", 4): RunResult(losses, 0.91, 768, 10_000),
               ("q_proj, v_proj", 8): RunResult(losses[::-1], 0.93, 1_536, 10_000)}
    references = {"full fine-tuning": RunResult(losses, 0.97, 10_000, 10_000),
                  "head only": RunResult(losses, 0.80, 650, 10_000)}
    finetune_explorer(results, references, targets="q_proj, v_proj", r=4)
    return ["q_proj, v_proj", "r = 4", "91.0%"]


def _lora_layer(tmp_path):
    from lora_tutorial.course.widgets.lora_layer import lora_layer_explorer
    lora_layer_explorer(r=6, alpha=12)
    return ["r = 6", "alpha = 12", "48×64"]


def _memory(tmp_path):
    from lora_tutorial.course.widgets.memory import memory_explorer
    memory_explorer(r=16)
    return ["LLaMA-2-7B", "full fine-tuning", "Adam state"]


def _peft_config(tmp_path):
    from lora_tutorial.course.widgets.peft_config import peft_config_explorer
    peft_config_explorer(r=4)
    return []  # text only: no picture


def _rank(tmp_path):
    from lora_tutorial.course.widgets.rank import rank_explorer
    rank_explorer(torch.linspace(0, 1, 24 * 30).reshape(24, 30).sin(), r=3)
    return ["24×30", "top 3 singular components"]


def _serving(tmp_path):
    from lora_tutorial.course.widgets.serving import METHODS, ServingRun, serving_explorer
    seconds = {"base": 0.5, **{method: 0.6 + n / 10 for n, method in enumerate(METHODS)}}
    serving_explorer([ServingRun(4, "uniform", seconds, 1_000)], 2_048, 3_707_392)
    return ["4 adapters", "uniform mix", "base, " + ", ".join(METHODS)]


def _variants(tmp_path):
    from lora_tutorial.course.widgets.variants import quantization_explorer
    weight = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    quantization_explorer(weight, bits=3, block_size=64, name="q_proj")
    return ["q_proj at 3 bits in blocks of 64", "relative error"]


# module name -> a function that displays its widget and returns phrases its pictures'
# text alternative must contain (the starting values).
DISPLAYS = {"adapters": _adapters, "counting": _counting, "finetune": _finetune,
            "lora_layer": _lora_layer, "memory": _memory, "peft_config": _peft_config,
            "rank": _rank, "serving": _serving, "variants": _variants}


class Shown:
    """What one widget displayed: the bundle, the live widget and the figures drawn."""

    def __init__(self, bundle, figures, phrases):
        self.bundle, self.figures, self.phrases = bundle, figures, phrases
        self.static_html = bundle["text/html"]
        self.widget = _instances[bundle[WIDGET_VIEW]["model_id"]]

    def live_images(self) -> list[widgets.Image]:
        found, todo = [], [self.widget]
        while todo:
            widget = todo.pop()
            if isinstance(widget, widgets.Image):
                found.append(widget)
            todo.extend(getattr(widget, "children", ()))
        return found


@pytest.fixture(params=sorted(DISPLAYS))
def shown(request, monkeypatch, tmp_path) -> Shown:
    bundles, figures = [], []
    monkeypatch.setattr(display_module, "display", lambda obj, raw=False: bundles.append(obj))
    savefig = Figure.savefig

    def recording_savefig(self, *args, **kwargs):
        figures.append(self)
        return savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording_savefig)
    phrases = DISPLAYS[request.param](tmp_path)
    (bundle,) = bundles
    return Shown(bundle, figures, phrases)


class _Images(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.classes: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        self.classes.append(attrs.get("class") or "")


def parse(fragment: str) -> _Images:
    parser = _Images()
    parser.feed(fragment)
    return parser


def test_every_widget_module_is_checked():
    modules = {info.name for info in pkgutil.iter_modules(widgets_package.__path__)}
    assert modules == set(DISPLAYS), "add the new widget to DISPLAYS"


# --- text alternatives ------------------------------------------------------------------------

def test_every_static_picture_says_what_it_shows(shown):
    images = parse(shown.static_html).images
    if not shown.phrases:  # a text-only widget
        assert images == [] and shown.live_images() == []
        return
    assert images, "the static copy has no picture"
    figure = shown.figures[-1]  # the starting view: the last figure drawn
    for image in images:
        alt = image.get("alt", "")
        assert alt.strip(), "a static picture without a text alternative"
        for axes in figure.axes:
            for text in (axes.get_title(), axes.get_xlabel(), axes.get_ylabel()):
                assert text in alt, f"{text!r} (the figure's title or axis) not in alt {alt!r}"
        for phrase in shown.phrases:
            assert phrase in alt, f"the starting value {phrase!r} not in alt {alt!r}"


def test_every_live_picture_has_the_same_text_alternative(shown):
    static_alts = [image["alt"] for image in parse(shown.static_html).images]
    for image in shown.live_images():
        # A plain ipywidgets Image with a tooltip fails to draw in JupyterLab (its front end
        # reads a description an Image lacks): the course's Picture sends one.
        assert isinstance(image, Picture) and image.description == ""
        assert image.tooltip and image.tooltip in static_alts, (
            "the live picture's text alternative (its tooltip, the <img> title) is missing "
            "or differs from the static copy's at the same starting values")


def test_widget_and_static_copy_carry_the_course_class(shown):
    assert COURSE_CLASS in shown.widget._dom_classes
    assert parse(shown.static_html).classes[0] == COURSE_CLASS


def test_alt_text_is_escaped_and_required():
    tag = png_to_html(b"png", 'a "quoted" <title>')
    assert 'alt="a &quot;quoted&quot; &lt;title&gt;"' in tag
    with pytest.raises(ValueError, match="say what the picture shows"):
        png_to_html(b"png", "  ")
    picture = Picture()
    with pytest.raises(ValueError, match="say what the picture shows"):
        picture.show(b"png", "")
    assert picture.value == b"" and picture.tooltip is None  # refused: nothing changed


def test_alt_text_reads_titles_axes_and_legend():
    figure = Figure()
    left, right = figure.subplots(1, 2)
    left.plot([0, 1], label="LoRA")
    left.legend()
    left.set(title="loss", xlabel="step", ylabel="nats")
    right.set_title("accuracy")
    assert alt_text(figure, "At r = 8.") == ("At r = 8. Panel 1: loss; x axis: step; y axis: "
                                             "nats; series: LoRA. Panel 2: accuracy.")


def test_the_quiz_static_copy_is_text_only_and_its_controls_are_named():
    quiz = QuizWidget(load_quiz("final"), record=False)
    assert parse(quiz.static_html()).images == []  # nothing to describe: it is all text
    for question in quiz.questions:
        for button in (question.hint_button, question.check_button, question.retry_button):
            assert button.description.strip()
        if question.choice is not None:
            assert all(label.strip() for label, _ in question.choice.options)
        for box in question.checkboxes:
            assert box.description.strip()
        if question.number is not None:
            assert question.number.placeholder.strip() or question.number.description.strip()


# --- colours that every learner tells apart -------------------------------------------------

def lightness(colour: str) -> float:
    """CIE L* (0 black … 100 white): what is left of a colour in greyscale."""
    def linear(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in to_rgb(colour))
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 116 * y ** (1 / 3) - 16 if y > 216 / 24389 else 24389 / 27 * y


def test_the_palette_differs_in_greyscale():
    for (a, x), (b, y) in itertools.combinations(COURSE_COLORS.items(), 2):
        assert abs(lightness(x) - lightness(y)) >= 10, f"{a} and {b} look alike in greyscale"


def test_the_style_cycle_never_tells_series_by_colour_alone():
    cycle = list(COURSE_STYLE["axes.prop_cycle"])
    looks = [(entry["linestyle"], entry["marker"]) for entry in cycle]
    assert len(set(looks)) == len(looks)
    assert set(entry["color"] for entry in cycle) <= set(COURSE_COLORS.values())


def _look(artist) -> tuple:
    return (artist.get_linestyle(), artist.get_marker())


def test_every_line_series_differs_by_style_or_marker(shown):
    for figure in shown.figures:
        for axes in figure.axes:
            series = [line for line in axes.get_lines() if not line.get_label().startswith("_")]
            looks = [_look(line) for line in series]
            assert len(set(looks)) == len(looks), (
                f"{axes.get_title()!r}: series {[l.get_label() for l in series]} are told apart "
                f"by colour alone: {looks}")
            legend = axes.get_legend()
            patches = [h for h in (legend.legend_handles if legend else [])
                       if not hasattr(h, "get_marker")]
            hatches = [patch.get_hatch() or "" for patch in patches]
            assert len(set(hatches)) == len(hatches), (
                f"{axes.get_title()!r}: bars in the legend differ by colour alone")


def test_a_notebook_can_switch_the_course_style_on_for_its_own_plots():
    import matplotlib

    with matplotlib.rc_context():  # restores the rcParams afterwards
        display_module.use_course_style()
        axes = Figure().subplots()
        first, second = axes.plot([0, 1]), axes.plot([1, 0])
        assert first[0].get_color() == COURSE_COLORS["blue"]
        assert _look(first[0]) != _look(second[0])
    assert matplotlib.rcParams["axes.prop_cycle"] != COURSE_STYLE["axes.prop_cycle"]
