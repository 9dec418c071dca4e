"""Pick where tensors live: a GPU when there is one, otherwise the CPU.

Every notebook calls :func:`get_device` once and moves its model and data there, so the
same course runs on a laptop CPU, an NVIDIA GPU (CUDA) or an Apple-silicon GPU (MPS).
"""

import os

import torch


def get_device() -> torch.device:
    """Return the best available device: CUDA, then MPS, then CPU.

    Set the environment variable ``LORA_TUTORIAL_DEVICE`` (for example to ``cpu``) to
    override the choice, e.g. to compare speeds or to reproduce a CPU run on a GPU machine.
    """
    forced = os.environ.get("LORA_TUTORIAL_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
