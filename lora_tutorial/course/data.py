"""The data: scikit-learn's bundled 8×8 handwritten digits, and tasks made from them.

``sklearn.datasets.load_digits`` ships with scikit-learn (1,797 real handwritten digits,
8×8 pixels, values 0–16), so nothing is downloaded. We scale pixels to [0, 1], give them a
channel axis, and split them once, with a fixed seed, into 1,347 training and 450 test
images. Every task uses that same split.

The base model is pretrained on the plain ``"digits"`` task. The other tasks transform the
images so the pretrained model does badly on them, which is what makes fine-tuning (full or
LoRA) worth doing; the labels stay the digits 0–9, so the classification head still fits.
"""

from dataclasses import dataclass

import torch
from sklearn.datasets import load_digits

TASKS = ("digits", "rotated", "inverted")
"""The task names :func:`load_task` accepts. ``"digits"`` is the pretraining task."""

TEST_SIZE = 450


@dataclass
class TaskData:
    """Train and test tensors of one task.

    Images are float32 in [0, 1] with shape ``(N, 1, 8, 8)`` (batch, channel, height,
    width, the layout PyTorch vision models expect); labels are int64 class ids 0–9.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def split_indices(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle ``range(n)`` with a seeded generator; the first 450 are test, the rest train.

    The two index sets are disjoint and together cover every image exactly once.
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[TEST_SIZE:], order[:TEST_SIZE]


def load_digits_split(seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Return ``x_train, y_train, x_test, y_test`` of the plain digits, split by ``seed``.

    Images come out as float32 ``(N, 1, 8, 8)`` in [0, 1] (scikit-learn's 0–16 divided by
    16), labels as int64. The same seed always gives the same split: 1,347 training and
    450 test images.
    """
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.int64)
    train, test = split_indices(len(labels), seed)
    return images[train], labels[train], images[test], labels[test]


def identity(images: torch.Tensor) -> torch.Tensor:
    """Leave the images as they are (the pretraining task)."""
    return images


def rotate(images: torch.Tensor) -> torch.Tensor:
    """Rotate each image by 90° counter-clockwise."""
    return torch.rot90(images, k=1, dims=(-2, -1))


def invert(images: torch.Tensor) -> torch.Tensor:
    """Swap ink and paper (``1 − x``): the strokes become 0 and the background becomes 1."""
    return 1.0 - images


TRANSFORMS = {"digits": identity, "rotated": rotate, "inverted": invert}
"""Each task's image transform, by task name."""


def load_task(name: str = "digits", seed: int = 0) -> TaskData:
    """Load one task, on the same train/test split as every other task.

    - ``"digits"``: the plain handwritten digits; the base model is pretrained on these.
    - ``"rotated"``: the same digits rotated by 90°. Strokes now run the other way and
      sit in other patches, so the pretrained features no longer match.
    - ``"inverted"``: the same digits with ink and paper swapped (``1 − x``). The shapes
      sit where they always did, but every patch now looks unlike anything seen in
      pretraining.
    """
    if name not in TRANSFORMS:
        raise ValueError(f"unknown task {name!r}; choose one of {TASKS}")
    x_train, y_train, x_test, y_test = load_digits_split(seed)
    transform = TRANSFORMS[name]
    return TaskData(name, transform(x_train), y_train, transform(x_test), y_test)
