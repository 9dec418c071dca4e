"""One base model, several task adapters: pick an adapter and a test image, see the prediction.

The explorer loads each saved adapter onto *one* copy of the pretrained model, in turn, and
records the predicted class probabilities of every test image of every task (a few
thousand small forward passes, done once). Moving the controls then only looks the
answers up, so the widget reacts at once and the adapter files may be deleted afterwards.

In a notebook: ``adapter_explorer({"rotated": dir1, "inverted": dir2})``; in code and tests:
``AdapterExplorer``, whose controls can be set from Python.
"""

from pathlib import Path

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from ...core.adapters import load_adapter
from ..data import TASKS, TaskData, load_task
from ...common.display import (COURSE_COLORS, HATCHES, REFERENCE_GREY, Picture, alt_text,
                               course_style, figure_to_html, figure_to_png, show_widget)
from ...core.inject import disable_lora
from ..models import load_pretrained
from ..training import model_device

NO_ADAPTER = "none"
"""The adapter choice that switches LoRA off (the base model's behaviour)."""


@torch.no_grad()
def adapter_probabilities(adapter_dirs: dict[str, str | Path], tasks: dict[str, TaskData],
                          device: str | torch.device | None = None
                          ) -> dict[tuple[str, str], torch.Tensor]:
    """Class probabilities ``{(adapter, task): (n_test, 10) tensor}`` on each task's test set.

    Every adapter is swapped onto the same base model with :func:`load_adapter`;
    ``"none"`` is that model with LoRA disabled, i.e. the pretrained model.
    """
    if not adapter_dirs:
        raise ValueError("adapter_dirs is empty: pass {name: directory} of saved adapters.")
    model = load_pretrained(device)
    device = model_device(model)
    probabilities = {}
    for adapter, directory in adapter_dirs.items():
        load_adapter(model, directory)   # the first call injects, later calls swap A and B
        for task, data in tasks.items():
            probabilities[adapter, task] = model(data.x_test.to(device)).softmax(-1).cpu()
    with disable_lora(model):
        for task, data in tasks.items():
            probabilities[NO_ADAPTER, task] = model(data.x_test.to(device)).softmax(-1).cpu()
    return probabilities


class AdapterExplorer:
    """Choose an adapter (or none), a task's test images and an image; see the prediction.

    Attributes: ``adapter`` and ``images`` (toggle buttons), ``index`` (a slider over the
    test images), ``label`` (HTML: the adapter's accuracy on those images), ``image`` (the
    picture and the probability bars as PNG), ``figure`` (the last matplotlib figure) and
    ``widget`` (everything in one box).
    """

    def __init__(self, adapter_dirs: dict[str, str | Path],
                 tasks: dict[str, TaskData] | None = None, adapter: str | None = None,
                 images: str | None = None, index: int = 0,
                 device: str | torch.device | None = None):
        self.tasks = tasks or {name: load_task(name) for name in TASKS}
        self.probabilities = adapter_probabilities(adapter_dirs, self.tasks, device)
        adapters = [NO_ADAPTER, *adapter_dirs]
        adapter = adapter or list(adapter_dirs)[0]
        images = images or (adapter if adapter in self.tasks else list(self.tasks)[0])
        if adapter not in adapters:
            raise ValueError(f"adapter={adapter!r}; choose one of {adapters}.")
        if images not in self.tasks:
            raise ValueError(f"images={images!r}; choose one of {list(self.tasks)}.")
        n_test = min(len(data.y_test) for data in self.tasks.values())
        self.adapter = widgets.ToggleButtons(options=adapters, value=adapter,
                                             description="adapter")
        self.images = widgets.ToggleButtons(options=list(self.tasks), value=images,
                                            description="images")
        self.index = widgets.IntSlider(value=index, min=0, max=n_test - 1,
                                       description="test image", continuous_update=False)
        self.label = widgets.HTML()
        self.image = Picture()
        for control in (self.adapter, self.images, self.index):
            control.observe(lambda change: self.update(), names="value")
        self.widget = widgets.VBox([self.adapter, self.images, self.index, self.label,
                                    self.image])
        self.update()

    def accuracy(self, adapter: str, task: str) -> float:
        """Fraction of ``task``'s test images that ``adapter`` classifies correctly."""
        predicted = self.probabilities[adapter, task].argmax(-1)
        return (predicted == self.tasks[task].y_test.cpu()).float().mean().item()

    def update(self) -> None:
        adapter, task, i = self.adapter.value, self.images.value, self.index.value
        n = len(self.tasks[task].y_test)
        who = "the base model (adapter off)" if adapter == NO_ADAPTER else \
            f"the {adapter!r} adapter"
        self.label.value = (f"<p>{who} on the {task} test images: accuracy "
                            f"{100 * self.accuracy(adapter, task):.1f}% ({n} images)</p>")
        self.figure = self.draw(adapter, task, i)
        self.image.show(figure_to_png(self.figure), alt_text(self.figure, self.alt_lead()))

    def alt_lead(self) -> str:
        """What the picture shows, for its text alternative."""
        adapter, task, i = self.adapter.value, self.images.value, self.index.value
        probs = self.probabilities[adapter, task][i]
        truth, predicted = int(self.tasks[task].y_test[i]), int(probs.argmax())
        return (f"{task} test image #{i} (true label {truth}) and the probabilities that "
                f"adapter {adapter!r} gives each digit class: it predicts {predicted} "
                f"({100 * probs[predicted]:.0f}%)")

    @course_style()
    def draw(self, adapter: str, task: str, i: int) -> Figure:
        data = self.tasks[task]
        probs = self.probabilities[adapter, task][i]
        truth, predicted = int(data.y_test[i]), int(probs.argmax())
        figure = Figure(figsize=(7.5, 2.8))
        picture, bars = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2.2]})
        picture.imshow(data.x_test[i, 0].cpu().numpy(), cmap="gray_r", vmin=0, vmax=1)
        picture.set_title(f"{task} #{i}, true label {truth}", fontsize=10)
        picture.set_xlabel("column (pixel)")
        picture.set_ylabel("row (pixel)")
        # Told apart by colour *and* pattern: the true label solid blue, a wrong prediction
        # hatched orange, the rest grey.
        colours = [COURSE_COLORS["blue"] if c == truth else
                   (COURSE_COLORS["orange"] if c == predicted else REFERENCE_GREY)
                   for c in range(10)]
        hatches = [HATCHES[1] if c == predicted != truth else "" for c in range(10)]
        bars.bar(range(10), probs.numpy(), color=colours, hatch=hatches, edgecolor="black",
                 linewidth=0.5)
        bars.set_xticks(range(10))
        bars.set_ylim(0, 1)
        verdict = "right" if predicted == truth else "wrong"
        bars.set_title(f"adapter {adapter!r}: predicts {predicted} "
                       f"({100 * probs[predicted]:.0f}%), {verdict}", fontsize=10)
        bars.set_xlabel("digit class (solid blue: true label; hatched orange: a wrong "
                        "prediction)")
        bars.set_ylabel("probability")
        figure.tight_layout()
        return figure


def adapter_explorer(adapter_dirs: dict[str, str | Path], tasks: dict[str, TaskData] | None = None,
                     adapter: str | None = None, images: str | None = None,
                     index: int = 0) -> None:
    """Display the adapter explorer, with a static view for readers without a kernel."""
    explorer = AdapterExplorer(adapter_dirs, tasks, adapter, images, index)
    static = (explorer.label.value +
              figure_to_html(explorer.figure, explorer.alt_lead()) +
              f"<p><em>A static view (adapter {explorer.adapter.value!r}, "
              f"{explorer.images.value} image #{explorer.index.value}): run the notebook to "
              "switch adapters and move the slider.</em></p>")
    show_widget(explorer.widget, static)
