"""The adapter explorer of notebook 6 (lora_tutorial.course.widgets.adapters)."""

import pytest
import torch
from toy_models import save_task_adapters

from lora_tutorial.course.data import load_task
from lora_tutorial.course.models import load_pretrained
from lora_tutorial.course.widgets.adapters import NO_ADAPTER, AdapterExplorer, adapter_probabilities


@pytest.fixture(scope="module")
def adapter_dirs(tmp_path_factory):
    """Two saved adapters with different (random, untrained) B, for two tasks."""
    return save_task_adapters(tmp_path_factory.mktemp("adapters"))


@pytest.fixture(scope="module")
def tasks():
    return {name: load_task(name) for name in ("digits", "rotated", "inverted")}


def test_adapter_probabilities_differ_per_adapter_and_none_is_the_base(adapter_dirs, tasks):
    probs = adapter_probabilities(adapter_dirs, tasks, device="cpu")
    assert set(probs) == {(a, t) for a in (NO_ADAPTER, "rotated", "inverted") for t in tasks}
    assert probs["rotated", "digits"].shape == (len(tasks["digits"].y_test), 10)
    assert not torch.allclose(probs["rotated", "digits"], probs["inverted", "digits"])
    with torch.no_grad():
        base = load_pretrained(device="cpu")(tasks["digits"].x_test).softmax(-1)
    assert torch.equal(probs[NO_ADAPTER, "digits"], base)
    with pytest.raises(ValueError, match="empty"):
        adapter_probabilities({}, tasks)


def test_adapter_explorer_reacts_to_every_control(adapter_dirs, tasks):
    explorer = AdapterExplorer(adapter_dirs, tasks, adapter="rotated", device="cpu")
    assert explorer.images.value == "rotated"      # defaults to the adapter's own task
    assert "'rotated' adapter on the rotated test images" in explorer.label.value
    for control, value in ((explorer.index, 7), (explorer.adapter, NO_ADAPTER),
                           (explorer.images, "digits")):
        image, label = explorer.image.value, explorer.label.value
        control.value = value
        assert explorer.image.value != image
        if control is not explorer.index:
            assert explorer.label.value != label
    base_accuracy = explorer.accuracy(NO_ADAPTER, "digits")
    assert f"{100 * base_accuracy:.1f}%" in explorer.label.value
    assert "base model (adapter off)" in explorer.label.value
    assert base_accuracy > 0.9


def test_adapter_explorer_rejects_unknown_choices(adapter_dirs, tasks):
    with pytest.raises(ValueError, match="adapter="):
        AdapterExplorer(adapter_dirs, tasks, adapter="mirrored", device="cpu")
    with pytest.raises(ValueError, match="images="):
        AdapterExplorer(adapter_dirs, tasks, images="mirrored", device="cpu")
