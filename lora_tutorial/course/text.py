"""The text data of the language-model track: two corpora that ship with Python, as bytes.

Both were extracted once from CPython 3.11's standard library by
``tools/extract_corpora.py`` and live in ``lora_tutorial/course/corpora/`` (Python Software
Foundation License, text beside them), so nothing is downloaded and the bytes never change:

- ``"docs"``: the English help topics of ``pydoc_data`` (what ``help("if")`` prints). The
  base model is pretrained on its training split.
- ``"code"``: the source code of some standard-library modules: the new domain that the
  notebook adapts the model to. Python code uses the same bytes as English prose, in other
  proportions and patterns (indentation, ``self.``, ``def``, brackets), so a model that only
  read the documentation predicts it much worse.

Each has a ``"train"`` and a ``"validation"`` split, made of different help topics or
different modules. A language model learns from *windows*: ``length + 1`` consecutive bytes,
of which the first ``length`` are the input and the last ``length`` the targets (every
position predicts the byte after it).
"""

from pathlib import Path

import torch

CORPORA_DIR = Path(__file__).parent / "corpora"
"""Where the extracted text files live (inside the installed package)."""

DOMAINS = ("docs", "code")
"""The corpora :func:`load_corpus` knows: ``"docs"`` (pretraining) and ``"code"`` (new domain)."""

SPLITS = ("train", "validation")


def load_corpus(domain: str, split: str = "train") -> torch.Tensor:
    """The bytes of one corpus split as an int64 tensor of token ids 0–255."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {DOMAINS}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    data = (CORPORA_DIR / f"{domain}_{split}.txt").read_bytes()
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).to(torch.int64)


def _check_length(tokens: torch.Tensor, length: int) -> None:
    if tokens.dim() != 1:
        raise ValueError(f"tokens must be one long 1-D sequence, got shape {tuple(tokens.shape)}")
    if not 1 <= length < len(tokens):
        raise ValueError(f"length must be between 1 and len(tokens) - 1 = {len(tokens) - 1}, "
                         f"got {length}")


def random_windows(tokens: torch.Tensor, batch_size: int, length: int,
                   generator: torch.Generator) -> torch.Tensor:
    """``batch_size`` windows of ``length + 1`` bytes at random offsets: ``(batch, length+1)``.

    The offsets come from ``generator``, so the same seed gives the same batch.
    """
    _check_length(tokens, length)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    starts = torch.randint(0, len(tokens) - length, (batch_size,), generator=generator)
    return torch.stack([tokens[s:s + length + 1] for s in starts.tolist()])


def validation_windows(tokens: torch.Tensor, length: int,
                       count: int | None = None) -> torch.Tensor:
    """Fixed windows for measuring a loss: ``(windows, length + 1)``.

    Consecutive windows overlap by one byte, so every byte after the first is a target
    exactly once. ``count`` keeps that many of them, evenly spread over the text (a quicker
    estimate of the same loss); ``None`` keeps them all.
    """
    _check_length(tokens, length)
    total = (len(tokens) - 1) // length
    if count is not None and not 1 <= count <= total:
        raise ValueError(f"count must be between 1 and {total} windows of {length} targets, "
                         f"got {count}")
    picks = range(total) if count is None else torch.linspace(0, total - 1, count).round().long()
    return torch.stack([tokens[int(i) * length:int(i) * length + length + 1] for i in picks])
