"""Where the engine generates: ``auto`` (a GPU when one is present), ``cpu`` or ``cuda[:N]``.

The CPU path is the engine as it always was. A generator runs on a GPU only when it says
it can (``to_device``); none of the shipped ones does yet (their pipelines make tensors on
the CPU, and their sampling draws from a CPU random generator), so ``auto`` stays on the CPU
for them and an explicit ``cuda`` is refused with a clear message instead of failing
mid-job. Half precision belongs to that same future method: only where measured harmless.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d{1,2})?)$")


class DeviceError(ValueError):
    """A device that cannot be used here; the message says why, for the producer."""


def check_device(text: str) -> str:
    """``text`` if it names a device the flag accepts (without importing torch)."""
    if not _DEVICE.match(text):
        raise DeviceError(f"--device must be auto, cpu, cuda or cuda:N, not {text!r}")
    return text


def resolve_device(text: str) -> str:
    """The device ``text`` means on this machine: ``auto`` is the first GPU when torch sees
    one, else the CPU; ``cuda[:N]`` must exist here. Raises DeviceError."""
    import torch

    check_device(text)
    if text == "cpu":
        return "cpu"
    available = torch.cuda.is_available()
    if text == "auto":
        return "cuda:0" if available else "cpu"
    index = int(text.partition(":")[2] or 0)
    count = torch.cuda.device_count() if available else 0
    if index >= count:
        raise DeviceError(f"no CUDA device {index} here (torch sees {count}); use --device "
                          "cpu or auto")
    return f"cuda:{index}"


def place(generator: object, device: str, *, asked: str) -> str:
    """Put ``generator`` on ``device`` and return where it runs. A generator without
    ``to_device`` runs on the CPU: quietly when ``asked`` was auto, else DeviceError."""
    if device == "cpu":
        return "cpu"
    to_device = getattr(generator, "to_device", None)
    if to_device is None:
        if asked == "auto":
            log.warning("a GPU is present, but this model runs on the CPU only: using the CPU")
            return "cpu"
        raise DeviceError(f"this model runs on the CPU only; {device} cannot be used for it "
                          "yet (use --device cpu or auto)")
    to_device(device)
    return device
