"""What a notebook should show in JupyterLab, read from the notebook file itself.

Nothing here is a per-notebook list: a notebook added later is checked by the same rules.

* **Quizzes**: every code cell that calls ``quiz.show("name", ids=[...])`` (found by
  parsing the cell's source) must render the questions of that quiz, loaded from the bank
  with :func:`lora_tutorial.quiz.load_quiz` exactly as the notebook does. The options'
  order and labels come from the engine too (``question.options`` is the display order
  derived from each id; :func:`label_text` is the widget's label), never from the YAML.
* **Widgets**: every cell whose stored output is a widget view must render a live widget
  (not the static HTML fallback), except ``tqdm`` progress bars (recognised by their
  stored text, e.g. ``train: 0%| | 0/200 [00:00<?, ?it/s]``): those may close themselves
  when done (``leave=False``), so they must appear while the notebook runs. Sliders and
  progress bars are expected when the notebook stores such bars or its saved widget state
  holds slider / progress models (for a notebook saved without widget state, as the
  course's are: when its source builds sliders, explorers or ``tqdm`` bars).
* **Plots**: every stored ``image/png`` output must come back as a picture; a notebook
  saved without outputs falls back to cells whose source draws with matplotlib.
* **stderr**: a cell may write to stderr only where its stored output does.
"""

from __future__ import annotations

import ast
import html
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PLOT_SOURCE = re.compile(r"\b(plt|pyplot)\.(subplots|figure|plot|imshow|bar|barh|hist|scatter"
                         r"|semilogy|loglog)\(|\.savefig\(")
SLIDER_SOURCE = re.compile(r"Slider\(|_explorer\(|_calculator\(|\binteract\(")
PROGRESS_SOURCE = re.compile(r"\btqdm\b")
TQDM_TEXT = re.compile(r"\|\s*[\d.]+[kMG]?/[\d.?]+[kMG]?\s*\[")  # "| 0/200 [00:00<?, ?it/s]"


@dataclass
class QuizCall:
    """One ``quiz.show(...)`` call: the quiz as it is displayed (``None`` if unreadable)."""

    cell: int
    name: str | None
    ids: list[str] | None
    quiz: object | None = None  # lora_tutorial.quiz.Quiz


@dataclass
class NotebookExpectations:
    path: Path
    n_cells: int
    code_cells: list[int]
    nonempty_code_cells: list[int]
    quiz_calls: list[QuizCall] = field(default_factory=list)
    widget_cells: list[int] = field(default_factory=list)  # live widgets at the end
    progress_cells: list[int] = field(default_factory=list)  # tqdm bars, maybe transient
    image_cells: dict[int, int] = field(default_factory=dict)  # cell -> pictures expected
    stderr_cells: set[int] = field(default_factory=set)
    expects_slider: bool = False
    expects_progress: bool = False

    @property
    def quiz_cells(self) -> set[int]:
        return {call.cell for call in self.quiz_calls}

    @property
    def exploration_cells(self) -> list[int]:
        """Widget cells that are not quizzes: where the explorations live."""
        return [i for i in self.widget_cells if i not in self.quiz_cells]


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def python_source(source: str) -> str:
    """Cell source with IPython syntax (magics, ``!cmd``) turned into plain Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(source)
    except Exception:
        return "\n".join(line for line in source.splitlines()
                         if not line.lstrip().startswith(("%", "!")))


def _is_quiz_show(func: ast.expr, show_names: set[str]) -> bool:
    if isinstance(func, ast.Attribute) and func.attr == "show":
        value = func.value
        name = value.attr if isinstance(value, ast.Attribute) else getattr(value, "id", "")
        return name == "quiz"
    return isinstance(func, ast.Name) and func.id in show_names


def find_quiz_calls(source: str, cell: int, show_names: set[str]) -> list[QuizCall]:
    """``quiz.show("name", ids=[...])`` calls in one cell (``show`` imported names too)."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return [QuizCall(cell, None, None)] if "quiz.show(" in source else []
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("quiz"):
            show_names.update(a.asname or a.name for a in node.names if a.name == "show")
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _is_quiz_show(node.func, show_names)):
            continue
        name = ids = None
        try:
            if node.args:
                name = ast.literal_eval(node.args[0])
            for keyword in node.keywords:
                if keyword.arg == "name_or_path":
                    name = ast.literal_eval(keyword.value)
                elif keyword.arg == "ids":
                    ids = ast.literal_eval(keyword.value)
        except ValueError:  # not a literal: the quiz is still expected, its content unknown
            name = ids = None
        calls.append(QuizCall(cell, name if isinstance(name, str) else None,
                              list(ids) if ids is not None else None))
    return sorted(calls, key=lambda call: call.cell)


def read_expectations(path: Path) -> NotebookExpectations:
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = notebook.get("cells", [])
    code = [i for i, c in enumerate(cells) if c.get("cell_type") == "code"]
    expect = NotebookExpectations(
        path=Path(path), n_cells=len(cells), code_cells=code,
        nonempty_code_cells=[i for i in code if cell_source(cells[i]).strip()])
    has_outputs = any(cells[i].get("outputs") for i in code)
    show_names: set[str] = set()
    sources = {i: cell_source(cells[i]) for i in code}
    for i in code:
        expect.quiz_calls += find_quiz_calls(sources[i], i, show_names)
        outputs = cells[i].get("outputs", [])
        views = [o["data"] for o in outputs if WIDGET_VIEW in o.get("data", {})]
        bars = [view for view in views if TQDM_TEXT.search(_plain(view))]
        if bars:
            expect.progress_cells.append(i)
        if len(views) > len(bars):
            expect.widget_cells.append(i)
        pictures = sum("image/png" in o.get("data", {}) or "image/jpeg" in o.get("data", {})
                       for o in outputs)
        if not has_outputs and PLOT_SOURCE.search(sources[i]):
            pictures = 1
        if pictures:
            expect.image_cells[i] = pictures
        if any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in outputs):
            expect.stderr_cells.add(i)
    for call in expect.quiz_calls:  # a quiz cell saved without outputs is a widget cell too
        if call.cell not in expect.widget_cells:
            expect.widget_cells.append(call.cell)
    expect.widget_cells.sort()

    state = notebook.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {})
    models = {m.get("model_name", "") for m in state.get("state", {}).values()}
    if models:
        expect.expects_slider = any(name.endswith("SliderModel") for name in models)
        expect.expects_progress = any(name.endswith("ProgressModel") for name in models)
    else:
        everything = "\n".join(sources.values())
        expect.expects_slider = bool(SLIDER_SOURCE.search(everything))
        expect.expects_progress = bool(PROGRESS_SOURCE.search(everything))
    expect.expects_progress = expect.expects_progress or bool(expect.progress_cells)

    if expect.quiz_calls:
        from lora_tutorial.quiz import load_quiz  # installed in the test environment
        for call in expect.quiz_calls:
            if call.name is not None:
                call.quiz = load_quiz(call.name, ids=call.ids)
    return expect


def _plain(data: dict) -> str:
    text = data.get("text/plain", "")
    return "".join(text) if isinstance(text, list) else str(text)


# -- the text a learner should read ------------------------------------------------------

class _TextOf(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def html_text(fragment: str) -> str:
    parser = _TextOf()
    parser.feed(fragment)
    return html.unescape("".join(parser.parts))


def squash(text: str) -> str:
    """Text without any whitespace: how rendered and expected text are compared."""
    return re.sub(r"\s+", "", text)


def markdown_text(markdown: str) -> str:
    """What a learner reads once a Markdown string from the bank is rendered."""
    from lora_tutorial.quiz.render import markdown_to_html
    return html_text(markdown_to_html(markdown))


def label_text(index: int, option_text: str) -> str:
    """The label of the radio button / checkbox at display position ``index``, as the
    engine writes it: its letter and plain text (widgets show no Markdown), "B. r is small"."""
    from lora_tutorial.quiz.render import option_label
    return option_label(index, option_text)
