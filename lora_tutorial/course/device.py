"""Pick where tensors live: a GPU when there is one, otherwise the CPU.

Every notebook calls :func:`get_device` once and moves its model and data there, so the
same course runs on a laptop CPU, an NVIDIA GPU (CUDA) or an Apple-silicon GPU (MPS).
The notebooks that train call :func:`use_cpu_threads` too.
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


def use_cpu_threads(default: int = 1) -> int:
    """Set how many CPU threads PyTorch uses, and return that number.

    The course's tensors are tiny: splitting such small products over several threads costs
    more in start-up and waiting than it saves, especially when other programs share a
    laptop's cores, so one thread is the default. ``OMP_NUM_THREADS``, when set, wins, so a
    notebook can be rerun under another thread count: the tests' portability pass uses two,
    because a different split of a sum can change the last bits of a result.
    """
    value = os.environ.get("OMP_NUM_THREADS", str(default))
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValueError(f"OMP_NUM_THREADS must be a positive whole number, got {value!r}; "
                         "unset it to use one thread.")
    torch.set_num_threads(threads)
    return threads
