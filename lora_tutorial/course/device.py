"""Pick where tensors live: a GPU when there is one, otherwise the CPU.

Every notebook calls :func:`get_device` once and moves its model and data there, so the
same course runs on a laptop CPU, an NVIDIA GPU (CUDA) or an Apple-silicon GPU (MPS).
The notebooks that train call :func:`use_cpu_threads` too.
"""

import os
import re

import torch

DEVICE_ENV = "LORA_TUTORIAL_DEVICE"
"""The environment variable that overrides :func:`get_device`'s choice."""

ACCEPTED_DEVICES = "cpu, cuda, cuda:N (N: the GPU's number, from 0) or mps"
"""The values :data:`DEVICE_ENV` accepts, as the error messages list them."""

_FIX = f"unset {DEVICE_ENV} to let the course choose, or set it to cpu"


class DeviceChoiceError(ValueError):
    """:data:`DEVICE_ENV` asks for a device that is unknown or not usable here.

    ``problem`` says what was asked for and why it cannot be had, ``fix`` what to do; the
    message is both, so a notebook's error line and the environment check say the same.
    """

    def __init__(self, problem: str, fix: str = _FIX):
        super().__init__(f"{problem}; {fix}.")
        self.problem, self.fix = problem, fix


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def get_device() -> torch.device:
    """Return the best available device: CUDA, then MPS, then CPU.

    Set the environment variable ``LORA_TUTORIAL_DEVICE`` (to ``cpu``, ``cuda``, ``cuda:1``
    or ``mps``) to override the choice, e.g. to compare speeds or to reproduce a CPU run on a
    GPU machine; set to an empty string it counts as unset. A value that is not one of these,
    or asks for a GPU this PyTorch cannot use, raises :class:`DeviceChoiceError`, which names
    the variable, its value and the fix.
    """
    forced = os.environ.get(DEVICE_ENV)
    if forced:
        return forced_device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def forced_device(value: str) -> torch.device:
    """The device that ``LORA_TUTORIAL_DEVICE=value`` asks for, if PyTorch can use it here."""
    asked = f"{DEVICE_ENV}={value!r}"
    # A GPU's number as PyTorch parses it: no leading zeros, at most 9 digits.
    if re.fullmatch(r"cpu|mps|cuda(:(0|[1-9][0-9]{0,8}))?", value) is None:
        raise DeviceChoiceError(f"{asked} is not a device the course knows",
                                f"set it to {ACCEPTED_DEVICES}, or unset it to let the course "
                                "choose")
    device = torch.device(value)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            why = ("this PyTorch was built without CUDA" if not torch.backends.cuda.is_built()
                   else "PyTorch finds no usable NVIDIA GPU or driver")
            raise DeviceChoiceError(f"{asked} asks for a CUDA GPU, but {why}")
        if device.index is not None and device.index >= count:
            raise DeviceChoiceError(f"{asked} asks for GPU number {device.index}, but PyTorch "
                                    f"sees {count} GPU(s), numbered from 0",
                                    f"set it to cuda (the first GPU) or cuda:0 to "
                                    f"cuda:{count - 1}, or unset it")
    if device.type == "mps" and not _mps_available():
        raise DeviceChoiceError(f"{asked} asks for Apple's MPS GPU, but this PyTorch cannot "
                                "use one (it needs an Apple-silicon Mac)")
    return device


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
