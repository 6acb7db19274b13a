"""Audio input and output devices, as PortAudio (through sounddevice) sees them.

sounddevice is imported on first use, not with this module: it loads PortAudio and probes
every device, which the host must not pay for at start-up.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

Direction = Literal["input", "output"]


class AudioDeviceError(RuntimeError):
    """No usable audio device, or no PortAudio library at all."""


@dataclass(frozen=True)
class AudioDevice:
    """One device that can record (``input``) or play (``output``)."""

    index: int
    name: str
    host_api: str
    channels: int
    default_sample_rate: float
    is_default: bool


def sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing PortAudio (or a build without sounddevice) into
    an error that says what to do."""
    try:
        return importlib.import_module("sounddevice")
    except ImportError as error:
        raise AudioDeviceError(f"no audio output or input here: {error} (the host extra "
                               "installs sounddevice: ./scripts/setup --host)") from error
    except OSError as error:  # sounddevice raises OSError when libportaudio is absent
        raise AudioDeviceError(
            f"PortAudio is not available ({error}); install it (Debian/Ubuntu: "
            "apt-get install libportaudio2)") from error


def rescan_devices() -> None:
    """Make PortAudio list devices afresh (one plugged in, or a sound server started, since).

    PortAudio takes its device list once, when it is initialised; only restarting it re-reads
    the list. No stream may be open while this runs.
    """
    sd = sounddevice()
    sd._terminate()
    sd._initialize()


def list_devices(direction: Direction = "input") -> list[AudioDevice]:
    """Every device with at least one ``direction`` channel, default device first."""
    sd = sounddevice()
    key = f"max_{direction}_channels"
    default = _default_index(direction)
    host_apis = sd.query_hostapis()
    devices = [
        AudioDevice(index=info["index"], name=info["name"],
                    host_api=host_apis[info["hostapi"]]["name"], channels=info[key],
                    default_sample_rate=info["default_samplerate"],
                    is_default=info["index"] == default)
        for info in sd.query_devices() if info[key] > 0
    ]
    return sorted(devices, key=lambda device: not device.is_default)


def find_device(choice: int | str | None = None, direction: Direction = "input") -> AudioDevice:
    """The device to use: by index, by (part of) its name, or the system default for None.

    A name matches case-insensitively; an exact name wins over a partial one. Raises
    AudioDeviceError naming the devices there are when nothing, or more than one, matches.
    """
    devices = list_devices(direction)
    if not devices:
        raise AudioDeviceError(f"no audio {direction} device found")
    if choice is None:
        matches = [device for device in devices if device.is_default] or devices[:1]
    elif isinstance(choice, int):
        matches = [device for device in devices if device.index == choice]
    else:
        wanted = choice.casefold()
        matches = ([device for device in devices if device.name.casefold() == wanted]
                   or [device for device in devices if wanted in device.name.casefold()])
    if len(matches) != 1:
        problem = "no" if not matches else "more than one"
        names = ", ".join(f"{device.index}: {device.name}" for device in devices)
        raise AudioDeviceError(
            f"{problem} {direction} device matches {choice!r}; there are: {names}")
    return matches[0]


def _default_index(direction: Direction) -> int:
    """Index of the default ``direction`` device (sounddevice's choice, else the host's)."""
    sd = sounddevice()
    try:
        return int(sd.query_devices(kind=direction)["index"])
    except sd.PortAudioError:  # no default device at all
        return -1
