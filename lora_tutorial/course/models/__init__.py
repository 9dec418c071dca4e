"""The course's pretrained base models, one per file, loaded the way one loads a hub model.

- :mod:`~lora_tutorial.course.models.vit`: a tiny vision transformer for 8×8 digits (notebooks 1–7);
- :mod:`~lora_tutorial.course.models.gpt`: a tiny decoder-only language model over bytes, named like
  LLaMA (``q_proj`` … ``down_proj``), pretrained on Python's documentation (notebook 8).
- :mod:`~lora_tutorial.course.models.hub`: what both share, saving and loading a model as a
  safetensors file plus a JSON config, and :data:`WEIGHTS_DIR`, where the shipped files live;
- :mod:`~lora_tutorial.course.models.attention`: the one multi-head attention all of them use;
- :mod:`~lora_tutorial.course.models.toy`: a toy transformer of a few hundred parameters for
  the exercise checkers and the tests.

``from lora_tutorial.course.models import load_pretrained`` still gives the digits model, as it did
when this package was a single file.
"""

from .hub import WEIGHTS_DIR
from .gpt import (
    GPT_MODEL_NAME,
    TinyGPT,
    TinyGPTConfig,
    decode,
    encode,
    generate,
    load_pretrained_gpt,
    load_pretrained_gpt_info,
    save_pretrained_gpt,
)
from .vit import (
    MLP,
    MODEL_NAME,
    Attention,
    Block,
    TinyViT,
    TinyViTConfig,
    load_pretrained,
    load_pretrained_info,
    save_pretrained,
)

__all__ = [
    "MLP", "Attention", "Block", "GPT_MODEL_NAME", "MODEL_NAME", "WEIGHTS_DIR", "TinyGPT", "TinyGPTConfig", "TinyViT",
    "TinyViTConfig", "decode", "encode", "generate", "load_pretrained", "load_pretrained_gpt",
    "load_pretrained_gpt_info", "load_pretrained_info", "save_pretrained", "save_pretrained_gpt",
]
